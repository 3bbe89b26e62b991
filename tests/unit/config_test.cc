#include "poolscope/config/config.h"

#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::string& yaml) {
  auto r = ParseConfig(yaml, "agent.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  return r.ok() ? "" : r.error().message;
}

TEST(ConfigTest, ParsesTheDocumentedShape) {
  auto cfg = ParseConfig(R"(
http:
  listen: 127.0.0.1:9640
log:
  level: debug
  format: json
targets:
  postgres:
    - name: main
      dsn: "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
      interval: 5s
  redis:
    - name: cache
      address: 127.0.0.1:6379
      interval: 2s
      timeout: 500ms
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->http.listen.host, "127.0.0.1");
  EXPECT_EQ(cfg->http.listen.port, 9640);
  EXPECT_EQ(cfg->log.level, "debug");
  EXPECT_EQ(cfg->log.format, LogFormat::kJson);
  ASSERT_EQ(cfg->postgres.size(), 1u);
  EXPECT_EQ(cfg->postgres[0].name, "main");
  EXPECT_EQ(cfg->postgres[0].interval, std::chrono::seconds(5));
  EXPECT_EQ(cfg->postgres[0].timeout, std::chrono::seconds(3));
  EXPECT_THAT(cfg->postgres[0].dsn.Expose(), HasSubstr("port=5432"));
  ASSERT_EQ(cfg->redis.size(), 1u);
  EXPECT_EQ(cfg->redis[0].address.port, 6379);
  EXPECT_EQ(cfg->redis[0].timeout, std::chrono::milliseconds(500));
}

TEST(ConfigTest, EmptyFileMeansDefaults) {
  auto cfg = ParseConfig("", "agent.yaml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->http.listen.ToString(), "127.0.0.1:9640");
  EXPECT_TRUE(cfg->postgres.empty());
}

TEST(ConfigTest, TimeoutDefaultsToAtMostTheInterval) {
  auto cfg =
      ParseConfig("targets:\n  redis:\n    - {name: r, address: 'h:1', interval: 1s}\n", "f");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->redis[0].timeout, std::chrono::seconds(1));
}

TEST(ConfigTest, MissingFileNamesTheFile) {
  auto r = LoadConfigFile("/nonexistent/poolscope.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/nonexistent/poolscope.yaml: cannot read config file: No such file or directory");
}

TEST(ConfigTest, SyntaxErrorNamesLineAndColumn) {
  EXPECT_THAT(ErrorOf("http:\n  listen: [127.0.0.1\n"),
              HasSubstr("agent.yaml:3:1: YAML syntax error"));
}

TEST(ConfigTest, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(
      ErrorOf("http:\n  listen: 127.0.0.1:1\n  lisen: x\n"),
      "agent.yaml:3:3: http.lisen: unknown key (known keys here: basic_auth, debug, listen, tls)");
  EXPECT_THAT(
      ErrorOf("targets:\n  postgres:\n    - name: a\n      dsn: x=1\n      intervall: 5s\n"),
      HasSubstr("agent.yaml:5:7: targets.postgres[0].intervall: unknown key"));
  EXPECT_THAT(ErrorOf("tragets: {}\n"), HasSubstr("agent.yaml:1:1: tragets: unknown key"));
}

TEST(ConfigTest, WrongTypeNamesKey) {
  EXPECT_EQ(ErrorOf("http:\n  listen:\n    port: 1\n"),
            "agent.yaml:3:5: http.listen: expected a string, got a map");
  EXPECT_EQ(ErrorOf("targets:\n  postgres:\n    name: a\n"),
            "agent.yaml:3:5: targets.postgres: expected a list of targets, got a map");
  EXPECT_EQ(ErrorOf("http: 5\n"), "agent.yaml:1:7: http: expected a map, got a scalar");
}

TEST(ConfigTest, BadDurationSaysHowToWriteOne) {
  EXPECT_EQ(ErrorOf("targets:\n  redis:\n    - name: r\n      address: h:1\n      interval: 5\n"),
            "agent.yaml:5:17: targets.redis[0].interval: bad duration \"5\" (write a number with "
            "a unit: 500ms, 5s, 2m, 1h)");
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - {name: r, address: 'h:1', interval: 5 s}\n"),
              HasSubstr("bad duration \"5 s\""));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - {name: r, address: 'h:1', interval: 10ms}\n"),
              HasSubstr("interval: must be at least 100ms"));
  EXPECT_THAT(
      ErrorOf("targets:\n  redis:\n    - {name: r, address: 'h:1', interval: 1s, timeout: 2s}\n"),
      HasSubstr("timeout: must not exceed the interval (1s)"));
}

