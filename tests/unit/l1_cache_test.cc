// L1Cache: lookups, expiry on a fake clock, the bounds, eviction causes,
// scan resistance and a concurrency smoke test. No sleeping, no servers.
#include "poolscope/cache/l1_cache.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

namespace poolscope {
namespace {

using namespace std::chrono_literals;

// FakeClock is a CacheClock the test moves by hand.
class FakeClock : public CacheClock {
 public:
  std::int64_t NowNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(std::chrono::nanoseconds d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_{1'000'000'000};
};

// EvictionLog counts on_evict calls by cause (thread-safe).
struct EvictionLog {
  std::array<std::atomic<int>, kEvictionCauseCount> by_cause{};

  std::function<void(EvictionCause)> Callback() {
    return [this](EvictionCause c) { by_cause[static_cast<int>(c)].fetch_add(1); };
  }
  int operator[](EvictionCause c) const { return by_cause[static_cast<int>(c)].load(); }
  int total() const {
    int sum = 0;
    for (const auto& n : by_cause) sum += n.load();
    return sum;
  }
};

std::shared_ptr<const std::string> Value(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

std::string Key(int i) { return "key:" + std::to_string(i); }

std::uint64_t TotalEvictions(const L1Stats& s) {
  std::uint64_t sum = 0;
  for (std::uint64_t n : s.evictions) sum += n;
  return sum;
}

// GetOrFill is the cache-aside step the typed cache performs: look up, and
// fill on a miss. Returns whether it hit.
bool GetOrFill(L1Cache& cache, const std::string& key) {
  if (cache.Get(key).result == L1Result::kHit) return true;
  cache.Put(key, Value("v:" + key), 1h);
  return false;
}

TEST(L1CacheTest, HitMissAndNegativeHit) {
  FakeClock clock;
  L1Cache cache({.clock = &clock});
  EXPECT_EQ(cache.Get("a").result, L1Result::kMiss);

  cache.Put("a", Value("alpha"), 10s);
  L1Entry hit = cache.Get("a");
  ASSERT_EQ(hit.result, L1Result::kHit);
  ASSERT_NE(hit.value, nullptr);
  EXPECT_EQ(*hit.value, "alpha");

  cache.Put("gone", nullptr, 10s);
  L1Entry negative = cache.Get("gone");
  EXPECT_EQ(negative.result, L1Result::kNegativeHit);
  EXPECT_EQ(negative.value, nullptr);

  EXPECT_EQ(cache.Get("b").result, L1Result::kMiss);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.bytes(), (1 + 5 + kL1EntryOverheadBytes) + (4 + kL1EntryOverheadBytes));

  const L1Stats s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.negative_hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.inserts, 2u);
}

TEST(L1CacheTest, EmptyKeyAndEmptyValueAreOrdinary) {
  FakeClock clock;
  L1Cache cache({.clock = &clock});
  cache.Put("", Value(""), 10s);
  L1Entry e = cache.Get("");
  ASSERT_EQ(e.result, L1Result::kHit);
  EXPECT_EQ(*e.value, "");
  EXPECT_EQ(cache.bytes(), kL1EntryOverheadBytes);
}

TEST(L1CacheTest, PutUpdatesPresentKey) {
  FakeClock clock;
  L1Cache cache({.clock = &clock});
  cache.Put("k", Value("one"), 10s);
  cache.Put("k", Value("three"), 10s);
  EXPECT_EQ(*cache.Get("k").value, "three");
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), 1 + 5 + kL1EntryOverheadBytes);

  // A value can become "absent" and back.
  cache.Put("k", nullptr, 10s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kNegativeHit);
  EXPECT_EQ(cache.bytes(), 1 + kL1EntryOverheadBytes);
  cache.Put("k", Value("back"), 10s);
  EXPECT_EQ(*cache.Get("k").value, "back");
  EXPECT_EQ(cache.stats().updates, 3u);
}

TEST(L1CacheTest, PutUpdatesPresentKeyWhenFull) {
  FakeClock clock;
  L1Cache cache({.max_entries = 64, .shards = 1, .clock = &clock});
  for (int i = 0; i < 1000; ++i) GetOrFill(cache, Key(i % 300));
  int updated = 0;
  for (int i = 0; i < 300; ++i) {
    if (cache.Get(Key(i)).result != L1Result::kHit) continue;
    cache.Put(Key(i), Value("new"), 1h);
    ASSERT_EQ(*cache.Get(Key(i)).value, "new") << Key(i);
    ++updated;
  }
  EXPECT_GT(updated, 0);
  EXPECT_LE(cache.entries(), 64u);
}

TEST(L1CacheTest, TtlExpiresEntry) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.clock = &clock, .on_evict = log.Callback()});
  cache.Put("k", Value("v"), 10s);
  clock.Advance(9s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kHit);
  clock.Advance(1s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kMiss);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(log[EvictionCause::kExpired], 1);
  EXPECT_EQ(log.total(), 1);

  // An update renews the time-to-live.
  cache.Put("k", Value("v"), 10s);
  clock.Advance(8s);
  cache.Put("k", Value("v2"), 10s);
  clock.Advance(8s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kHit);
}

