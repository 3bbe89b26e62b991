// The agent's view of the database tier against the real servers: the
// PostgreSQL server view (pg_stat_activity, limits, pg_stat_statements), Redis
// INFO, PgBouncer's admin console, the canary, /health/db, /readyz and
// Reload. Uses the shared PostgreSQL and Redis of scripts/test.sh and a
// private PgBouncer in front of that PostgreSQL.
#include <libpq-fe.h>

#include <regex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "http_get.h"
#include "poolscope/agent/agent.h"
#include "poolscope/pool/pool.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Env;
using ::poolscope::testing::Eventually;
using ::poolscope::testing::HttpGet;
using ::poolscope::testing::ServerFixture;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kInterval = 300ms;

// Value returns the sample value of the exact series `series`, or -1.
double Value(const std::string& text, const std::string& series) {
  auto p = text.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::stod(text.substr(p + series.size() + 2));
}

// Conn is a raw libpq session the test drives from outside the agent.
struct Conn {
  explicit Conn(const std::string& dsn) : pg(PQconnectdb(dsn.c_str())) {}
  ~Conn() { PQfinish(pg); }
  bool ok() const { return PQstatus(pg) == CONNECTION_OK; }
  bool Exec(const std::string& sql) {
    PGresult* r = PQexec(pg, sql.c_str());
    const bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return good;
  }
  PGconn* pg;
};

std::string WithApp(const std::string& dsn, const std::string& app) {
  return dsn + " application_name=" + app;
}

class TierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_PG_DSN");
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_REDIS");
    dsn_ = Env("POOLSCOPE_TEST_PG_DSN");
  }

  Config BaseConfig() {
    Config cfg;
    cfg.source = "tier_itest";
    cfg.http.listen = {"127.0.0.1", 0};
    PostgresTarget pg;
    pg.name = "main";
    pg.dsn = Dsn(dsn_);
    pg.interval = kInterval;
    pg.timeout = 2s;
    pg.long_query_threshold = 500ms;
    pg.statements_top = 10;
    cfg.postgres.push_back(pg);
    auto redis = *ParseHostPort(Env("POOLSCOPE_TEST_REDIS"));
    cfg.redis.push_back({"cache", redis, kInterval, 2s});
    return cfg;
  }

  void StartAgent(Config cfg) {
    agent_ = std::make_unique<Agent>(std::move(cfg));
    ASSERT_TRUE(agent_->Start().ok());
  }

  std::string Scrape() {
    auto r = HttpGet(agent_->http_port(), "/metrics");
    EXPECT_EQ(r.status, 200);
    return r.body;
  }
  double Metric(const std::string& series) { return Value(Scrape(), series); }
  // Reaches waits until `series` is at least `want`.
  bool Reaches(const std::string& series, double want, std::chrono::milliseconds within = 5s) {
    return Eventually(within, [&] { return Metric(series) >= want; });
  }

  std::string dsn_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(TierTest, IdleInTransactionShowsUnderItsApplication) {
  StartAgent(BaseConfig());
  Conn leaky(WithApp(dsn_, "leaky-app"));
  ASSERT_TRUE(leaky.ok());
  ASSERT_TRUE(leaky.Exec("BEGIN"));
  ASSERT_TRUE(leaky.Exec("SELECT 1"));
  EXPECT_TRUE(Reaches(
      R"(poolscope_pg_connections{target="main",application="leaky-app",state="idle_in_transaction"})",
      1));
  EXPECT_TRUE(Reaches(
      R"(poolscope_pg_idle_in_transaction_max_seconds{target="main",application="leaky-app"})",
      1.0))
      << "the open transaction's age must show and grow";
  ASSERT_TRUE(leaky.Exec("COMMIT"));
  EXPECT_TRUE(Eventually(5s, [&] {
    return Metric(
               R"(poolscope_pg_idle_in_transaction_max_seconds{target="main",application="leaky-app"})") ==
           0;
  })) << "a committed session is idle, not idle in transaction";
  // The agent's own connections are attributed to it.
  EXPECT_TRUE(Reaches(
      R"(poolscope_pg_connections{target="main",application="poolscope-agent",state="idle"})", 1));
  EXPECT_GT(Metric(R"(poolscope_pg_max_connections{target="main"})"), 0);
  EXPECT_GE(Metric(R"(poolscope_pg_reserved_connections{target="main"})"), 0);
}

