#include "mapped_array.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace poolscope {

MappedArray::MappedArray(MappedArray&& other) noexcept
    : bytes_(std::exchange(other.bytes_, nullptr)),
      len_(std::exchange(other.len_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

MappedArray& MappedArray::operator=(MappedArray&& other) noexcept {
  if (this != &other) {
    Unmap();
    bytes_ = std::exchange(other.bytes_, nullptr);
    len_ = std::exchange(other.len_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

MappedArray::~MappedArray() { Unmap(); }

void MappedArray::Unmap() {
  if (bytes_ != nullptr) ::munmap(bytes_, mapped_);
  bytes_ = nullptr;
  len_ = mapped_ = 0;
}

Result<MappedArray> MappedArray::Map(int map_fd, std::size_t bytes, const char* what) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t mapped = (bytes + page - 1) / page * page;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (p == MAP_FAILED) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot map the {}: {}", what, std::strerror(errno))};
  }
  MappedArray m;
  m.bytes_ = static_cast<std::uint8_t*>(p);
  m.len_ = bytes;
  m.mapped_ = mapped;
  return m;
}

void MappedArray::SetByte(std::size_t i, std::uint8_t value) {
  if (i >= len_) return;
  std::atomic_ref<std::uint8_t>(bytes_[i]).store(value, std::memory_order_relaxed);
}

std::uint8_t MappedArray::GetByte(std::size_t i) const {
  if (i >= len_) return 0;
  return std::atomic_ref<std::uint8_t>(bytes_[i]).load(std::memory_order_relaxed);
}

std::uint64_t MappedArray::LoadU64(std::size_t off) const {
  auto* word = reinterpret_cast<std::uint64_t*>(bytes_ + off);
  return std::atomic_ref<std::uint64_t>(*word).load(std::memory_order_relaxed);
}

}  // namespace poolscope
