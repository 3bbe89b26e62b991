// L1Shard: one shard of L1Cache — a hash table plus the W-TinyLFU policy for
// the keys whose hash selects it, under one lock.
//
// Entries live in two parallel arrays indexed by a 32-bit node id (ids, not
// pointers, so the arrays may grow): Node holds what a lookup reads (key,
// value, expiry, last access) in one 64-byte line; Meta holds the policy's
// bookkeeping (hash, charge, list links, segment). The index is an
// open-addressing table (linear probing, load at most 1/2, backward-shift
// deletion, no tombstones) whose slots keep the low 32 hash bits, so most
// mismatches are rejected without touching a node. Each entry sits in one of
// three intrusive LRU lists — window, probation, protected — headed by
// meta_[0..2]. A hit costs one slot line, one node line and a few meta and
// sketch lines; Prefetch starts the slot and sketch loads before the lock.
//
//   L1Shard shard({.max_entries = 625, .max_bytes = 4 << 20});
//   L1Removed removed;
//   shard.Put(key, L1Hash(key), value, now, ttl_nanos, &removed);
//   L1Entry e = shard.Get(key, L1Hash(key), now, &removed);
//   // after the call: report removed.causes, let `removed` free the values
//
// Values that a call removes are handed to the caller's L1Removed so they are
// freed, and on_evict is called, after the lock is released.
//
// Thread-safety: all methods are thread-safe (one L1SpinLock per shard).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frequency_sketch.h"
#include "l1_spin_lock.h"
#include "poolscope/cache/l1_cache.h"

namespace poolscope {

// L1Removed collects what one shard call removed: a count per cause and the
// removed values, to be released after the shard lock is dropped. Empty until
// the first Add or Keep, so a plain hit only pays for one flag.
class L1Removed {
 public:
  // Add records one removed entry and takes its value.
  void Add(EvictionCause cause, std::shared_ptr<const std::string> value) {
    Contents& c = contents();
    ++c.causes[static_cast<int>(cause)];
    ++c.total;
    Keep(std::move(value));
  }

  // Keep takes a value to free later (a replaced value, not an eviction).
  void Keep(std::shared_ptr<const std::string> value) {
    if (!value) return;
    Contents& c = contents();
    if (!c.first) {
      c.first = std::move(value);
    } else {
      c.more.push_back(std::move(value));
    }
  }

  // total returns how many entries were removed.
  int total() const { return contents_ ? contents_->total : 0; }

  // count returns how many entries were removed for `cause`.
  int count(EvictionCause cause) const {
    return contents_ ? contents_->causes[static_cast<int>(cause)] : 0;
  }

 private:
  // Contents uses a constructor, not member initializers: clang rejects
  // optional<Contents>::emplace() inside the enclosing class otherwise.
  struct Contents {
    Contents() : causes{}, total(0) {}
    std::array<int, kEvictionCauseCount> causes;
    int total;
    std::shared_ptr<const std::string> first;
    std::vector<std::shared_ptr<const std::string>> more;  // allocates only past one
  };
  Contents& contents() {
    if (!contents_) contents_.emplace();
    return *contents_;
  }

  std::optional<Contents> contents_;
};

// L1ShardLimits is one shard's share of L1Options.
struct L1ShardLimits {
  std::size_t max_entries = 0;
  std::size_t max_bytes = 0;
  std::int64_t time_to_idle_nanos = 0;  // 0: off
  bool doorkeeper = false;
};

// L1ShardCounts is a snapshot of one shard.
struct L1ShardCounts {
  std::size_t entries = 0;
  std::size_t bytes = 0;
  L1Stats stats;
};

class alignas(64) L1Shard {
 public:
  // L1Shard derives the window, probation and protected budgets from `limits`.
  explicit L1Shard(const L1ShardLimits& limits);

  L1Shard(const L1Shard&) = delete;
  L1Shard& operator=(const L1Shard&) = delete;

  // Prefetch starts loading the cache lines a call for `hash` will read
  // first (its table slot and sketch block); lock-free, a hint only.
  void Prefetch(std::uint64_t hash) const;

  // Get looks `key` (hash `hash`) up at time `now`; see L1Cache::Get.
  L1Entry Get(std::string_view key, std::uint64_t hash, std::int64_t now, L1Removed* removed);

  // Put stores or updates `key`; see L1Cache::Put.
  void Put(std::string_view key, std::uint64_t hash, std::shared_ptr<const std::string> value,
           std::int64_t now, std::int64_t ttl_nanos, L1Removed* removed);

  // Erase removes `key`; true when it was there.
  bool Erase(std::string_view key, std::uint64_t hash, L1Removed* removed);

  // Clear removes every entry and returns how many there were. The nodes
  // (and their values) are freed after the lock is released.
  std::size_t Clear();

  // PurgeExpired removes entries expired or idle at `now`.
  void PurgeExpired(std::int64_t now, L1Removed* removed);