TEST(ConfigTest, BadValuesAreNamed) {
  EXPECT_EQ(ErrorOf("log:\n  level: loud\n"),
            "agent.yaml:2:10: log.level: \"loud\" is not one of debug|info|warn|error");
  EXPECT_THAT(ErrorOf("http:\n  listen: localhost\n"),
              HasSubstr("http.listen: bad address \"localhost\": write host:port"));
  EXPECT_THAT(ErrorOf("http:\n  listen: 127.0.0.1:70000\n"),
              HasSubstr("the port must be a number from 0 to 65535"));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - {address: 'h:1'}\n"),
              HasSubstr("targets.redis[0].name: missing"));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - {name: a, address: 'h:1'}\n    - {name: a, "
                      "address: 'h:2'}\n"),
              HasSubstr("targets.redis[1].name: \"a\" is used twice"));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - {name: 'a b', address: 'h:1'}\n"),
              HasSubstr("use 1-64 letters"));
}

TEST(ConfigTest, DsnSources) {
  EXPECT_THAT(ErrorOf("targets:\n  postgres:\n    - {name: a}\n"),
              HasSubstr("targets.postgres[0]: give exactly one of dsn, dsn_env"));
  EXPECT_THAT(ErrorOf("targets:\n  postgres:\n    - {name: a, dsn: 'x=1', dsn_env: V}\n"),
              HasSubstr("give exactly one of"));
  ::unsetenv("POOLSCOPE_TEST_UNSET_DSN");
  EXPECT_THAT(
      ErrorOf("targets:\n  postgres:\n    - {name: a, dsn_env: POOLSCOPE_TEST_UNSET_DSN}\n"),
      HasSubstr("dsn_env: environment variable POOLSCOPE_TEST_UNSET_DSN is not set"));
  ::setenv("POOLSCOPE_TEST_DSN", "host=h password=hunter2", 1);
  auto cfg =
      ParseConfig("targets:\n  postgres:\n    - {name: a, dsn_env: POOLSCOPE_TEST_DSN}\n", "f");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->postgres[0].dsn.Expose(), "host=h password=hunter2");

  std::string path = ::testing::TempDir() + "/dsn.txt";
  std::ofstream(path) << "host=filehost password=s3cret\n";
  cfg = ParseConfig("targets:\n  postgres:\n    - {name: a, dsn_file: '" + path + "'}\n", "f");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->postgres[0].dsn.Expose(), "host=filehost password=s3cret");
  EXPECT_THAT(ErrorOf("targets:\n  postgres:\n    - {name: a, dsn_file: /nonexistent/dsn}\n"),
              HasSubstr("cannot read /nonexistent/dsn: No such file or directory"));
}

TEST(ConfigTest, InvalidDsnNeverEchoesThePassword) {
  std::string msg =
      ErrorOf("targets:\n  postgres:\n    - {name: a, dsn: \"host=h password='hunter2\"}\n");
  EXPECT_THAT(msg, HasSubstr("targets.postgres[0].dsn: invalid connection string"));
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("hunter2")));
  msg = ErrorOf("targets:\n  postgres:\n    - {name: a, dsn: \"host=h hunter2\"}\n");
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace poolscope

