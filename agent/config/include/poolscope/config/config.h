// The agent's configuration: what it listens on, how it logs, and which
// PostgreSQL and Redis targets it watches. Loaded from YAML:
//
//   http:
//     listen: 127.0.0.1:9640
//     basic_auth: { users_file: /etc/poolscope/users, realm: poolscope }
//     tls: { cert_file: /etc/poolscope/tls.crt, key_file: /etc/poolscope/tls.key }
//   log:
//     level: info          # debug|info|warn|error
//     format: text         # text|json
//   targets:
//     postgres:
//       - name: main
//         dsn: "host=127.0.0.1 port=5432 dbname=postgres user=postgres"
//         interval: 5s
//         pool:                # the embedded pool's knobs (see PoolConfig)
//           max_size: 2
//           leak_threshold: 30s
//         canary: { query: "SELECT 1", interval: 5s }
//         long_query_threshold: 5s
//     redis:
//       - name: cache
//         address: 127.0.0.1:6379
//         interval: 5s
//     pgbouncer:
//       - name: bouncer
//         dsn: "host=127.0.0.1 port=6432 dbname=pgbouncer user=stats"
//
// Loading is strict: unknown keys, wrong types and bad values are errors
// whose message names the file, line, column and key.
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "poolscope/cache/cache.h"
#include "poolscope/core/dsn.h"
#include "poolscope/core/duration.h"
#include "poolscope/core/host_port.h"
#include "poolscope/core/logging.h"
#include "poolscope/core/result.h"
#include "poolscope/core/secret.h"
#include "poolscope/exporters/basic_auth.h"
#include "poolscope/pool/pool_config.h"

namespace poolscope {

// BasicAuthConfig is `http.basic_auth`: every path needs a user from
// `users_file` (loaded and checked with the config), unless listed open.
struct BasicAuthConfig {
  std::string users_file;  // empty: no authentication
  std::string realm = "poolscope";
  bool healthz_without_auth = false;  // let /healthz answer without credentials
  std::vector<BasicAuthUser> users;   // from users_file (hashes only)
};

// HttpTlsConfig is `http.tls`: serve HTTPS with these PEM files.
struct HttpTlsConfig {
  std::string cert_file;  // empty (with key_file): plain HTTP
  std::string key_file;
};

struct HttpConfig {
  HostPort listen{"127.0.0.1", 9640};
  bool debug = false;  // serve /debug/* pages (who holds connections now)
  BasicAuthConfig basic_auth;
  HttpTlsConfig tls;
};

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::kText;
};

// CanaryConfig is a PostgreSQL target's canary: acquire a connection from
// the embedded pool, run `query`, every `interval`.
struct CanaryConfig {
  bool enabled = true;
  std::string query = "SELECT 1";
  Duration interval = Duration::zero();  // zero: the target's interval
};

// PostgresTarget is one PostgreSQL server the agent watches.
struct PostgresTarget {
  std::string name;
  Dsn dsn;                                      // from dsn, dsn_env or dsn_file
  std::string dsn_source;                       // "dsn", "dsn_env FOO", "dsn_file /path"
  Duration interval = std::chrono::seconds(5);  // between checks
  Duration timeout = std::chrono::seconds(3);   // hard bound on one check
  PoolConfig pool = AgentPoolDefaults();        // the embedded pool (`pool:`)
  CanaryConfig canary;
  Duration long_query_threshold = std::chrono::seconds(5);  // server view: "long-running"
  int application_labels = 20;                              // distinct `application` label values
  int statements_top = 20;                                  // pg_stat_statements top N (0: off)

  // AgentPoolDefaults is the embedded pool's configuration when `pool:` says
  // nothing: small, and named after the agent in pg_stat_activity.
  static PoolConfig AgentPoolDefaults();
};

// RedisTarget is one Redis server the agent watches.
struct RedisTarget {
  std::string name;
  HostPort address;
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(3);
  std::string username;         // AUTH user (Redis 6 ACL); empty: the default user
  Secret password;              // from password or password_env; empty: no AUTH
  std::string password_source;  // "", "password" or "password_env FOO"
};

// PgBouncerTarget is one PgBouncer the agent watches through its admin
// console (a DSN with dbname=pgbouncer and an admin_users/stats_users user).
struct PgBouncerTarget {
  std::string name;
  Dsn dsn;
  std::string dsn_source;
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(3);
  int database_labels = 50;  // distinct `database` label values
};

// CacheSpec is one two-level cache a service (or the demo) builds from the
// agent's YAML: its knobs and the Redis target that serves as its L2.
struct CacheSpec {
  CacheConfig cache;
  std::string redis;  // a targets.redis name; empty: L1 only
  Duration redis_timeout = std::chrono::milliseconds(100);
};

// OffcpuTargetConfig is one process the off-CPU probe watches: by name
// (`process:`, its comm or executable base name) or by `pid:`.
struct OffcpuTargetConfig {
  std::string process;  // empty for a pid target
  int pid = 0;          // 0 for a name target
  std::string name;     // the `process` label; empty: `process`, or the pid's process name
};

// OffcpuConfig is `probes.offcpu`, the eBPF off-CPU probe.
struct OffcpuConfig {
  bool enabled = false;
  std::vector<OffcpuTargetConfig> targets;
  Duration rescan_interval = std::chrono::seconds(3);  // /proc re-scan period
  int thread_labels = 64;                              // distinct `thread` values at most
  bool stacks = false;                                 // stacks.enabled: /debug/offcpu
  double stack_probability = 0.05;                     // stacks.probability
  Duration stack_min_duration = Duration::zero();      // stacks.min_duration
};

// ProbesConfig is `probes`: the eBPF probes.
struct ProbesConfig {
  OffcpuConfig offcpu;
};

// Config is the whole agent configuration.
struct Config {
  std::string source;                 // the file it came from, for messages
  std::vector<std::string> warnings;  // worth a log line at start (never secrets)
  HttpConfig http;
  LogConfig log;
  std::vector<PostgresTarget> postgres;
  std::vector<RedisTarget> redis;
  std::vector<PgBouncerTarget> pgbouncer;
  std::vector<CacheSpec> caches;
  ProbesConfig probes;

  // FindRedis returns the Redis target called `name`, or null.
  const RedisTarget* FindRedis(const std::string& name) const;
};

// LoadConfigFile reads and validates the YAML file at `path`.
Result<Config> LoadConfigFile(const std::string& path);

// ParseConfig validates YAML `text`; `source` names it in error messages.
Result<Config> ParseConfig(std::string_view text, const std::string& source);

}  // namespace poolscope