  // Counts returns entries, bytes and stats.
  L1ShardCounts Counts() const;

 private:
  enum Segment : std::uint8_t { kWindow = 0, kProbation = 1, kProtected = 2, kDetached, kFree };

  // Node is what a lookup reads, in one cache line.
  struct alignas(64) Node {
    std::string key;
    std::shared_ptr<const std::string> value;  // null: a negative entry
    std::int64_t expire_at = 0;
    std::int64_t last_access = 0;
  };

  // Meta is a node's policy bookkeeping (same index as its Node).
  struct Meta {
    std::uint64_t hash = 0;
    std::size_t charge = 0;
    std::uint32_t prev = 0;
    std::uint32_t next = 0;  // also links the free list
    Segment segment = kFree;
  };

  // Slot is one entry of the open-addressing index.
  struct Slot {
    std::uint32_t node = 0;  // 0: empty (node 0 is a list head, never indexed)
    std::uint32_t tag = 0;   // low 32 bits of the key's hash
  };

  // Budget is an entry and byte limit.
  struct Budget {
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };

  // Usage is what a segment (or the shard) holds.
  struct Usage {
    std::size_t entries = 0;
    std::size_t bytes = 0;
    bool Exceeds(const Budget& b) const { return entries > b.entries || bytes > b.bytes; }
  };

  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
  static constexpr std::uint32_t kHeads = 3;  // meta_[0..2] head the segment lists

  // The private helpers below require mu_ held (the constructor aside).

  // Reset empties the shard: list heads only, a small empty index.
  void Reset();
  // PublishTable updates the Prefetch hints after slots_ changed.
  void PublishTable();
  // FindSlot returns the slot holding `key`, or kNoSlot.
  std::size_t FindSlot(std::string_view key, std::uint64_t hash) const;
  // SlotOf returns the slot holding node `id` (which must be indexed).
  std::size_t SlotOf(std::uint32_t id) const;
  // InsertSlot indexes node `id`, growing the table to keep load <= 1/2.
  void InsertSlot(std::uint64_t hash, std::uint32_t id);
  // EraseSlot empties slot `pos` and closes the gap in its probe run.
  void EraseSlot(std::size_t pos);
  // GrowTable doubles the index.
  void GrowTable();
  // AllocNode returns a free node id (reusing freed ones first).
  std::uint32_t AllocNode();
  // FreeNode releases node `id` to the free list.
  void FreeNode(std::uint32_t id);

  // PushFront makes `id` the most recent entry of `segment`.
  void PushFront(Segment segment, std::uint32_t id);
  // Detach unlinks `id` from its segment (it stays indexed and counted).
  void Detach(std::uint32_t id);
  // Back returns the least recent entry of `segment`, or 0 when empty.
  std::uint32_t Back(Segment segment) const;
  // OnAccess applies a hit to the lists: move to front, or promote from
  // probation to protected (demoting protected's tail when it overflows).
  void OnAccess(std::uint32_t id);

  // IsDead says whether `id` expired or idled out at `now`, and why.
  bool IsDead(std::uint32_t id, std::int64_t now, EvictionCause* cause) const;
  // Admit decides a candidate-versus-victim duel on sketch frequency.
  bool Admit(std::uint32_t candidate, std::uint32_t victim);
  // Evict drains the window through admission and restores the bounds.
  void Evict(std::int64_t now, L1Removed* removed);
  // Remove drops `id` (at `slot`, or kNoSlot to look it up) for `cause`.
  void Remove(std::uint32_t id, std::size_t slot, EvictionCause cause, L1Removed* removed);

  // Read on every call, written rarely: kept apart from the lock's line so
  // readers on other cores do not lose it on every write.

  // Fixed after construction.
  const Budget max_;
  const Budget window_max_;
  const Budget protected_max_;
  const std::int64_t time_to_idle_;

  // slots_hint_ and slot_mask_hint_ mirror slots_ for Prefetch, which reads
  // them without the lock (a stale pair only wastes the prefetch).
  std::atomic<const void*> slots_hint_{nullptr};
  std::atomic<std::size_t> slot_mask_hint_{0};

  // Guarded by mu_; change only when the arrays grow.
  std::vector<Node> nodes_;  // [0..2] unused: meta_[0..2] head the segment lists
  std::vector<Meta> meta_;
  std::vector<Slot> slots_;  // size is a power of two
  std::size_t slot_mask_ = 0;
  l1_internal::FrequencySketch sketch_;  // its counters, not its header, change

  // The lock and what every call writes share one cache line.
  alignas(64) mutable L1SpinLock mu_;
  // Everything below is guarded by mu_.
  L1Stats stats_;
  std::array<Usage, 3> usage_{};                  // by Segment
  Usage total_;                                   // includes a detached admission candidate
  std::uint32_t free_ = 0;                        // first free node; 0: none
  std::uint64_t random_ = 0x853C49E6748FEA9BULL;  // xorshift state for admission ties
};

}  // namespace poolscope
