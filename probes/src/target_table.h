// TargetTable is the probe's target table (the BPF array `target_table`)
// mapped into this process: one byte per tgid, written here with relaxed
// atomic stores and read by the kernel side on every context switch.
//
// Thread-safety: Set/Get are safe from any thread; Map/destroy from the owner.
#pragma once

#include <cstddef>
#include <cstdint>

#include "poolscope/core/result.h"

namespace poolscope {

class TargetTable {
 public:
  TargetTable() = default;
  TargetTable(TargetTable&& other) noexcept;
  TargetTable& operator=(TargetTable&& other) noexcept;
  TargetTable(const TargetTable&) = delete;
  TargetTable& operator=(const TargetTable&) = delete;
  ~TargetTable();

  // Map maps the array map `map_fd` of `words` 8-byte elements.
  static Result<TargetTable> Map(int map_fd, std::uint32_t words);

  // capacity is the number of tgids the table covers (0..capacity-1).
  std::uint32_t capacity() const { return static_cast<std::uint32_t>(len_); }

  // Set writes `tgid`'s byte (ignored past the capacity).
  void Set(std::uint32_t tgid, std::uint8_t value);

  // Get reads `tgid`'s byte (0 past the capacity).
  std::uint8_t Get(std::uint32_t tgid) const;

 private:
  void Unmap();

  std::uint8_t* bytes_ = nullptr;
  std::size_t len_ = 0;      // bytes that hold tgids
  std::size_t mapped_ = 0;   // bytes mapped (page-rounded)
};

}  // namespace poolscope
