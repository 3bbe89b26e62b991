// The two-level cache against the real throw-away Redis and PostgreSQL.
#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "poolscope/cache/cache.h"
#include "poolscope/cache/redis_l2.h"
#include "poolscope/core/host_port.h"
#include "poolscope/pool/pool.h"
#include "poolscope/samplers/redis_info.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Env;
using ::poolscope::testing::Eventually;
using ::poolscope::testing::ServerFixture;

double Counter(const MetricsBook& book, const std::string& name, const prometheus::Labels& want) {
  double sum = 0;
  for (const auto& f : book.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      prometheus::Labels have;
      for (const auto& l : m.label) have[l.name] = l.value;
      bool match = true;
      for (const auto& [k, v] : want) match = match && have.count(k) && have[k] == v;
      if (match) sum += f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return sum;
}

RedisL2Options RedisAt(const std::string& addr) {
  auto hp = ParseHostPort(addr);
  RedisL2Options o;
  o.host = hp->host;
  o.port = hp->port;
  return o;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_REDIS");
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_PG_DSN");
    PoolConfig pc;
    pc.name = "cache_itest";
    pc.dsn = Dsn(Env("POOLSCOPE_TEST_PG_DSN"));
    pc.max_size = 4;
    auto pool = Pool::Create(pc);
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(*pool);
    auto l = pool_->Acquire();
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE(l->Query("CREATE TABLE IF NOT EXISTS cache_itest_products "
                         "(id bigint PRIMARY KEY, name text)")
                    .ok());
    ASSERT_TRUE(l->Query("INSERT INTO cache_itest_products SELECT g, 'product ' || g "
                         "FROM generate_series(1, 100) g ON CONFLICT DO NOTHING")
                    .ok());
  }

  CacheConfig Config(const std::string& name) {
    CacheConfig c;
    // A fresh Redis namespace per test run: names are unique per process.
    c.name = name + "-" + std::to_string(::getpid());
    return c;
  }

  // Load reads one product through the pool; counts calls.
  ByteCache::Loader Loader() {
    return [this](const std::string& id) -> Result<std::optional<std::string>> {
      ++loads_;
      auto l = pool_->Acquire();
      if (!l) return Error(l.error().code, l.error().message);
      auto r =
          l->QueryPrepared("SELECT name FROM cache_itest_products WHERE id = $1::bigint", {id});
      if (!r) return r.error();
      if (r->empty()) return std::optional<std::string>();
      return std::optional<std::string>(std::string(r->Get(0, 0)));
    };
  }

  std::unique_ptr<Pool> pool_;
  std::atomic<int> loads_{0};
};

TEST_F(CacheTest, HitsAndMissesPerLevelAndNegativeCaching) {
  auto book = std::make_shared<MetricsBook>();
  auto cfg = Config("levels");
  auto l2 = std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS")));
  ByteCache a(cfg, l2, book);
  auto v = a.Get("7", Loader());
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(**v, "product 7");
  EXPECT_EQ(loads_, 1);
  v = a.Get("7", Loader());  // L1 hit
  EXPECT_EQ(**v, "product 7");
  EXPECT_EQ(loads_, 1);
  // A second instance (another process, in effect) finds it in L2.
  ByteCache b(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))), book);
  v = b.Get("7", Loader());
  EXPECT_EQ(**v, "product 7");
  EXPECT_EQ(loads_, 1);
  const std::string n = cfg.name;
  EXPECT_EQ(Counter(*book, "poolscope_cache_requests_total",
                    {{"cache", n}, {"level", "l1"}, {"result", "hit"}}),
            1);
  EXPECT_EQ(Counter(*book, "poolscope_cache_requests_total",
                    {{"cache", n}, {"level", "l1"}, {"result", "miss"}}),
            2);
  EXPECT_EQ(Counter(*book, "poolscope_cache_requests_total",
                    {{"cache", n}, {"level", "l2"}, {"result", "hit"}}),
            1);
  EXPECT_EQ(Counter(*book, "poolscope_cache_requests_total",
                    {{"cache", n}, {"level", "l2"}, {"result", "miss"}}),
            1);
  // Penetration: a missing id is loaded once and then served as absent.
  for (int i = 0; i < 5; ++i) {
    auto none = a.Get("100000", Loader());
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
  }
  EXPECT_EQ(loads_, 2);
  auto none = b.Get("100000", Loader());  // absent is cached in L2 too
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(loads_, 2);
  EXPECT_EQ(Counter(*book, "poolscope_cache_requests_total",
                    {{"cache", n}, {"level", "l2"}, {"result", "negative_hit"}}),
            1);
  EXPECT_EQ(Counter(*book, "poolscope_cache_loads_total", {{"cache", n}, {"outcome", "absent"}}),
            1);
}