TEST_F(TierTest, LongRunningQueryIsCountedPerApplication) {
  StartAgent(BaseConfig());
  Conn slow(WithApp(dsn_, "slow-app"));
  ASSERT_TRUE(slow.ok());
  ASSERT_EQ(PQsendQuery(slow.pg, "SELECT pg_sleep(4)"), 1);
  EXPECT_TRUE(
      Reaches(R"(poolscope_pg_long_running_queries{target="main",application="slow-app"})", 1, 4s));
  EXPECT_GE(Metric(R"(poolscope_pg_oldest_query_seconds{target="main"})"), 0.5);
  while (PGresult* r = PQgetResult(slow.pg)) PQclear(r);
  EXPECT_TRUE(Eventually(5s, [&] {
    return Metric(R"(poolscope_pg_long_running_queries{target="main",application="slow-app"})") ==
           0;
  }));
}

TEST_F(TierTest, ApplicationLabelsAreCapped) {
  Config cfg = BaseConfig();
  cfg.postgres[0].application_labels = 3;
  StartAgent(std::move(cfg));
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 6; ++i) {
    conns.push_back(std::make_unique<Conn>(WithApp(dsn_, "capped-" + std::to_string(i))));
    ASSERT_TRUE(conns.back()->ok());
  }
  ASSERT_TRUE(Eventually(5s, [&] {
    return Scrape().find(R"(poolscope_pg_connections{target="main",application="other")") !=
           std::string::npos;
  }));
  const std::string text = Scrape();
  std::set<std::string> apps;
  std::regex re(R"re(poolscope_pg_connections\{target="main",application="([^"]*)")re");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    apps.insert((*it)[1]);
  }
  EXPECT_LE(apps.size(), 3u) << "application labels past the cap fold into other";
}

TEST_F(TierTest, TopStatementsStayCappedUnderFiveThousandStatements) {
  Conn admin(dsn_);
  ASSERT_TRUE(admin.ok());
  if (!admin.Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements") ||
      !admin.Exec("SELECT pg_stat_statements_reset()")) {
    GTEST_SKIP() << "pg_stat_statements is not available on the test server "
                    "(shared_preload_libraries)";
  }
  // 5,041 statements that pg_stat_statements keeps apart: the shape differs
  // (number of columns x number of conditions), not only the constants.
  ASSERT_TRUE(admin.Exec("BEGIN"));
  for (int cols = 1; cols <= 71; ++cols) {
    for (int conds = 1; conds <= 71; ++conds) {
      std::string sql = "SELECT 1";
      for (int c = 1; c < cols; ++c) sql += ", 1";
      sql += " WHERE 1 = 1";
      for (int c = 1; c < conds; ++c) sql += " AND 1 = 1";
      ASSERT_TRUE(admin.Exec(sql));
    }
  }
  ASSERT_TRUE(admin.Exec("COMMIT"));
  StartAgent(BaseConfig());
  ASSERT_TRUE(Eventually(10s, [&] {
    return Scrape().find("poolscope_pg_statement_calls_total{target=\"main\"") != std::string::npos;
  }));
  const std::string text = Scrape();
  std::regex re(R"re(poolscope_pg_statement_calls_total\{target="main",statement="([^"]*)"\})re");
  int series = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    ++series;
    EXPECT_TRUE(std::regex_match((*it)[1].str(), std::regex("[0-9a-f]{16}|other")))
        << "statement labels are fingerprint ids, never SQL: " << (*it)[1];
  }
  EXPECT_GE(series, 1);
  EXPECT_LE(series, 10) << "statements_top caps the series";
  EXPECT_THAT(text, Not(HasSubstr("AND 1 = 1")));
  EXPECT_THAT(text, HasSubstr("poolscope_pg_statement_seconds_total{"));
}

