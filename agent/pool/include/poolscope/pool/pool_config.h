// PoolConfig: every knob of a poolscope connection pool, with the defaults a
// service gets when it sets nothing. The agent reads the same knobs from YAML
// (`targets.postgres[].pool`); ValidatePoolConfig checks them at start-up.
#pragma once

#include <chrono>
#include <string>

#include "poolscope/core/dsn.h"
#include "poolscope/core/duration.h"
#include "poolscope/core/result.h"

namespace poolscope {

struct PoolConfig {
  // name is the `pool` label and the log prefix.
  std::string name = "default";
  // dsn is the libpq connection string (never logged; see Dsn).
  Dsn dsn;
  // application_name is set on every connection so pg_stat_activity shows
  // which pool a backend belongs to.
  std::string application_name = "poolscope";

  // max_size bounds the connections open at once (idle + in use).
  int max_size = 10;
  // min_idle connections are kept open and idle when the pool is quiet.
  int min_idle = 0;
  // acquire_timeout bounds acquire() when no deadline is given.
  Duration acquire_timeout = std::chrono::seconds(5);
  // connect_timeout bounds opening one connection.
  Duration connect_timeout = std::chrono::seconds(5);
  // max_lifetime retires a connection this long after it opened (0: never),
  // minus up to max_lifetime_jitter of it, so connections do not all retire
  // at once. An in-use connection is retired only when it is returned.
  Duration max_lifetime = std::chrono::minutes(30);
  double max_lifetime_jitter = 0.1;
  // idle_timeout closes connections idle this long, down to min_idle (0: never).
  Duration idle_timeout = std::chrono::minutes(10);
  // keepalive_interval pings connections idle this long (0: never).
  Duration keepalive_interval = std::chrono::minutes(2);
  // validate_after_idle: a connection idle longer than this is pinged before
  // it is handed out, bounded by validation_timeout (0: always validate).
  Duration validate_after_idle = std::chrono::seconds(1);
  Duration validation_timeout = std::chrono::seconds(1);
  // max_waiters bounds the callers queued in acquire(); past it acquire()
  // fails at once with outcome `rejected` (0: unbounded).
  int max_waiters = 0;
  // leak_threshold: a lease held longer is reported as a suspected leak (0: off).
  Duration leak_threshold = std::chrono::seconds(30);
  // capture_backtrace records the acquiring stack for leak reports (costly).
  bool capture_backtrace = false;
  // slow_query_threshold: a query running longer is logged while it runs
  // and counted in poolscope_slow_queries_total (0: off).
  Duration slow_query_threshold = std::chrono::seconds(1);
  // statement_timeout is set on the server for every connection and enforced
  // from the client: no answer by statement_timeout + cancel_grace sends a
  // cancel; no answer by another cancel_grace drops the connection (0: off).
  Duration statement_timeout = Duration::zero();
  Duration cancel_grace = std::chrono::milliseconds(500);
  // reset_timeout bounds the ROLLBACK of a connection returned mid-transaction.
  Duration reset_timeout = std::chrono::seconds(2);
  // prepared_cache_size bounds the prepared statements kept per connection;
  // the least recently used is DEALLOCATEd past it.
  int prepared_cache_size = 100;
  // statement_labels caps the distinct `statement` label values; the rest
  // are counted under `other`.
  int statement_labels = 50;

  bool operator==(const PoolConfig&) const = default;
};

// ValidatePoolConfig returns an error naming the first bad knob (as its YAML
// key, e.g. "min_idle"), or Ok.
Status ValidatePoolConfig(const PoolConfig& config);

}  // namespace poolscope