namespace poolscope {
namespace {

TEST(ConfigPoolTest, PoolKnobsAreRead) {
  auto cfg = ParseConfig(R"(
targets:
  postgres:
    - name: main
      dsn: "host=h"
      pool:
        max_size: 8
        min_idle: 2
        acquire_timeout: 750ms
        max_lifetime: 10m
        max_lifetime_jitter: 0.2
        max_waiters: 100
        leak_threshold: 5s
        capture_backtrace: true
        slow_query_threshold: 250ms
        statement_timeout: 30s
        application_name: svc
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const PoolConfig& p = cfg->postgres[0].pool;
  EXPECT_EQ(p.name, "main");
  EXPECT_EQ(p.max_size, 8);
  EXPECT_EQ(p.min_idle, 2);
  EXPECT_EQ(p.acquire_timeout, std::chrono::milliseconds(750));
  EXPECT_EQ(p.max_lifetime, std::chrono::minutes(10));
  EXPECT_DOUBLE_EQ(p.max_lifetime_jitter, 0.2);
  EXPECT_EQ(p.max_waiters, 100);
  EXPECT_TRUE(p.capture_backtrace);
  EXPECT_EQ(p.statement_timeout, std::chrono::seconds(30));
  EXPECT_EQ(p.application_name, "svc");
}

TEST(ConfigPoolTest, AgentDefaultsWhenPoolIsAbsent) {
  auto cfg = ParseConfig("targets:\n  postgres:\n    - {name: a, dsn: 'host=h'}\n", "f");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->postgres[0].pool.application_name, "poolscope-agent");
  EXPECT_EQ(cfg->postgres[0].pool.max_size, 2);
}

TEST(ConfigPoolTest, BadPoolKnobsAreNamed) {
  auto err = [](const std::string& pool) {
    auto r = ParseConfig(
        "targets:\n  postgres:\n    - name: a\n      dsn: 'host=h'\n      pool:\n" + pool,
        "agent.yaml");
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(err("        min_idle: 5\n        max_size: 3\n"),
            "agent.yaml:6:19: targets.postgres[0].pool.min_idle: must be from 0 to max_size (3)");
  EXPECT_EQ(err("        max_size: many\n"),
            "agent.yaml:6:19: targets.postgres[0].pool.max_size: \"many\" is not a whole number");
  EXPECT_EQ(err("        leak_threshold: 5\n"),
            "agent.yaml:6:25: targets.postgres[0].pool.leak_threshold: bad duration \"5\" (write a "
            "number with a unit: 500ms, 5s, 2m, 1h)");
  EXPECT_THAT(err("        max_sise: 3\n"),
              ::testing::HasSubstr("targets.postgres[0].pool.max_sise: unknown key"));
  EXPECT_THAT(err("        capture_backtrace: maybe\n"),
              ::testing::HasSubstr("\"maybe\" is not true or false"));
  EXPECT_THAT(err("        max_lifetime_jitter: 0.9\n"),
              ::testing::HasSubstr("pool.max_lifetime_jitter: must be from 0 to 0.5"));
}

}  // namespace
}  // namespace poolscope

namespace poolscope {
namespace {

TEST(ConfigCacheTest, CachesAreRead) {
  auto cfg = ParseConfig(R"(
targets:
  redis:
    - {name: cache, address: '127.0.0.1:6379'}
caches:
  - name: products
    redis: cache
    ttl: 10m
    l1_ttl: 30s
    negative_ttl: 15s
    jitter: 0.1
    l1: {max_entries: 5000, max_bytes: 8MiB, shards: 8, time_to_idle: 2m}
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  ASSERT_EQ(cfg->caches.size(), 1u);
  const CacheSpec& c = cfg->caches[0];
  EXPECT_EQ(c.cache.name, "products");
  EXPECT_EQ(c.redis, "cache");
  EXPECT_EQ(c.cache.ttl, std::chrono::minutes(10));
  EXPECT_EQ(c.cache.negative_ttl, std::chrono::seconds(15));
  EXPECT_EQ(c.cache.l1.max_entries, 5000u);
  EXPECT_EQ(c.cache.l1.max_bytes, 8u << 20);
  EXPECT_EQ(c.cache.l1.time_to_idle, std::chrono::minutes(2));
}

TEST(ConfigCacheTest, BadCachesAreNamed) {
  auto err = [](const std::string& cache) {
    auto r = ParseConfig("caches:\n  - name: c\n" + cache, "agent.yaml");
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(err("    redis: nowhere\n"),
            "agent.yaml:3:12: caches[0].redis: no targets.redis entry is named \"nowhere\"");
  EXPECT_EQ(err("    jitter: 3\n"), "agent.yaml:3:13: caches[0].jitter: must be from 0 to 0.9");
  EXPECT_THAT(err("    l1: {max_bytes: lots}\n"),
              ::testing::HasSubstr("caches[0].l1.max_bytes: \"lots\" is not a size"));
  EXPECT_THAT(err("    l1: {max_bytes: 10}\n"),
              ::testing::HasSubstr("caches[0].l1.max_bytes: must be at least 1024"));
  EXPECT_THAT(err("    tll: 5m\n"), ::testing::HasSubstr("caches[0].tll: unknown key"));
}

TEST(ConfigProbesTest, OffcpuProbeDocumentedShape) {
  auto cfg = ParseConfig(R"(
probes:
  offcpu:
    enabled: true
    targets:
      - process: postgres
      - process: poolscope-agent
      - pid: 4242
        name: api
    rescan_interval: 2s
    thread_labels: 32
    stacks:
      enabled: true
      probability: 0.25
      min_duration: 1ms
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const OffcpuConfig& o = cfg->probes.offcpu;
  EXPECT_TRUE(o.enabled);
  ASSERT_EQ(o.targets.size(), 3u);
  EXPECT_EQ(o.targets[0].process, "postgres");
  EXPECT_EQ(o.targets[0].pid, 0);
  EXPECT_EQ(o.targets[1].process, "poolscope-agent");
  EXPECT_EQ(o.targets[2].pid, 4242);
  EXPECT_EQ(o.targets[2].name, "api");
  EXPECT_EQ(o.rescan_interval, std::chrono::seconds(2));
  EXPECT_EQ(o.thread_labels, 32);
  EXPECT_TRUE(o.stacks);
  EXPECT_DOUBLE_EQ(o.stack_probability, 0.25);
  EXPECT_EQ(o.stack_min_duration, std::chrono::milliseconds(1));
}

TEST(ConfigProbesTest, OffcpuProbeIsOffByDefault) {
  auto cfg = ParseConfig("", "agent.yaml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(cfg->probes.offcpu.enabled);
  EXPECT_FALSE(cfg->probes.offcpu.stacks);
  auto listed = ParseConfig("probes:\n  offcpu:\n    targets: [{process: postgres}]\n", "a.yaml");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_FALSE(listed->probes.offcpu.enabled);  // targets alone do not switch it on
  EXPECT_EQ(listed->probes.offcpu.targets.size(), 1u);
}

TEST(ConfigProbesTest, BadOffcpuSettingsAreNamed) {
  auto err = [](const std::string& offcpu) {
    auto r = ParseConfig("probes:\n  offcpu:\n" + offcpu, "agent.yaml");
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_THAT(err("    enabled: true\n"),
              HasSubstr("probes.offcpu.targets: list at least one target"));
  EXPECT_EQ(err("    enabled: maybe\n"),
            "agent.yaml:3:14: probes.offcpu.enabled: \"maybe\" is not true or false");
  EXPECT_EQ(err("    targets:\n      - process: postgres\n        pid: 7\n"),
            "agent.yaml:4:9: probes.offcpu.targets[0]: give exactly one of process (a process "
            "name) or pid");
  EXPECT_EQ(err("    targets:\n      - pid: 0\n"),
            "agent.yaml:4:14: probes.offcpu.targets[0].pid: must be a process id (1 or more)");
  EXPECT_EQ(err("    targets:\n      - pid: abc\n"),
            "agent.yaml:4:14: probes.offcpu.targets[0].pid: \"abc\" is not a whole number");
  EXPECT_THAT(err("    targets:\n      - process: /usr/bin/postgres\n"),
              HasSubstr("probes.offcpu.targets[0].process: use a process name"));
  EXPECT_THAT(err("    targets:\n      - process: postgres\n        name: \"bad name\"\n"),
              HasSubstr("probes.offcpu.targets[0].name: use 1-64 letters"));
  EXPECT_THAT(err("    targets:\n      - proces: postgres\n"),
              HasSubstr("probes.offcpu.targets[0].proces: unknown key"));
  EXPECT_THAT(err("    targets: {process: postgres}\n"),
              HasSubstr("probes.offcpu.targets: expected a list"));
  EXPECT_EQ(err("    rescan_interval: 10ms\n"),
            "agent.yaml:3:22: probes.offcpu.rescan_interval: must be at least 100ms");
  EXPECT_EQ(err("    rescan_interval: 5\n"),
            "agent.yaml:3:22: probes.offcpu.rescan_interval: bad duration \"5\" (write a number "
            "with a unit: 500ms, 5s, 2m, 1h)");
  EXPECT_EQ(err("    thread_labels: 0\n"),
            "agent.yaml:3:20: probes.offcpu.thread_labels: must be from 1 to 1024");
  EXPECT_EQ(err("    stacks:\n      probability: 1.5\n"),
            "agent.yaml:4:20: probes.offcpu.stacks.probability: must be more than 0 and at most 1");
  EXPECT_THAT(err("    stacks:\n      sample: 0.1\n"),
              HasSubstr("probes.offcpu.stacks.sample: unknown key (known keys here: enabled, "
                        "min_duration, probability)"));
  EXPECT_THAT(err("    stack: {}\n"), HasSubstr("probes.offcpu.stack: unknown key"));
  auto r = ParseConfig("probes:\n  uprobe: {}\n", "agent.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("probes.uprobe: unknown key (known keys here: offcpu)"));
}

}  // namespace
}  // namespace poolscope

namespace poolscope {
namespace {

TEST(ConfigSamplersTest, ParsesPgBouncerCanaryAndServerViewKnobs) {
  auto cfg = ParseConfig(R"(
targets:
  postgres:
    - name: main
      dsn: "host=127.0.0.1 dbname=postgres"
      interval: 2s
      long_query_threshold: 750ms
      application_labels: 5
      statements_top: 0
      canary: {query: "SELECT 2", interval: 10s}
    - name: quiet
      dsn: "host=127.0.0.1 dbname=postgres"
      canary: {enabled: false}
  pgbouncer:
    - name: bouncer
      dsn: "host=127.0.0.1 port=6432 dbname=pgbouncer user=stats"
      interval: 1s
      database_labels: 7
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const PostgresTarget& main = cfg->postgres[0];
  EXPECT_EQ(main.long_query_threshold, std::chrono::milliseconds(750));
  EXPECT_EQ(main.application_labels, 5);
  EXPECT_EQ(main.statements_top, 0);
  EXPECT_EQ(main.canary.query, "SELECT 2");
  EXPECT_EQ(main.canary.interval, std::chrono::seconds(10));
  EXPECT_TRUE(main.canary.enabled);
  EXPECT_FALSE(cfg->postgres[1].canary.enabled);
  EXPECT_EQ(cfg->postgres[1].canary.interval, cfg->postgres[1].interval)
      << "the canary runs at the target's interval unless told otherwise";
  ASSERT_EQ(cfg->pgbouncer.size(), 1u);
  EXPECT_EQ(cfg->pgbouncer[0].name, "bouncer");
  EXPECT_EQ(cfg->pgbouncer[0].interval, std::chrono::seconds(1));
  EXPECT_EQ(cfg->pgbouncer[0].database_labels, 7);
  EXPECT_THAT(cfg->pgbouncer[0].dsn.Expose(), ::testing::HasSubstr("dbname=pgbouncer"));
}

TEST(ConfigSamplersTest, BadSamplerKnobsNameTheirKey) {
  auto error = [](const std::string& yaml) {
    auto r = ParseConfig(yaml, "agent.yaml");
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_THAT(error("targets:\n  pgbouncer:\n    - name: b\n"),
              ::testing::HasSubstr("targets.pgbouncer[0]: give exactly one of dsn"));
  EXPECT_THAT(
      error("targets:\n  postgres:\n    - name: m\n      dsn: \"host=x\"\n      "
            "statements_top: 5000\n"),
      ::testing::HasSubstr("agent.yaml:5:23: targets.postgres[0].statements_top: must be from 0 "
                           "to 1000"));
  EXPECT_THAT(error("targets:\n  postgres:\n    - name: m\n      dsn: \"host=x\"\n      "
                    "canary: {query: \"\"}\n"),
              ::testing::HasSubstr("targets.postgres[0].canary.query: must not be empty"));
  EXPECT_THAT(error("targets:\n  postgres:\n    - name: m\n      dsn: \"host=x\"\n      "
                    "canary: {every: 1s}\n"),
              ::testing::HasSubstr("targets.postgres[0].canary.every: unknown key"));
  EXPECT_THAT(error("targets:\n  pgbouncer:\n    - name: b\n      dsn: \"host=x\"\n    - name: "
                    "b\n      dsn: \"host=y\"\n"),
              ::testing::HasSubstr("\"b\" is used twice"));
}

// Regression (found by fuzz/config_fuzz.cc): a key or value with a line break
// in it was quoted raw, so the error message spanned several lines.
TEST(ConfigTest, ErrorMessagesStayOneLine) {
  const std::string unknown = ErrorOf("http:\n  \"li\\nsten\": 1\n");
  EXPECT_EQ(unknown.find('\n'), std::string::npos) << unknown;
  EXPECT_THAT(unknown, HasSubstr("http.li\\nsten"));
  const std::string bad = ErrorOf("log:\n  level: \"de\\rbug\\x01\"\n");
  EXPECT_EQ(bad.find_first_of("\r\x01"), std::string::npos) << bad;
  EXPECT_THAT(bad, HasSubstr("de\\rbug\\x01"));
}

}  // namespace
}  // namespace poolscope
