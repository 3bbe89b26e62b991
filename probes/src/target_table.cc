#include "target_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace poolscope {

TargetTable::TargetTable(TargetTable&& other) noexcept
    : bytes_(std::exchange(other.bytes_, nullptr)),
      len_(std::exchange(other.len_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

TargetTable& TargetTable::operator=(TargetTable&& other) noexcept {
  if (this != &other) {
    Unmap();
    bytes_ = std::exchange(other.bytes_, nullptr);
    len_ = std::exchange(other.len_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

TargetTable::~TargetTable() { Unmap(); }

void TargetTable::Unmap() {
  if (bytes_ != nullptr) ::munmap(bytes_, mapped_);
  bytes_ = nullptr;
  len_ = mapped_ = 0;
}

Result<TargetTable> TargetTable::Map(int map_fd, std::uint32_t words) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t len = static_cast<std::size_t>(words) * 8;
  const std::size_t mapped = (len + page - 1) / page * page;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (p == MAP_FAILED) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot map the target table: {}", std::strerror(errno))};
  }
  TargetTable t;
  t.bytes_ = static_cast<std::uint8_t*>(p);
  t.len_ = len;
  t.mapped_ = mapped;
  return t;
}

void TargetTable::Set(std::uint32_t tgid, std::uint8_t value) {
  if (tgid >= len_) return;
  std::atomic_ref<std::uint8_t>(bytes_[tgid]).store(value, std::memory_order_relaxed);
}

std::uint8_t TargetTable::Get(std::uint32_t tgid) const {
  if (tgid >= len_) return 0;
  return std::atomic_ref<std::uint8_t>(bytes_[tgid]).load(std::memory_order_relaxed);
}

}  // namespace poolscope
