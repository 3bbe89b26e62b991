// L1Hash: the one hash the L1 computes per call. Its bits are split three
// ways: the low 32 bits index a shard's table, bits 40.. pick the shard, and
// FrequencySketch remixes the whole value for its counters.
//
// Not a cryptographic hash and not seeded: keys come from poolscope's typed
// cache layer, not from untrusted peers.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace poolscope {
namespace l1_internal {

// MulFold multiplies to 128 bits and folds the halves together.
inline std::uint64_t MulFold(std::uint64_t a, std::uint64_t b) {
  __extension__ using U128 = unsigned __int128;
  const U128 product = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

// Finalize spreads every input bit over the whole word (xor-shift-multiply).
inline std::uint64_t Finalize(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ULL;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ULL;
  h ^= h >> 32;
  return h;
}

// L1Hash hashes `key`'s bytes.
inline std::uint64_t L1Hash(std::string_view key) {
  constexpr std::uint64_t kOdd1 = 0x9E3779B97F4A7C15ULL;
  constexpr std::uint64_t kOdd2 = 0xA0761D6478BD642FULL;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t h = kOdd1 ^ (static_cast<std::uint64_t>(n) * kOdd2);
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = MulFold(word ^ kOdd2, h ^ kOdd1);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    // The last 1..7 bytes, read without a byte loop (whose stores would stall
    // the following 8-byte load): overlapping loads, all within the key.
    std::uint64_t word;
    if (key.size() >= 8) {
      std::memcpy(&word, key.data() + key.size() - 8, 8);
    } else if (n >= 4) {
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      word = lo | (static_cast<std::uint64_t>(hi) << 32);
    } else {
      word = static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) |
             static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
             static_cast<std::uint64_t>(static_cast<unsigned char>(p[n - 1])) << 16;
    }
    h = MulFold(word ^ kOdd2 ^ (static_cast<std::uint64_t>(n) << 59), h ^ kOdd1);
  }
  return Finalize(h);
}

}  // namespace l1_internal
}  // namespace poolscope
