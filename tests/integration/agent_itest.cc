// The agent against real, private PostgreSQL and Redis servers that the test
// stops, restarts and freezes (scripts/fixtures/*.sh).
#include <regex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "http_get.h"
#include "poolscope/agent/agent.h"
#include "poolscope/pool/pool.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Eventually;
using ::poolscope::testing::HttpGet;
using ::poolscope::testing::ServerFixture;

constexpr auto kInterval = 500ms;

// Value returns the sample value of the exact series `series`, or -1.
double Value(const std::string& text, const std::string& series) {
  auto p = text.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::stod(text.substr(p + series.size() + 2));
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_TMP");
    pg_ = std::make_unique<ServerFixture>("pg", "agent-pg");
    redis_ = std::make_unique<ServerFixture>("redis", "agent-redis");
    ASSERT_TRUE(pg_->Do("start")) << "could not start PostgreSQL in " << pg_->dir();
    ASSERT_TRUE(redis_->Do("start")) << "could not start Redis in " << redis_->dir();
  }

  void StartAgent(bool debug = false) {
    Config cfg;
    cfg.http.listen = {"127.0.0.1", 0};
    cfg.http.debug = debug;
    cfg.postgres.push_back({"main", Dsn(pg_->Query("dsn")), "dsn", kInterval, 400ms});
    cfg.redis.push_back(
        {"cache",
         {"127.0.0.1", static_cast<std::uint16_t>(std::stoi(redis_->Query("port")))},
         kInterval,
         400ms});
    agent_ = std::make_unique<Agent>(std::move(cfg));
    ASSERT_TRUE(agent_->Start().ok());
  }

  double Metric(const std::string& series) {
    auto r = HttpGet(agent_->http_port(), "/metrics");
    EXPECT_EQ(r.status, 200);
    return Value(r.body, series);
  }

  bool Becomes(const std::string& series, double want, std::chrono::milliseconds within) {
    return Eventually(within, [&] { return Metric(series) == want; });
  }

  std::unique_ptr<ServerFixture> pg_;
  std::unique_ptr<ServerFixture> redis_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, PgUpFollowsTheServer) {
  StartAgent();
  const std::string up = R"(poolscope_pg_up{target="main"})";
  ASSERT_TRUE(Becomes(up, 1, 3s)) << "pg_up never became 1";
  ASSERT_TRUE(pg_->Do("stop"));
  EXPECT_TRUE(Becomes(up, 0, 2 * kInterval)) << "pg_up not 0 within two intervals of the stop";
  EXPECT_EQ(Metric(R"(poolscope_sampler_success{sampler="pg",target="main"})"), 0);
  ASSERT_TRUE(pg_->Do("start"));
  EXPECT_TRUE(Becomes(up, 1, 2 * kInterval)) << "pg_up not back to 1 within two intervals";
  EXPECT_GE(Metric(R"(poolscope_sampler_errors_total{sampler="pg",target="main"})"), 1);
}

TEST_F(AgentTest, RedisUpFollowsTheServer) {
  StartAgent();
  const std::string up = R"(poolscope_redis_up{target="cache"})";
  ASSERT_TRUE(Becomes(up, 1, 3s));
  ASSERT_TRUE(redis_->Do("stop"));
  EXPECT_TRUE(Becomes(up, 0, 2 * kInterval));
  ASSERT_TRUE(redis_->Do("start"));
  EXPECT_TRUE(Becomes(up, 1, 2 * kInterval));
}

TEST_F(AgentTest, TargetsDownAtStartDoNotStopTheAgentAndRecover) {
  ASSERT_TRUE(pg_->Do("stop"));
  ASSERT_TRUE(redis_->Do("stop"));
  StartAgent();
  EXPECT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 0, 2 * kInterval));
  EXPECT_TRUE(Becomes(R"(poolscope_redis_up{target="cache"})", 0, 2 * kInterval));
  EXPECT_EQ(HttpGet(agent_->http_port(), "/healthz").status, 200);
  ASSERT_TRUE(pg_->Do("start"));
  ASSERT_TRUE(redis_->Do("start"));
  EXPECT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 1, 2 * kInterval));
  EXPECT_TRUE(Becomes(R"(poolscope_redis_up{target="cache"})", 1, 2 * kInterval));
}

TEST_F(AgentTest, FrozenServerNeverDelaysAScrape) {
  StartAgent();
  ASSERT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 1, 3s));
  ASSERT_TRUE(pg_->Do("freeze"));
  ASSERT_TRUE(redis_->Do("freeze"));
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = HttpGet(agent_->http_port(), "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "a scrape waited on a server";
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 0, 2 * kInterval + 400ms));
  EXPECT_TRUE(Becomes(R"(poolscope_redis_up{target="cache"})", 0, 2 * kInterval + 400ms));
  ASSERT_TRUE(pg_->Do("thaw"));
  ASSERT_TRUE(redis_->Do("thaw"));
  EXPECT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 1, 3s));
  EXPECT_TRUE(Becomes(R"(poolscope_redis_up{target="cache"})", 1, 3s));
  auto t0 = std::chrono::steady_clock::now();
  agent_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST_F(AgentTest, EmbeddedPoolIsExportedAndDebuggable) {
  StartAgent(/*debug=*/true);
  EXPECT_TRUE(Eventually(3s, [&] {
    return Metric(R"(poolscope_pool_connections{pool="main",state="idle"})") >= 1;
  })) << "the embedded pool keeps min_idle (1) connection open (the canary may open a second)";
  EXPECT_EQ(Metric(R"(poolscope_pool_max_connections{pool="main"})"), 2);
  ASSERT_EQ(agent_->pool("main") != nullptr, true);
  auto lease = agent_->pool("main")->Acquire();
  ASSERT_TRUE(lease.ok());
  auto r = HttpGet(agent_->http_port(), "/debug/pool");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, ::testing::HasSubstr(R"("pool":"main")"));
  EXPECT_THAT(r.body, ::testing::HasSubstr("agent_itest.cc:"));
  EXPECT_THAT(r.body, ::testing::Not(::testing::HasSubstr("password")));
  lease->Release();
}

TEST_F(AgentTest, DebugPagesAreOffByDefault) {
  StartAgent();
  EXPECT_EQ(HttpGet(agent_->http_port(), "/debug/pool").status, 404);
}

TEST_F(AgentTest, MetricsPassPromtool) {
  if (::poolscope::testing::Run("command -v promtool >/dev/null") != 0) {
    GTEST_SKIP() << "promtool is not installed (apt-get install prometheus)";
  }
  StartAgent();
  ASSERT_TRUE(Becomes(R"(poolscope_pg_up{target="main"})", 1, 3s));
  auto r = HttpGet(agent_->http_port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* family :
       {"poolscope_build_info{", "process_cpu_seconds_total ", "process_resident_memory_bytes ",
        "process_open_fds ", "process_start_time_seconds ", "poolscope_redis_up{"}) {
    EXPECT_THAT(r.body, ::testing::HasSubstr(family));
  }
  std::string path = pg_->dir() + "/../metrics-" + std::to_string(::getpid()) + ".txt";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fwrite(r.body.data(), 1, r.body.size(), f);
  std::fclose(f);
  std::string out;
  int rc = ::poolscope::testing::Run("promtool check metrics < '" + path + "' 2>&1", &out);
  std::remove(path.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "promtool complained";
}

}  // namespace
}  // namespace poolscope