TEST(L1CacheTest, NegativeEntryHasItsOwnTtl) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.clock = &clock, .on_evict = log.Callback()});
  cache.Put("absent", nullptr, 2s);
  cache.Put("present", Value("v"), 10s);
  clock.Advance(1s);
  EXPECT_EQ(cache.Get("absent").result, L1Result::kNegativeHit);
  clock.Advance(1s);
  EXPECT_EQ(cache.Get("absent").result, L1Result::kMiss);
  EXPECT_EQ(cache.Get("present").result, L1Result::kHit);
  EXPECT_EQ(log[EvictionCause::kExpired], 1);
}

TEST(L1CacheTest, TimeToIdleDropsUnreadEntries) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.time_to_idle = 5s, .clock = &clock, .on_evict = log.Callback()});
  cache.Put("read", Value("v"), 1h);
  cache.Put("unread", Value("v"), 1h);
  for (int i = 0; i < 5; ++i) {  // reads every 4 s keep it alive for 20 s
    clock.Advance(4s);
    EXPECT_EQ(cache.Get("read").result, L1Result::kHit) << i;
  }
  EXPECT_EQ(cache.Get("unread").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kIdle], 1);
  clock.Advance(5s);
  EXPECT_EQ(cache.Get("read").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kIdle], 2);
  EXPECT_EQ(log.total(), 2);
  EXPECT_EQ(cache.entries(), 0u);
}

TEST(L1CacheTest, TtlStillAppliesWithTimeToIdle) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.time_to_idle = 5s, .clock = &clock, .on_evict = log.Callback()});
  cache.Put("k", Value("v"), 6s);
  clock.Advance(4s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kHit);
  clock.Advance(2s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kExpired], 1);
}

TEST(L1CacheTest, NonPositiveTtlStoresNothingAndDropsPresent) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.clock = &clock, .on_evict = log.Callback()});
  cache.Put("new", Value("v"), 0s);
  EXPECT_EQ(cache.Get("new").result, L1Result::kMiss);
  EXPECT_EQ(log.total(), 0);

  cache.Put("k", Value("v"), 10s);
  cache.Put("k", Value("w"), -1s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kInvalidated], 1);
}

TEST(L1CacheTest, HugeTtlDoesNotOverflow) {
  FakeClock clock;
  L1Cache cache({.clock = &clock});
  cache.Put("k", Value("v"), std::chrono::nanoseconds::max());
  clock.Advance(24h * 365);
  EXPECT_EQ(cache.Get("k").result, L1Result::kHit);
}

TEST(L1CacheTest, EraseReportsInvalidated) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.clock = &clock, .on_evict = log.Callback()});
  cache.Put("k", Value("v"), 10s);
  cache.Put("n", nullptr, 10s);
  EXPECT_TRUE(cache.Erase("k"));
  EXPECT_TRUE(cache.Erase("n"));
  EXPECT_FALSE(cache.Erase("k"));
  EXPECT_FALSE(cache.Erase("never"));
  EXPECT_EQ(cache.Get("k").result, L1Result::kMiss);
  EXPECT_EQ(cache.Get("n").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kInvalidated], 2);
  EXPECT_EQ(log.total(), 2);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(L1CacheTest, ClearRemovesEverything) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.clock = &clock, .on_evict = log.Callback()});
  for (int i = 0; i < 100; ++i) cache.Put(Key(i), Value("v"), 10s);
  cache.Clear();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(log[EvictionCause::kInvalidated], 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(cache.Get(Key(i)).result, L1Result::kMiss);
  // Still usable afterwards.
  cache.Put("k", Value("v"), 10s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kHit);
}

