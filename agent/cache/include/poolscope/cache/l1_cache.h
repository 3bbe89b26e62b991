// L1Cache: the in-process first level of poolscope's two-level cache
// (L1 in-process, Redis L2, PostgreSQL behind). Keys and values are byte
// strings; the typed Cache above encodes and decodes them.
//
// What it does:
//   - Sharded: a key's hash picks one of `shards` shards, each with its own
//     lock (a spinlock: critical sections are tens of nanoseconds), so
//     concurrent callers rarely meet. A hit is one hash, one lock, one table
//     probe and O(1) list moves, with no allocation.
//   - Bounded by entries and by bytes. Each shard gets an equal share of both
//     budgets (max_entries / shards, max_bytes / shards, rounded down), so the
//     totals are never exceeded. An entry is charged
//     key.size() + value.size() + kL1EntryOverheadBytes.
//   - Time-to-live per entry (given to Put) and an optional time-to-idle for
//     all entries (L1Options::time_to_idle).
//   - Negative entries: Put with a null value caches "absent" for its own TTL,
//     so a missing row is not looked up again and again (penetration guard).
//   - W-TinyLFU admission and eviction, which keeps a popular working set
//     through one-off scans: new entries enter a small LRU window (1% of the
//     shard); an entry leaving the window must then beat the main region's
//     LRU victim on estimated access frequency to get in. The main region is
//     a segmented LRU: probation (20%) and protected (80%); a hit in probation
//     promotes to protected. Frequencies come from a count-min sketch of 4-bit
//     counters, halved every 10 * shard capacity accesses so old popularity
//     fades. Frequency is counted on Get (hit or miss): callers look up before
//     they fill, so each request counts once.
//   A Put may therefore be turned away later by admission (the entry leaves
//   the window and loses to the victim); a Put of a key already present always
//   updates it.
//
//   L1Options options;
//   options.max_entries = 50000;
//   options.max_bytes = 64 << 20;
//   options.on_evict = [&](EvictionCause c) { evictions[static_cast<int>(c)]++; };
//   L1Cache l1(std::move(options));
//   l1.Put("product:42", std::make_shared<const std::string>(row), std::chrono::minutes(5));
//   l1.Put("product:43", nullptr, std::chrono::seconds(30));  // known absent
//   L1Entry e = l1.Get("product:42");
//   if (e.result == L1Result::kHit) Use(*e.value);
//
// Expired and idle entries are removed when a Get finds them, when the policy
// looks at them as eviction victims, or by PurgeExpired; until then they count
// in entries() and bytes().
//
// Thread-safety: all methods are thread-safe. on_evict is called from the
// thread whose call removed the entry, after the shard lock is released, so
// it may run concurrently with itself and may call back into the cache. The
// clock must outlive the cache.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace poolscope {

// CacheClock is the time source for expiry; tests inject a fake one.
class CacheClock {
 public:
  virtual ~CacheClock() = default;

  // NowNanos returns monotonic time in nanoseconds (any fixed origin).
  virtual std::int64_t NowNanos() const = 0;

  // Steady returns the process-wide SteadyCacheClock.
  static const CacheClock& Steady();
};

// SteadyCacheClock reads the invariant TSC through FastClock (about 17 ns on
// a VM, a third of steady_clock::now()), falling back to steady_clock.
class SteadyCacheClock final : public CacheClock {
 public:
  SteadyCacheClock();

  // NowNanos returns nanoseconds since this clock was created.
  std::int64_t NowNanos() const override;

 private:
  std::int64_t origin_ticks_;
  double nanos_per_tick_;
};

// EvictionCause says why an entry left the cache.
enum class EvictionCause {
  kSize,         // evicted or refused admission to stay within the bounds
  kExpired,      // its time-to-live passed
  kIdle,         // not read for time_to_idle
  kInvalidated,  // Erase, Clear, or a Put with ttl <= 0
};

// kEvictionCauseCount is the number of EvictionCause values.
inline constexpr int kEvictionCauseCount = 4;

// EvictionCauseName returns "size", "expired", "idle" or "invalidated".
const char* EvictionCauseName(EvictionCause cause);

// kL1EntryOverheadBytes is the fixed charge per entry on top of its key and
// value bytes: it covers the entry's node, its index slots and the value's
// string header.
inline constexpr std::size_t kL1EntryOverheadBytes = 128;

