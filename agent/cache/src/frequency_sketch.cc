#include "frequency_sketch.h"

#include <algorithm>
#include <bit>

namespace poolscope {
namespace l1_internal {
namespace {

constexpr std::uint64_t kHalfMask = 0x7777777777777777ULL;  // each nibble's low 3 bits
constexpr int kMaxCount = 15;
constexpr std::size_t kWordsPerBlock = 8;  // 64 bytes
constexpr std::size_t kMaxCapacity = std::size_t{1} << 28;

// Remix derives fresh bits from the key hash: the caller's low and high bits
// already chose the shard and the table slot, so they are alike within a shard.
std::uint64_t Remix(std::uint64_t hash) {
  std::uint64_t x = hash * 0x9E3779B97F4A7C15ULL;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 32;
  return x;
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t capacity, bool doorkeeper) {
  capacity = std::clamp<std::size_t>(capacity, 1, kMaxCapacity);
  const std::size_t words = std::bit_ceil(std::max(capacity, kWordsPerBlock));
  table_.assign(words, 0);
  block_mask_ = words / kWordsPerBlock - 1;
  sample_size_ = 10 * static_cast<std::uint64_t>(capacity);
  if (doorkeeper) {
    // About 8 bits per key seen between halvings: ~5% false positives with
    // two probes when every sampled key is distinct.
    const std::size_t bits = std::bit_ceil(static_cast<std::size_t>(sample_size_) * 8);
    doorkeeper_.assign(std::max<std::size_t>(bits / 64, 1), 0);
    doorkeeper_mask_ = doorkeeper_.size() * 64 - 1;
  }
}

FrequencySketch::Cells FrequencySketch::Locate(std::uint64_t mixed) const {
  Cells cells;
  const std::size_t base = static_cast<std::size_t>(mixed & block_mask_) * kWordsPerBlock;
#pragma GCC unroll 4
  for (int row = 0; row < 4; ++row) {
    cells.word[row] = base + static_cast<std::size_t>(2 * row) + ((mixed >> (32 + row)) & 1);
    cells.shift[row] = static_cast<unsigned>((mixed >> (40 + 4 * row)) & 15) * 4;
  }
  return cells;
}

void FrequencySketch::Prefetch(std::uint64_t hash) const {
  const std::size_t base = static_cast<std::size_t>(Remix(hash) & block_mask_) * kWordsPerBlock;
  __builtin_prefetch(table_.data() + base, 1);
}

bool FrequencySketch::DoorkeeperHas(std::uint64_t mixed) const {
  const std::uint64_t probe = mixed * 0xC2B2AE3D27D4EB4FULL;
  const std::uint64_t a = probe & doorkeeper_mask_;
  const std::uint64_t b = (probe >> 32) & doorkeeper_mask_;
  return ((doorkeeper_[a >> 6] >> (a & 63)) & 1) && ((doorkeeper_[b >> 6] >> (b & 63)) & 1);
}

bool FrequencySketch::DoorkeeperAdd(std::uint64_t mixed) {
  const std::uint64_t probe = mixed * 0xC2B2AE3D27D4EB4FULL;
  const std::uint64_t a = probe & doorkeeper_mask_;
  const std::uint64_t b = (probe >> 32) & doorkeeper_mask_;
  std::uint64_t& wa = doorkeeper_[a >> 6];
  const bool had_a = (wa >> (a & 63)) & 1;
  wa |= std::uint64_t{1} << (a & 63);
  std::uint64_t& wb = doorkeeper_[b >> 6];
  const bool had_b = (wb >> (b & 63)) & 1;
  wb |= std::uint64_t{1} << (b & 63);
  return !(had_a && had_b);
}

void FrequencySketch::Increment(std::uint64_t hash) {
  const std::uint64_t mixed = Remix(hash);
  if (++additions_ >= sample_size_) Halve();
  if (!doorkeeper_.empty() && DoorkeeperAdd(mixed)) return;
  const Cells cells = Locate(mixed);
  int count[4];
  int lowest = kMaxCount;
#pragma GCC unroll 4
  for (int row = 0; row < 4; ++row) {
    count[row] = static_cast<int>((table_[cells.word[row]] >> cells.shift[row]) & 15);
    lowest = std::min(lowest, count[row]);
  }
  if (lowest == kMaxCount) return;
#pragma GCC unroll 4
  for (int row = 0; row < 4; ++row) {
    if (count[row] == lowest) table_[cells.word[row]] += std::uint64_t{1} << cells.shift[row];
  }
}

int FrequencySketch::Frequency(std::uint64_t hash) const {
  const std::uint64_t mixed = Remix(hash);
  const Cells cells = Locate(mixed);
  int lowest = kMaxCount;
#pragma GCC unroll 4
  for (int row = 0; row < 4; ++row) {
    lowest = std::min(lowest, static_cast<int>((table_[cells.word[row]] >> cells.shift[row]) & 15));
  }
  if (!doorkeeper_.empty() && DoorkeeperHas(mixed)) ++lowest;
  return lowest;
}

void FrequencySketch::Halve() {
  for (std::uint64_t& word : table_) word = (word >> 1) & kHalfMask;
  std::fill(doorkeeper_.begin(), doorkeeper_.end(), 0);
  additions_ /= 2;
}

}  // namespace l1_internal
}  // namespace poolscope