TEST_F(CacheTest, GetManyBatchesTheMisses) {
  auto cfg = Config("many");
  ByteCache c(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))));
  ASSERT_TRUE(c.Get("1", Loader()).ok());
  int batches = 0;
  std::size_t batch_size = 0;
  auto batch =
      [&](const std::vector<std::string>& ids) -> Result<std::map<std::string, std::string>> {
    ++batches;
    batch_size = ids.size();
    std::vector<std::int64_t> nums;
    for (const auto& id : ids) nums.push_back(std::stoll(id));
    auto l = pool_->Acquire();
    if (!l) return Error(l.error().code, l.error().message);
    auto r = l->QueryPrepared("SELECT id, name FROM cache_itest_products WHERE id = ANY($1)",
                              {Param::Array(nums)});
    if (!r) return r.error();
    std::map<std::string, std::string> out;
    for (int i = 0; i < r->size(); ++i) out.emplace(std::string(r->Get(i, 0)), r->Get(i, 1));
    return out;
  };
  auto got = c.GetMany({"1", "2", "3", "99999", "2"}, batch);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(batches, 1);
  EXPECT_EQ(batch_size, 3u) << "1 was in L1; 2 is asked twice";
  EXPECT_EQ(*(*got)[0], "product 1");
  EXPECT_EQ(*(*got)[2], "product 3");
  EXPECT_FALSE((*got)[3].has_value());
  EXPECT_EQ(*(*got)[4], "product 2");
}

TEST_F(CacheTest, ThousandConcurrentMissesCauseOneLoad) {
  auto book = std::make_shared<MetricsBook>();
  auto cfg = Config("stampede");
  ByteCache c(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))), book);
  std::atomic<int> calls{0};
  std::atomic<bool> go{false};
  auto slow_loader = [&](const std::string&) -> Result<std::optional<std::string>> {
    ++calls;
    std::this_thread::sleep_for(200ms);  // a slow query: everyone else piles up
    return std::optional<std::string>("v");
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 1000; ++i) {
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      auto r = c.Get("hot", slow_loader);
      if (r.ok() && r->has_value() && **r == "v") ++ok;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ok, 1000);
  EXPECT_GE(Counter(*book, "poolscope_cache_coalesced_total", {{"cache", cfg.name}}), 1);
}

TEST_F(CacheTest, InvalidationReachesTheOtherInstance) {
  auto cfg = Config("coherence");
  ByteCache a(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))));
  ByteCache b(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))));
  std::this_thread::sleep_for(200ms);  // both subscribed
  ASSERT_TRUE(a.Get("5", Loader()).ok());
  ASSERT_TRUE(b.Get("5", Loader()).ok());
  ASSERT_EQ(b.l1().Get("5").result, L1Result::kHit);
  ASSERT_TRUE(a.Invalidate("5").ok());
  EXPECT_TRUE(Eventually(1s, [&] { return b.l1().Get("5").result == L1Result::kMiss; }))
      << "b still serves its L1 copy after the invalidation";
  // Put publishes too: b drops its old copy and sees the new value from L2.
  ASSERT_TRUE(b.Get("5", Loader()).ok());
  ASSERT_TRUE(a.Put("5", "renamed").ok());
  EXPECT_TRUE(Eventually(1s, [&] { return b.l1().Get("5").result == L1Result::kMiss; }));
  auto v = b.Get("5", Loader());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(**v, "renamed");
}

TEST_F(CacheTest, JitterSpreadsTheTtls) {
  auto cfg = Config("jitter");
  cfg.ttl = 100s;
  cfg.jitter = 0.2;
  ByteCache c(cfg, std::make_shared<RedisL2>(RedisAt(Env("POOLSCOPE_TEST_REDIS"))));
  const auto written = std::chrono::steady_clock::now();
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(c.Get(std::to_string(i), Loader()).ok());
  // Read the TTLs Redis holds.
  RedisL2 raw(RedisAt(Env("POOLSCOPE_TEST_REDIS")));
  std::vector<double> ttls;
  for (int i = 1; i <= 100; ++i) {
    std::string out;
    std::string key = "poolscope:" + cfg.name + ":" + std::to_string(i);
    auto addr = *ParseHostPort(Env("POOLSCOPE_TEST_REDIS"));
    ::poolscope::testing::Run(
        "redis-cli -h " + addr.host + " -p " + std::to_string(addr.port) + " PTTL '" + key + "'",
        &out);
    ttls.push_back(std::stod(out) / 1000);
  }
  auto [lo, hi] = std::minmax_element(ttls.begin(), ttls.end());
  // The TTLs count down while they are read (100 redis-cli runs take seconds
  // on a loaded machine): allow for the time since the first write.
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - written).count();
  EXPECT_GE(*lo + elapsed, 79.0);
  EXPECT_LE(*hi, 120.5);
  EXPECT_GT(*hi - *lo, 20.0) << "TTLs must spread over most of ±20%";
}