TEST(L1CacheTest, PurgeExpiredRemovesDeadEntries) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.time_to_idle = 30s, .clock = &clock, .on_evict = log.Callback()});
  for (int i = 0; i < 50; ++i) cache.Put(Key(i), Value("v"), 10s);
  for (int i = 50; i < 80; ++i) cache.Put(Key(i), Value("v"), 1h);
  cache.Put("busy", Value("v"), 1h);
  clock.Advance(20s);
  EXPECT_EQ(cache.Get("busy").result, L1Result::kHit);
  EXPECT_EQ(cache.PurgeExpired(), 50u);
  EXPECT_EQ(cache.entries(), 31u);
  clock.Advance(15s);  // the 30 unread ones are now idle
  EXPECT_EQ(cache.PurgeExpired(), 30u);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(log[EvictionCause::kExpired], 50);
  EXPECT_EQ(log[EvictionCause::kIdle], 30);
}

TEST(L1CacheTest, ShardCountIsAPowerOfTwoAndShrinksForSmallCaches) {
  EXPECT_EQ(L1Cache({.max_entries = 100000, .shards = 5}).shard_count(), 8);
  EXPECT_EQ(L1Cache({.max_entries = 100000, .shards = 0}).shard_count(), 1);
  EXPECT_EQ(L1Cache({.max_entries = 1000, .shards = 16}).shard_count(), 8);
  EXPECT_EQ(L1Cache({.max_entries = 100, .shards = 16}).shard_count(), 1);
  L1Cache cache({.max_entries = 10000, .max_bytes = 1 << 20, .shards = 16});
  EXPECT_EQ(cache.shard_count(), 16);
  EXPECT_EQ(cache.shard_max_entries(), 625u);
  EXPECT_EQ(cache.shard_max_bytes(), 65536u);
}

TEST(L1CacheTest, EntryBoundIsNeverExceeded) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.max_entries = 1000, .shards = 4, .clock = &clock, .on_evict = log.Callback()});
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    GetOrFill(cache, Key(static_cast<int>(rng() % 5000)));
    ASSERT_LE(cache.entries(), 1000u) << "after request " << i;
  }
  EXPECT_GT(cache.entries(), 900u);  // and the space is used
  const L1Stats s = cache.stats();
  EXPECT_EQ(s.inserts, cache.entries() + TotalEvictions(s));
  EXPECT_EQ(static_cast<std::uint64_t>(log[EvictionCause::kSize]), s.evictions[0]);
  EXPECT_EQ(static_cast<std::uint64_t>(log.total()), TotalEvictions(s));
  EXPECT_GT(s.rejected, 0u);
}

TEST(L1CacheTest, ByteBoundIsNeverExceededAndBytesAreExact) {
  FakeClock clock;
  EvictionLog log;
  constexpr std::size_t kMaxBytes = std::size_t{64} * 1024;
  L1Cache cache({.max_entries = 100000,
                 .max_bytes = kMaxBytes,
                 .shards = 2,
                 .clock = &clock,
                 .on_evict = log.Callback()});
  std::mt19937 rng(2);
  std::map<std::string, std::size_t> last_size;  // key -> size of the last value put
  for (int i = 0; i < 20000; ++i) {
    const std::string key = Key(static_cast<int>(rng() % 2000));
    if (cache.Get(key).result == L1Result::kMiss || rng() % 8 == 0) {
      const std::size_t size = rng() % 2000;
      cache.Put(key, Value(std::string(size, 'x')), 1h);
      last_size[key] = size;
    }
    ASSERT_LE(cache.bytes(), kMaxBytes) << "after request " << i;
  }
  // bytes() is exactly the charge of what is resident.
  std::size_t resident = 0, expected = 0;
  for (const auto& [key, size] : last_size) {
    const L1Entry e = cache.Get(key);
    if (e.result != L1Result::kHit) continue;
    ASSERT_EQ(e.value->size(), size) << key;
    ++resident;
    expected += key.size() + size + kL1EntryOverheadBytes;
  }
  EXPECT_EQ(cache.entries(), resident);
  EXPECT_EQ(cache.bytes(), expected);
  EXPECT_GT(expected, kMaxBytes * 3 / 4);
  const L1Stats s = cache.stats();
  EXPECT_EQ(s.inserts, cache.entries() + TotalEvictions(s));
  EXPECT_EQ(static_cast<std::uint64_t>(log[EvictionCause::kSize]), s.evictions[0]);
}