TEST_F(TierTest, RedisInfoIsExported) {
  StartAgent(BaseConfig());
  ASSERT_TRUE(Reaches(R"(poolscope_redis_connected_clients{target="cache"})", 1));
  const double misses = Metric(R"(poolscope_redis_keyspace_misses_total{target="cache"})");
  ASSERT_GE(misses, 0);
  auto addr = *ParseHostPort(Env("POOLSCOPE_TEST_REDIS"));
  const std::string cli = "redis-cli -h " + addr.host + " -p " + std::to_string(addr.port) + " ";
  ASSERT_EQ(::poolscope::testing::Run(cli + "GET tier-itest-absent-key >/dev/null"), 0);
  EXPECT_TRUE(Reaches(R"(poolscope_redis_keyspace_misses_total{target="cache"})", misses + 1))
      << "a GET of a missing key must show as a keyspace miss";
  EXPECT_GT(Metric(R"(poolscope_redis_memory_used_bytes{target="cache"})"), 0);
  EXPECT_GT(Metric(R"(poolscope_redis_max_clients{target="cache"})"), 0);
  EXPECT_GE(Metric(R"(poolscope_redis_memory_max_bytes{target="cache"})"), 0);
  EXPECT_GE(Metric(R"(poolscope_redis_evicted_keys_total{target="cache"})"), 0);
}

TEST_F(TierTest, PgBouncerPoolsAndStatsAndRecovery) {
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
  POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_TMP");
  std::smatch port;
  ASSERT_TRUE(std::regex_search(dsn_, port, std::regex("port=([0-9]+)")));
  ServerFixture bouncer("pgbouncer", "tier-pgbouncer");
  ASSERT_TRUE(::poolscope::testing::Run(Env("POOLSCOPE_FIXTURES") + "/pgbouncer.sh start '" +
                                        bouncer.dir() + "' " + port[1].str() + " >/dev/null") == 0)
      << "could not start PgBouncer in " << bouncer.dir();
  const std::string bport = bouncer.Query("port");
  const std::string admin_dsn = "host=127.0.0.1 port=" + bport + " dbname=pgbouncer user=postgres";
  Conn admin(admin_dsn);
  ASSERT_TRUE(admin.ok()) << PQerrorMessage(admin.pg);
  ASSERT_TRUE(admin.Exec("SET default_pool_size = 1"));

  Config cfg = BaseConfig();
  PgBouncerTarget b;
  b.name = "bouncer";
  b.dsn = Dsn(admin_dsn);
  b.interval = kInterval;
  b.timeout = 2s;
  cfg.pgbouncer.push_back(b);
  StartAgent(std::move(cfg));
  ASSERT_TRUE(Reaches(R"(poolscope_pgbouncer_up{target="bouncer"})", 1));

  // One client holds the only server connection; a second one waits.
  const std::string via = bouncer.Query("dsn");
  Conn holder(via), waiter(via);
  ASSERT_TRUE(holder.ok() && waiter.ok());
  ASSERT_EQ(PQsendQuery(holder.pg, "SELECT pg_sleep(3)"), 1);
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(PQsendQuery(waiter.pg, "SELECT 1"), 1);
  EXPECT_TRUE(Reaches(
      R"(poolscope_pgbouncer_client_waiting_connections{target="bouncer",database="postgres"})", 1,
      3s));
  EXPECT_TRUE(Reaches(
      R"(poolscope_pgbouncer_server_connections{target="bouncer",database="postgres",state="active"})",
      1, 3s));
  EXPECT_GT(Metric(R"(poolscope_pgbouncer_max_wait_seconds{target="bouncer",database="postgres"})"),
            0);
  while (PGresult* r = PQgetResult(holder.pg)) PQclear(r);
  while (PGresult* r = PQgetResult(waiter.pg)) PQclear(r);
  EXPECT_TRUE(
      Reaches(R"(poolscope_pgbouncer_queries_total{target="bouncer",database="postgres"})", 2));

  // Down and back.
  ASSERT_TRUE(bouncer.Do("stop"));
  EXPECT_TRUE(
      Eventually(5s, [&] { return Metric(R"(poolscope_pgbouncer_up{target="bouncer"})") == 0; }));
  EXPECT_THAT(Scrape(), Not(HasSubstr("poolscope_pgbouncer_client_waiting_connections{")))
      << "a down PgBouncer's figures are cleared, not served stale";
  ASSERT_TRUE(bouncer.Do("start"));
  EXPECT_TRUE(Reaches(R"(poolscope_pgbouncer_up{target="bouncer"})", 1, 5s));
  EXPECT_TRUE(Eventually(5s, [&] {
    return Scrape().find(R"(poolscope_pgbouncer_client_active_connections{target="bouncer")") !=
           std::string::npos;
  })) << "the restarted PgBouncer's pools are sampled again";
}