// L1Options configures an L1Cache.
struct L1Options {
  // max_entries bounds the number of entries (split evenly across shards,
  // at most 2^30 per shard).
  std::size_t max_entries = 10000;
  // max_bytes bounds the charged bytes (split evenly across shards); see
  // kL1EntryOverheadBytes. An entry larger than max_bytes / shard_count() is
  // not stored.
  std::size_t max_bytes = 64 << 20;
  // shards is rounded up to a power of two (at most 1024), then halved while
  // a shard would hold fewer than 64 entries; shard_count() tells the result.
  int shards = 16;
  // time_to_idle drops an entry not read for this long; 0 turns it off.
  std::chrono::nanoseconds time_to_idle{0};
  // clock is the time source; null means CacheClock::Steady().
  const CacheClock* clock = nullptr;
  // on_evict is called once per entry that leaves the cache; may be empty.
  std::function<void(EvictionCause)> on_evict{};
  // doorkeeper puts a Bloom filter in front of the frequency sketch so keys
  // seen only once do not take sketch counters (helps very large key spaces).
  bool doorkeeper = false;
};

// L1Result says what a Get found.
enum class L1Result { kMiss, kHit, kNegativeHit };

// L1Entry is what Get returns.
struct L1Entry {
  L1Result result = L1Result::kMiss;
  std::shared_ptr<const std::string> value;  // set for kHit only
};

// L1Stats are counters since the cache was created (all shards summed).
struct L1Stats {
  std::uint64_t hits = 0;           // Get found a value
  std::uint64_t negative_hits = 0;  // Get found an "absent" marker
  std::uint64_t misses = 0;         // Get found nothing live (incl. expired, idle)
  std::uint64_t inserts = 0;        // Puts that stored a new key
  std::uint64_t updates = 0;        // Puts that replaced a present key
  std::uint64_t rejected = 0;       // new entries refused by admission (also in kSize)
  std::array<std::uint64_t, kEvictionCauseCount> evictions{};  // by EvictionCause
};

class L1Shard;

// L1Cache is the sharded W-TinyLFU cache described at the top of this file.
class L1Cache {
 public:
  // L1Cache builds the shards; it does not start any thread.
  explicit L1Cache(L1Options options);
  ~L1Cache();

  L1Cache(const L1Cache&) = delete;
  L1Cache& operator=(const L1Cache&) = delete;

  // Get looks `key` up. Expired or idle entries are misses and are removed
  // (on_evict kExpired / kIdle). Does not allocate.
  L1Entry Get(std::string_view key);

  // Put stores `value` under `key` for `ttl`; a null value caches "absent".
  // A present key is updated in place. A new key enters the window; whether
  // it stays past the window depends on how often Get has asked for it.
  // ttl <= 0 stores nothing and drops a present entry (kInvalidated); an
  // entry larger than a shard's byte budget is not stored and drops a
  // present entry (kSize).
  void Put(std::string_view key, std::shared_ptr<const std::string> value,
           std::chrono::nanoseconds ttl);

  // Erase removes `key`; true (and on_evict kInvalidated) when it was there.
  bool Erase(std::string_view key);

  // Clear removes every entry (on_evict kInvalidated for each). The access
  // frequencies the policy has learnt are kept.
  void Clear();

  // PurgeExpired removes every expired or idle entry now and returns how
  // many; O(entries), for periodic housekeeping if memory should be freed
  // before the policy reaches expired entries on its own.
  std::size_t PurgeExpired();

  // entries returns the number of entries held (negative ones included).
  std::size_t entries() const;

  // bytes returns the charged bytes held.
  std::size_t bytes() const;

  // stats returns the counters summed over the shards. entries(), bytes()
  // and stats() take each shard's lock in turn.
  L1Stats stats() const;

  // shard_count returns the number of shards in use.
  int shard_count() const { return static_cast<int>(shards_.size()); }

  // shard_max_entries returns each shard's entry budget.
  std::size_t shard_max_entries() const { return shard_max_entries_; }

  // shard_max_bytes returns each shard's byte budget.
  std::size_t shard_max_bytes() const { return shard_max_bytes_; }

 private:
  L1Shard& ShardFor(std::uint64_t hash) const {
    return *shards_[(hash >> kShardShift) & shard_mask_];
  }

  // kShardShift selects the hash bits that pick a shard; the low 32 bits
  // index the shard's table.
  static constexpr int kShardShift = 40;

  const CacheClock* clock_;
  std::function<void(EvictionCause)> on_evict_;
  std::size_t shard_max_entries_ = 0;
  std::size_t shard_max_bytes_ = 0;
  std::uint64_t shard_mask_ = 0;
  std::vector<std::unique_ptr<L1Shard>> shards_;
};

}  // namespace poolscope
