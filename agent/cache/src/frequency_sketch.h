// FrequencySketch: approximate, aging access counts for the L1's admission
// policy (the "TinyLFU" part of W-TinyLFU).
//
// A count-min sketch of 4-bit counters (0..15). Each key maps to four
// counters, one per row, all inside one 64-byte block of the table so an
// update touches a single cache line; its frequency is the smallest of the
// four. Increment uses conservative update (only the counters at the minimum
// grow), which keeps collisions from inflating counts. After `10 * capacity`
// increments every counter is halved, so past popularity fades.
//
// With the doorkeeper on, a Bloom filter absorbs each key's first sighting
// after a halving; only repeat sightings reach the counters, and Frequency
// adds one for a key the filter holds.
//
//   FrequencySketch sketch(/*capacity=*/1000, /*doorkeeper=*/false);
//   sketch.Increment(hash);
//   if (sketch.Frequency(candidate) > sketch.Frequency(victim)) Admit();
//
// Thread-safety: none; the owning shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace poolscope {
namespace l1_internal {

class FrequencySketch {
 public:
  // FrequencySketch sizes the table for about `capacity` cached entries.
  FrequencySketch(std::size_t capacity, bool doorkeeper);

  // Increment records one access to the key with hash `hash`.
  void Increment(std::uint64_t hash);

  // Prefetch starts loading the key's block. Safe without the owner's lock:
  // it reads only what the constructor wrote.
  void Prefetch(std::uint64_t hash) const;

  // Frequency returns the key's estimated recent access count (0..16).
  int Frequency(std::uint64_t hash) const;

 private:
  // Cells locates a key's four counters: word index and bit shift per row.
  struct Cells {
    std::size_t word[4];
    unsigned shift[4];
  };
  // Locate finds the counters of a remixed hash.
  Cells Locate(std::uint64_t mixed) const;
  // DoorkeeperHas says whether the Bloom filter holds the key.
  bool DoorkeeperHas(std::uint64_t mixed) const;
  // DoorkeeperAdd sets the key's bits; false when they were all set already.
  bool DoorkeeperAdd(std::uint64_t mixed);
  // Halve halves every counter and clears the doorkeeper (aging).
  void Halve();

  std::vector<std::uint64_t> table_;  // 16 counters per word, 8 words per block
  std::uint64_t block_mask_ = 0;
  std::vector<std::uint64_t> doorkeeper_;  // Bloom bits; empty when off
  std::uint64_t doorkeeper_mask_ = 0;      // bit-index mask
  std::uint64_t additions_ = 0;
  std::uint64_t sample_size_ = 0;
};

}  // namespace l1_internal
}  // namespace poolscope