TEST_F(TierTest, CanaryHealthAndReadiness) {
  Config cfg = BaseConfig();
  PostgresTarget down;
  down.name = "nowhere";
  down.dsn = Dsn("host=127.0.0.1 port=1 dbname=postgres user=postgres connect_timeout=1");
  down.interval = kInterval;
  down.timeout = 250ms;
  cfg.postgres.push_back(down);
  StartAgent(std::move(cfg));
  EXPECT_TRUE(Reaches(R"(poolscope_canary_seconds_count{phase="query",target="main"})", 2));
  EXPECT_GE(Metric(R"(poolscope_canary_seconds_count{phase="acquire",target="main"})"), 2);
  EXPECT_TRUE(Reaches(R"(poolscope_sampler_success{sampler="canary",target="main"})", 1));
  EXPECT_EQ(Metric(R"(poolscope_sampler_success{sampler="canary",target="nowhere"})"), 0);

  auto health = HttpGet(agent_->http_port(), "/health/db");
  EXPECT_EQ(health.status, 200);
  EXPECT_THAT(health.body, HasSubstr(R"("target":"main")"));
  EXPECT_THAT(health.body, HasSubstr(R"("max":2)"));
  EXPECT_THAT(health.body, HasSubstr(R"("target":"nowhere")"));
  EXPECT_THAT(health.body, HasSubstr(R"("reachable":false)"));
  EXPECT_TRUE(std::regex_search(
      health.body,
      std::regex(
          R"re("target":"main","size":[0-9]+,"idle":[0-9]+,"active":[0-9]+,"waiting":[0-9]+,"max":2)re")))
      << health.body;

  ASSERT_TRUE(Reaches(R"(poolscope_pg_up{target="main"})", 1));
  auto ready = HttpGet(agent_->http_port(), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("pg target nowhere"));
  EXPECT_THAT(ready.body, Not(HasSubstr("pg target main")));
}

TEST_F(TierTest, ReloadAddsAndRemovesTargetsAndKeepsUnchangedPools) {
  StartAgent(BaseConfig());
  ASSERT_TRUE(Reaches(R"(poolscope_pg_up{target="main"})", 1));
  EXPECT_EQ(HttpGet(agent_->http_port(), "/readyz").status, 200);
  std::shared_ptr<Pool> before = agent_->pool("main");
  ASSERT_NE(before, nullptr);

  Config next = BaseConfig();
  next.redis.clear();
  PostgresTarget second = next.postgres[0];
  second.name = "second";
  next.postgres.push_back(second);
  agent_->Reload(std::move(next));
  EXPECT_EQ(agent_->pool("main"), before) << "an unchanged pool is kept across a reload";
  EXPECT_TRUE(Reaches(R"(poolscope_pg_up{target="second"})", 1));
  EXPECT_TRUE(Eventually(3s, [&] {
    return Scrape().find(R"(poolscope_redis_up{target="cache"})") == std::string::npos;
  })) << "a removed target's series go away";
  EXPECT_THAT(Scrape(), Not(HasSubstr(R"(poolscope_redis_connected_clients{target="cache"})")));
}

}  // namespace
}  // namespace poolscope
