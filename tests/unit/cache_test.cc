// ByteCache logic with a scripted L2 and an injected clock: no server needed.
#include "poolscope/cache/cache.h"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using namespace std::chrono_literals;

class FakeClock : public CacheClock {
 public:
  std::int64_t NowNanos() const override { return now.load(); }
  void Advance(std::chrono::nanoseconds d) { now += d.count(); }
  std::atomic<std::int64_t> now{1'000'000'000};
};

// MapL2 is an in-memory L2 that can be told to fail.
class MapL2 : public L2Store {
 public:
  Result<std::vector<std::optional<std::string>>> MGet(
      const std::vector<std::string>& keys) override {
    std::lock_guard lock(mu);
    ++mgets;
    if (down) return Error(ErrorCode::kUnavailable, "down");
    std::vector<std::optional<std::string>> out;
    for (const auto& k : keys) {
      auto it = data.find(k);
      out.push_back(it == data.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    return out;
  }
  Status Set(const std::string& k, const std::string& v, std::chrono::milliseconds ttl) override {
    std::lock_guard lock(mu);
    if (down) return Error(ErrorCode::kUnavailable, "down");
    data[k] = v;
    ttls.push_back(ttl);
    return OkStatus();
  }
  Status Del(const std::string& k) override {
    std::lock_guard lock(mu);
    if (down) return Error(ErrorCode::kUnavailable, "down");
    data.erase(k);
    return OkStatus();
  }
  Status Publish(const std::string&, const std::string& m) override {
    std::lock_guard lock(mu);
    published.push_back(m);
    return OkStatus();
  }
  void Subscribe(const std::string&, std::function<void(const std::string&)>,
                 std::function<void()>) override {}

  std::mutex mu;
  bool down = false;
  int mgets = 0;
  std::map<std::string, std::string> data;
  std::vector<std::chrono::milliseconds> ttls;
  std::vector<std::string> published;
};

ByteCache::Loader Counting(std::atomic<int>* calls, std::optional<std::string> value) {
  return [calls, value](const std::string&) -> Result<std::optional<std::string>> {
    ++*calls;
    return value;
  };
}

TEST(CacheUnitTest, L1ExpiresAfterItsTtlAndIdleTime) {
  FakeClock clock;
  CacheConfig cfg;
  cfg.jitter = 0;
  cfg.l1_ttl = 10s;
  cfg.l1.time_to_idle = 3s;
  cfg.l1.clock = &clock;
  ByteCache c(cfg, nullptr);
  std::atomic<int> calls{0};
  ASSERT_TRUE(c.Get("k", Counting(&calls, "v")).ok());
  clock.Advance(2s);
  ASSERT_TRUE(c.Get("k", Counting(&calls, "v")).ok());
  EXPECT_EQ(calls, 1) << "2s idle < 3s";
  clock.Advance(4s);
  ASSERT_TRUE(c.Get("k", Counting(&calls, "v")).ok());
  EXPECT_EQ(calls, 2) << "idle past time_to_idle";
  for (int i = 0; i < 5; ++i) {
    clock.Advance(2s);
    ASSERT_TRUE(c.Get("k", Counting(&calls, "v")).ok());
  }
  EXPECT_EQ(calls, 3) << "expired by ttl (10s) though never idle for 3s";
}

TEST(CacheUnitTest, NegativeEntriesHaveTheirOwnTtl) {
  FakeClock clock;
  CacheConfig cfg;
  cfg.jitter = 0;
  cfg.negative_ttl = 5s;
  cfg.l1.clock = &clock;
  auto l2 = std::make_shared<MapL2>();
  ByteCache c(cfg, l2);
  std::atomic<int> calls{0};
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("missing", Counting(&calls, std::nullopt));
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
  }
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(l2->ttls.size(), 1u);
  EXPECT_EQ(l2->ttls[0], 5000ms);
  EXPECT_EQ(l2->data.begin()->second, "n");
  clock.Advance(6s);
  l2->data.clear();
  ASSERT_TRUE(c.Get("missing", Counting(&calls, std::nullopt)).ok());
  EXPECT_EQ(calls, 2);
}

TEST(CacheUnitTest, JitterStaysWithinBounds) {
  CacheConfig cfg;
  cfg.ttl = 100s;
  cfg.jitter = 0.2;
  auto l2 = std::make_shared<MapL2>();
  ByteCache c(cfg, l2);
  std::atomic<int> calls{0};
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(c.Get(std::to_string(i), Counting(&calls, "v")).ok());
  auto [lo, hi] = std::minmax_element(l2->ttls.begin(), l2->ttls.end());
  EXPECT_GE(*lo, 80000ms);
  EXPECT_LE(*hi, 120000ms);
  EXPECT_GT(*hi - *lo, 30000ms);
}

TEST(CacheUnitTest, L2DownFailsOpen) {
  auto l2 = std::make_shared<MapL2>();
  l2->down = true;
  auto book = std::make_shared<MetricsBook>();
  ByteCache c(CacheConfig{}, l2, book);
  std::atomic<int> calls{0};
  auto r = c.Get("k", Counting(&calls, "v"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, "v");
  double errors = 0;
  for (const auto& f : book->Collect()) {
    if (f.name == "poolscope_cache_l2_errors_total") errors = f.metric[0].counter.value;
  }
  EXPECT_EQ(errors, 2) << "the MGET and the SET";
  EXPECT_FALSE(c.Invalidate("k").ok());
  EXPECT_EQ(c.l1().Get("k").result, L1Result::kMiss) << "L1 is dropped even when L2 is down";
}

TEST(CacheUnitTest, LoaderErrorsAreNotCached) {
  ByteCache c(CacheConfig{}, nullptr);
  int calls = 0;
  auto failing = [&](const std::string&) -> Result<std::optional<std::string>> {
    ++calls;
    return Error(ErrorCode::kUnavailable, "db down");
  };
  EXPECT_FALSE(c.Get("k", failing).ok());
  EXPECT_FALSE(c.Get("k", failing).ok());
  EXPECT_EQ(calls, 2);
}

TEST(CacheUnitTest, CoalescedWaitersAreBoundedByLoadTimeout) {
  CacheConfig cfg;
  cfg.load_timeout = 100ms;
  ByteCache c(cfg, nullptr);
  std::thread slow([&] {
    auto r = c.Get("k", [](const std::string&) -> Result<std::optional<std::string>> {
      std::this_thread::sleep_for(500ms);
      return std::optional<std::string>("v");
    });
    EXPECT_TRUE(r.ok());
  });
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("k", [](const std::string&) -> Result<std::optional<std::string>> {
    ADD_FAILURE() << "a second load";
    return std::optional<std::string>("w");
  });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  slow.join();
}

TEST(CacheUnitTest, TypedCacheEncodesValues) {
  TypedCache<std::string, std::int64_t> c(CacheConfig{}, std::make_shared<MapL2>());
  auto r = c.Get("answer", [](const std::string&) -> Result<std::optional<std::int64_t>> {
    return std::optional<std::int64_t>(42);
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 42);
  ASSERT_TRUE(c.Put("answer", 43).ok());
  r = c.Get("answer", [](const std::string&) -> Result<std::optional<std::int64_t>> {
    return std::optional<std::int64_t>(0);
  });
  EXPECT_EQ(**r, 43);
}

TEST(CacheUnitTest, ConfigValidationNamesTheKnob) {
  CacheConfig c;
  c.jitter = 2;
  EXPECT_EQ(ValidateCacheConfig(c).error().message, "jitter: must be from 0 to 0.9");
  c = CacheConfig{};
  c.negative_ttl = Duration::zero();
  EXPECT_EQ(ValidateCacheConfig(c).error().message, "negative_ttl: must be more than 0");
}

}  // namespace
}  // namespace poolscope