TEST(L1CacheTest, EntryLargerThanShardBudgetIsNotStored) {
  FakeClock clock;
  EvictionLog log;
  L1Cache cache({.max_bytes = 8192, .shards = 1, .clock = &clock, .on_evict = log.Callback()});
  cache.Put("big", Value(std::string(8192, 'x')), 10s);
  EXPECT_EQ(cache.Get("big").result, L1Result::kMiss);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(log.total(), 0);

  // Growing a present entry past the budget drops it rather than serve the
  // old value.
  cache.Put("k", Value("small"), 10s);
  cache.Put("k", Value(std::string(8192, 'x')), 10s);
  EXPECT_EQ(cache.Get("k").result, L1Result::kMiss);
  EXPECT_EQ(log[EvictionCause::kSize], 1);

  // Just within the budget is fine, and pushes everything else out (once
  // looked up, "fit" is more frequent than "a").
  cache.Put("a", Value("a"), 10s);
  const std::string fits(8192 - kL1EntryOverheadBytes - 3, 'x');
  EXPECT_EQ(cache.Get("fit").result, L1Result::kMiss);
  cache.Put("fit", Value(fits), 10s);
  EXPECT_EQ(cache.bytes(), 8192u);
  EXPECT_EQ(cache.Get("fit").result, L1Result::kHit);
}

TEST(L1CacheTest, BehavesLikeAMapWhenNothingIsEvicted) {
  // Random Put/Get/Erase against a std::map: exercises the open-addressing
  // index (probing, growth, backward-shift deletion).
  FakeClock clock;
  L1Cache cache({.max_entries = 1 << 20, .max_bytes = 1 << 30, .shards = 2, .clock = &clock});
  std::map<std::string, std::string> model;
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    const std::string key = Key(static_cast<int>(rng() % 3000));
    switch (rng() % 4) {
      case 0:
      case 1: {
        const std::string v = std::to_string(i);
        cache.Put(key, Value(v), 1h);
        model[key] = v;
        break;
      }
      case 2:
        ASSERT_EQ(cache.Erase(key), model.erase(key) == 1) << key;
        break;
      default: {
        const L1Entry e = cache.Get(key);
        const auto it = model.find(key);
        if (it == model.end()) {
          ASSERT_EQ(e.result, L1Result::kMiss) << key;
        } else {
          ASSERT_EQ(e.result, L1Result::kHit) << key;
          ASSERT_EQ(*e.value, it->second) << key;
        }
      }
    }
  }
  EXPECT_EQ(cache.entries(), model.size());
  EXPECT_EQ(cache.stats().rejected, 0u);
}

// PlainLru is the comparison point for scan resistance.
class PlainLru {
 public:
  explicit PlainLru(std::size_t capacity) : capacity_(capacity) {}
  bool GetOrFill(const std::string& key) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return true;
    }
    if (index_.size() == capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
    order_.push_front(key);
    index_[key] = order_.begin();
    return false;
  }

 private:
  std::size_t capacity_;
  std::list<std::string> order_;
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

class L1ScanTest : public ::testing::TestWithParam<bool> {};

TEST_P(L1ScanTest, HotSetSurvivesAScan) {
  FakeClock clock;
  L1Options options;
  options.max_entries = 1000;
  options.clock = &clock;
  options.doorkeeper = GetParam();
  L1Cache cache(options);
  PlainLru lru(1000);
  std::vector<std::string> hot;
  hot.reserve(300);
  for (int i = 0; i < 300; ++i) hot.push_back("hot:" + std::to_string(i));
  std::mt19937 rng(4);
  for (int round = 0; round < 10; ++round) {
    std::shuffle(hot.begin(), hot.end(), rng);
    for (const auto& k : hot) {
      GetOrFill(cache, k);
      lru.GetOrFill(k);
    }
  }
  for (int i = 0; i < 20000; ++i) {  // a one-pass scan, 20x the capacity
    const std::string cold = "cold:" + std::to_string(i);
    GetOrFill(cache, cold);
    lru.GetOrFill(cold);
  }
  int hits = 0, lru_hits = 0;
  for (const auto& k : hot) {
    hits += cache.Get(k).result == L1Result::kHit;
    lru_hits += lru.GetOrFill(k);
  }
  const double ratio = hits / 300.0;
  const double lru_ratio = lru_hits / 300.0;
  EXPECT_GE(ratio, 0.9) << "L1 kept " << hits << " of 300 hot keys";
  EXPECT_GE(ratio, lru_ratio + 0.5) << "LRU kept " << lru_hits;
  EXPECT_LE(cache.entries(), 1000u);
}

