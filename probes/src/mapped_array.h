// MappedArray is a BPF array map (created with BPF_F_MMAPABLE) mapped into
// this process: the probe writes its target table and reads its histograms
// through it, without a system call per element. Accesses are relaxed
// atomics, since the kernel side reads and writes the same memory.
//
// Thread-safety: the accessors are safe from any thread; Map and
// destruction belong to the owner.
#pragma once

#include <cstddef>
#include <cstdint>

#include "poolscope/core/result.h"

namespace poolscope {

class MappedArray {
 public:
  MappedArray() = default;
  MappedArray(MappedArray&& other) noexcept;
  MappedArray& operator=(MappedArray&& other) noexcept;
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray();

  // Map maps the first `bytes` bytes of array map `map_fd`; `what` names it
  // in the error.
  static Result<MappedArray> Map(int map_fd, std::size_t bytes, const char* what);

  // size is the number of bytes usable.
  std::size_t size() const { return len_; }

  // SetByte / GetByte access byte `i` (ignored / 0 past the end).
  void SetByte(std::size_t i, std::uint8_t value);
  std::uint8_t GetByte(std::size_t i) const;

  // LoadU64 reads the 8-byte word at byte offset `off` (8-aligned, in range).
  std::uint64_t LoadU64(std::size_t off) const;

 private:
  void Unmap();

  std::uint8_t* bytes_ = nullptr;
  std::size_t len_ = 0;     // bytes usable
  std::size_t mapped_ = 0;  // bytes mapped (page-rounded)
};

}  // namespace poolscope
