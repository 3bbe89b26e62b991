#include "poolscope/cache/l1_cache.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "l1_hash.h"
#include "l1_shard.h"
#include "poolscope/core/fast_clock.h"

namespace poolscope {
namespace {

constexpr int kMaxShards = 1024;
// A shard smaller than this has too short LRU lists for the policy to work.
constexpr std::size_t kMinShardEntries = 64;
// Node indices are 32-bit.
constexpr std::size_t kMaxShardEntries = std::size_t{1} << 30;

void Report(const std::function<void(EvictionCause)>& on_evict, const L1Removed& removed) {
  if (!on_evict || removed.total() == 0) return;
  for (int c = 0; c < kEvictionCauseCount; ++c) {
    const auto cause = static_cast<EvictionCause>(c);
    for (int i = removed.count(cause); i > 0; --i) on_evict(cause);
  }
}

}  // namespace

const CacheClock& CacheClock::Steady() {
  static const SteadyCacheClock clock;
  return clock;
}

SteadyCacheClock::SteadyCacheClock()
    : origin_ticks_(FastClock::Now()),
      // The rate, read once: FastClock::ToNanos would look it up on every call.
      nanos_per_tick_(static_cast<double>(FastClock::ToNanos(std::int64_t{1} << 40)) /
                      static_cast<double>(std::int64_t{1} << 40)) {}

std::int64_t SteadyCacheClock::NowNanos() const {
  return static_cast<std::int64_t>(static_cast<double>(FastClock::Now() - origin_ticks_) *
                                   nanos_per_tick_);
}

const char* EvictionCauseName(EvictionCause cause) {
  switch (cause) {
    case EvictionCause::kSize:
      return "size";
    case EvictionCause::kExpired:
      return "expired";
    case EvictionCause::kIdle:
      return "idle";
    case EvictionCause::kInvalidated:
      return "invalidated";
  }
  return "unknown";
}

L1Cache::L1Cache(L1Options options)
    : clock_(options.clock != nullptr ? options.clock : &CacheClock::Steady()),
      on_evict_(std::move(options.on_evict)) {
  std::size_t shards =
      std::bit_ceil(static_cast<unsigned>(std::clamp(options.shards, 1, kMaxShards)));
  while (shards > 1 && options.max_entries / shards < kMinShardEntries) shards /= 2;
  shard_max_entries_ = std::min(options.max_entries / shards, kMaxShardEntries);
  shard_max_bytes_ = options.max_bytes / shards;
  shard_mask_ = shards - 1;

  L1ShardLimits limits;
  limits.max_entries = shard_max_entries_;
  limits.max_bytes = shard_max_bytes_;
  limits.time_to_idle_nanos = std::max<std::int64_t>(0, options.time_to_idle.count());
  limits.doorkeeper = options.doorkeeper;
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<L1Shard>(limits));
}

L1Cache::~L1Cache() = default;

L1Entry L1Cache::Get(std::string_view key) {
  const std::uint64_t hash = l1_internal::L1Hash(key);
  L1Shard& shard = ShardFor(hash);
  shard.Prefetch(hash);  // the clock read below hides the memory latency
  const std::int64_t now = clock_->NowNanos();
  L1Removed removed;
  L1Entry entry = shard.Get(key, hash, now, &removed);
  Report(on_evict_, removed);
  return entry;
}

void L1Cache::Put(std::string_view key, std::shared_ptr<const std::string> value,
                  std::chrono::nanoseconds ttl) {
  const std::uint64_t hash = l1_internal::L1Hash(key);
  const std::int64_t now = clock_->NowNanos();
  L1Removed removed;
  ShardFor(hash).Put(key, hash, std::move(value), now, ttl.count(), &removed);
  Report(on_evict_, removed);
}

bool L1Cache::Erase(std::string_view key) {
  const std::uint64_t hash = l1_internal::L1Hash(key);
  L1Removed removed;
  const bool erased = ShardFor(hash).Erase(key, hash, &removed);
  Report(on_evict_, removed);
  return erased;
}

void L1Cache::Clear() {
  for (const auto& shard : shards_) {
    const std::size_t count = shard->Clear();
    if (!on_evict_) continue;
    for (std::size_t i = 0; i < count; ++i) on_evict_(EvictionCause::kInvalidated);
  }
}

std::size_t L1Cache::PurgeExpired() {
  const std::int64_t now = clock_->NowNanos();
  std::size_t purged = 0;
  for (const auto& shard : shards_) {
    L1Removed removed;
    shard->PurgeExpired(now, &removed);
    purged += static_cast<std::size_t>(removed.total());
    Report(on_evict_, removed);
  }
  return purged;
}

std::size_t L1Cache::entries() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) total += shard->Counts().entries;
  return total;
}

std::size_t L1Cache::bytes() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) total += shard->Counts().bytes;
  return total;
}

L1Stats L1Cache::stats() const {
  L1Stats total;
  for (const auto& shard : shards_) {
    const L1Stats s = shard->Counts().stats;
    total.hits += s.hits;
    total.negative_hits += s.negative_hits;
    total.misses += s.misses;
    total.inserts += s.inserts;
    total.updates += s.updates;
    total.rejected += s.rejected;
    for (int c = 0; c < kEvictionCauseCount; ++c) total.evictions[c] += s.evictions[c];
  }
  return total;
}

}  // namespace poolscope