INSTANTIATE_TEST_SUITE_P(Doorkeeper, L1ScanTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

TEST(L1CacheTest, FrequencyAgesSoANewHotSetTakesOver) {
  // Without aging, the first hot set's saturated counters would keep the
  // second one out for good.
  FakeClock clock;
  L1Cache cache({.max_entries = 100, .shards = 1, .clock = &clock});
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 100; ++i) GetOrFill(cache, "a:" + std::to_string(i));
  }
  int hits = 0;
  for (int round = 0; round < 60; ++round) {
    hits = 0;
    for (int i = 0; i < 90; ++i) hits += GetOrFill(cache, "b:" + std::to_string(i));
  }
  EXPECT_GE(hits, 80) << "of 90 in the last round";
}

TEST(L1CacheTest, OnEvictMayCallBackIntoTheCache) {
  FakeClock clock;
  L1Cache* self = nullptr;
  std::size_t seen_entries = 0;
  int calls = 0;
  L1Cache cache({.max_entries = 64, .shards = 1, .clock = &clock, .on_evict = [&](EvictionCause) {
                   ++calls;
                   seen_entries = self->entries();  // would deadlock under the shard lock
                 }});
  self = &cache;
  for (int i = 0; i < 200; ++i) GetOrFill(cache, Key(i));
  EXPECT_GT(calls, 0);
  EXPECT_LE(seen_entries, 64u);
}

TEST(L1CacheTest, EvictionCauseNames) {
  EXPECT_STREQ(EvictionCauseName(EvictionCause::kSize), "size");
  EXPECT_STREQ(EvictionCauseName(EvictionCause::kExpired), "expired");
  EXPECT_STREQ(EvictionCauseName(EvictionCause::kIdle), "idle");
  EXPECT_STREQ(EvictionCauseName(EvictionCause::kInvalidated), "invalidated");
}

TEST(L1CacheTest, SteadyClockIsMonotonic) {
  const CacheClock& clock = CacheClock::Steady();
  std::int64_t last = clock.NowNanos();
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t now = clock.NowNanos();
    ASSERT_GE(now, last);
    last = now;
  }
}

TEST(L1CacheTest, ConcurrentMixedOperations) {
  // 8 threads mix Get, Put (values and "absent"), Erase and a reader of the
  // gauges, on the real clock with short TTLs and a time-to-idle so every
  // eviction cause happens. Run under TSan as well.
  EvictionLog log;
  constexpr std::size_t kMaxEntries = 512;
  constexpr std::size_t kMaxBytes = std::size_t{256} * 1024;
  L1Cache cache({.max_entries = kMaxEntries,
                 .max_bytes = kMaxBytes,
                 .shards = 4,
                 .time_to_idle = 2ms,
                 .on_evict = log.Callback()});
  std::atomic<bool> stop{false};
  std::thread gauges([&] {
    while (!stop.load()) {
      ASSERT_LE(cache.entries(), kMaxEntries);
      ASSERT_LE(cache.bytes(), kMaxBytes);
    }
  });
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&cache, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; i < 20000; ++i) {
        const std::string key = Key(static_cast<int>(rng() % 2000));
        const unsigned op = rng() % 10;
        if (op < 6) {
          const L1Entry e = cache.Get(key);
          if (e.result == L1Result::kHit) {
            ASSERT_EQ(e.value->substr(0, 2), "v:");
          } else if (e.result == L1Result::kMiss) {
            cache.Put(key, Value("v:" + std::string(rng() % 1000, 'x')),
                      std::chrono::microseconds(100 + rng() % 5000));
          }
        } else if (op < 8) {
          cache.Put(key, rng() % 4 == 0 ? nullptr : Value("v:" + key), 1s);
        } else if (op < 9) {
          cache.Erase(key);
        } else if (i % 1000 == 0) {
          cache.PurgeExpired();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  gauges.join();

  EXPECT_LE(cache.entries(), kMaxEntries);
  EXPECT_LE(cache.bytes(), kMaxBytes);
  const L1Stats s = cache.stats();
  EXPECT_EQ(s.inserts, cache.entries() + TotalEvictions(s));
  for (int c = 0; c < kEvictionCauseCount; ++c) {
    EXPECT_EQ(static_cast<std::uint64_t>(log[static_cast<EvictionCause>(c)]), s.evictions[c])
        << EvictionCauseName(static_cast<EvictionCause>(c));
  }
  EXPECT_GT(s.hits + s.negative_hits, 0u);
  EXPECT_GT(log[EvictionCause::kInvalidated], 0);
  EXPECT_GT(log[EvictionCause::kSize], 0);
}

}  // namespace
}  // namespace poolscope
