// The demo workload against the real servers: it serves lookups through the
// cache and the pool, and its incidents show up in the pool's metrics.
#include <thread>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "poolscope/cache/redis_l2.h"
#include "poolscope/core/host_port.h"
#include "poolscope/demo/catalog_workload.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Env;

double Family(const MetricsBook& book, const std::string& name, const std::string& label,
              const std::string& value) {
  double sum = 0;
  for (const auto& f : book.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        if (l.name == label && l.value == value) {
          sum += f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
        }
      }
    }
  }
  return sum;
}

TEST(CatalogWorkloadTest, ServesLookupsAndMisbehavesOnSchedule) {
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_PG_DSN");
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_REDIS");
  auto book = std::make_shared<MetricsBook>();
  PoolConfig pc;
  pc.name = "catalog_itest";
  pc.dsn = Dsn(Env("POOLSCOPE_TEST_PG_DSN"));
  pc.max_size = 3;
  pc.leak_threshold = 200ms;
  pc.slow_query_threshold = 300ms;
  auto pool = Pool::Create(pc, book);
  ASSERT_TRUE(pool.ok());
  auto hp = *ParseHostPort(Env("POOLSCOPE_TEST_REDIS"));
  RedisL2Options ro;
  ro.host = hp.host;
  ro.port = hp.port;
  CacheConfig cc;
  cc.name = "catalog-" + std::to_string(::getpid());
  ByteCache cache(cc, std::make_shared<RedisL2>(ro), book);
  CatalogOptions opt;
  opt.products = 2000;
  opt.threads = 2;
  opt.misbehave_every = 400ms;
  opt.leak_hold = 500ms;
  opt.slow_query = 400ms;
  opt.burst_hold = 500ms;
  CatalogWorkload w(opt, **pool, cache);
  ASSERT_TRUE(w.Prepare().ok());
  auto found = w.Lookup(1);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  auto absent = w.Lookup(opt.products + 5);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  {
    std::jthread run([&](std::stop_token stop) { w.Run(stop); });
    std::this_thread::sleep_for(3500ms);
  }
  EXPECT_GT(w.stats().lookups, 100u);
  EXPECT_GT(w.stats().found, 0u);
  EXPECT_GT(w.stats().absent, 0u);
  EXPECT_GE(w.stats().incidents, 3u);
  EXPECT_GT(w.stats().batches, 0u) << "batched lookups (GetMany, WHERE id = ANY($1))";
  EXPECT_GT(w.stats().writes, 0u) << "price updates that invalidate the cache";
  EXPECT_GE(Family(*book, "poolscope_slow_queries_total", "pool", "catalog_itest"), 1);
  EXPECT_GE(Family(*book, "poolscope_pool_leaks_suspected_total", "pool", "catalog_itest"), 1);
  EXPECT_GE(Family(*book, "poolscope_pool_acquires_total", "outcome", "timeout"), 1);
  EXPECT_GT(Family(*book, "poolscope_cache_requests_total", "result", "negative_hit"), 0);
}

}  // namespace
}  // namespace poolscope