TEST_F(CacheTest, RedisKilledMidRunFailsOpenThenResumes) {
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
  ServerFixture redis("redis", "cache-kill");
  ASSERT_TRUE(redis.Do("start"));
  auto book = std::make_shared<MetricsBook>();
  auto cfg = Config("failopen");
  cfg.l1_ttl = 200ms;  // L1 expires fast so L2 is exercised
  RedisL2Options ro = RedisAt(redis.Query("addr"));
  ro.breaker_cooldown = 300ms;
  ByteCache c(cfg, std::make_shared<RedisL2>(ro), book);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        auto r = c.Get(std::to_string(1 + (i + t) % 20), Loader());
        (r.ok() && r->has_value()) ? ++answered : ++failed;
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(redis.Do("kill"));
  std::this_thread::sleep_for(800ms);
  const double errors = Counter(*book, "poolscope_cache_l2_errors_total", {{"cache", cfg.name}});
  EXPECT_GT(errors, 0);
  ASSERT_TRUE(redis.Do("start"));
  const double hits_before = Counter(*book, "poolscope_cache_requests_total",
                                     {{"cache", cfg.name}, {"level", "l2"}, {"result", "hit"}});
  EXPECT_TRUE(Eventually(5s, [&] {
    return Counter(*book, "poolscope_cache_requests_total",
                   {{"cache", cfg.name}, {"level", "l2"}, {"result", "hit"}}) > hits_before;
  })) << "L2 never resumed after Redis came back";
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failed, 0) << "every read must answer while Redis is down";
  EXPECT_GT(answered, 100);
}

// RedisInfoNumber reads one INFO field of the Redis at addr (NaN when absent).
double RedisInfoNumber(const std::string& addr, const std::string& field) {
  auto hp = ParseHostPort(addr);
  std::string out;
  ::poolscope::testing::Run(
      "redis-cli -h " + hp->host + " -p " + std::to_string(hp->port) + " INFO", &out);
  return ParseRedisInfo(out).Number(field);
}

TEST_F(CacheTest, RedisConnectionsStayWithinThePoolUnderContention) {
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
  ServerFixture redis("redis", "cache-pool-cap");  // private: nobody else connects to it
  ASSERT_TRUE(redis.Do("start"));
  const std::string addr = redis.Query("addr");
  const double before = RedisInfoNumber(addr, "total_connections_received");
  ASSERT_GE(before, 0) << "redis-cli INFO failed";
  RedisL2Options ro = RedisAt(addr);
  ro.pool_size = 2;
  ro.op_timeout = 5s;  // room for sanitizer builds; the cap is what is tested
  RedisL2 l2(ro);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const std::string key = "cap:" + std::to_string(t) + ":" + std::to_string(i % 5);
        if (!l2.Set(key, "v", std::chrono::milliseconds(60000)).ok()) ++failed;
        auto got = l2.MGet({key});
        if (!got || got->size() != 1 || (*got)[0] != std::optional<std::string>("v")) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  // 24 threads, 4,800 commands, a pool of 2: two connections opened, kept.
  const double opened =
      RedisInfoNumber(addr, "total_connections_received") - before - 1;  // - the INFO itself
  EXPECT_LE(opened, 2) << "RedisL2 opened connections beyond pool_size under contention";
  EXPECT_GE(opened, 1);
}

TEST_F(CacheTest, ByteBoundIsRespected) {
  auto cfg = Config("bytes");
  cfg.l1.max_bytes = 64 * 1024;
  cfg.l1.max_entries = 100000;
  ByteCache c(cfg, nullptr);
  const std::string big(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    auto r = c.Get("k" + std::to_string(i),
                   [&](const std::string&) -> Result<std::optional<std::string>> {
                     return std::optional<std::string>(big);
                   });
    ASSERT_TRUE(r.ok());
    ASSERT_LE(c.l1().bytes(), cfg.l1.max_bytes);
  }
  EXPECT_GT(c.l1().entries(), 10u);
}

}  // namespace
}  // namespace poolscope
