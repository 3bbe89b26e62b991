// Pool: a libpq connection pool with RAII leases, leak detection, a
// slow-query timer that fires while the query still runs, and the full
// connection lifecycle (lifetime with jitter, idle timeout, keepalive,
// validation, min_idle refill). Every statistic goes to a MetricsBook.
//
//   PoolConfig cfg;
//   cfg.name = "catalog";
//   cfg.dsn = Dsn("host=127.0.0.1 dbname=shop user=app");
//   auto pool = Pool::Create(cfg, book);          // never blocks on the server
//   auto lease = (*pool)->Acquire(std::chrono::seconds(2));
//   if (!lease) { log(lease.error().message); }   // says size/active/idle/waiting
//
// Acquire is fair: a returned connection goes to the longest-waiting caller,
// and newcomers queue behind waiters. The acquiring call site is recorded
// (SourceLocation) for leak reports and Holders().
//
// One housekeeping thread runs the lifetime, idle, keepalive and min_idle
// work and the per-lease leak and slow-query timers.
//
// Thread-safety: all methods are thread-safe. The Pool must outlive its
// leases: destroying it waits for outstanding leases to be returned (and
// logs who holds them every few seconds while it waits).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "poolscope/core/source_location.h"

#include "poolscope/core/duration.h"
#include "poolscope/core/io_wait.h"
#include "poolscope/core/result.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/pool/connection.h"
#include "poolscope/pool/lease.h"
#include "poolscope/pool/pool_config.h"

namespace poolscope {

// PoolState is a snapshot of the pool's counts.
struct PoolState {
  int max_size = 0;
  int open = 0;    // idle + active (+ being opened)
  int active = 0;  // leased out now
  int idle = 0;
  int waiting = 0;  // callers queued in Acquire
};

// AcquireError says why Acquire failed and what the pool looked like then.
// code: kTimeout (no connection by the deadline), kResourceExhausted (the
// wait queue is full: outcome `rejected`), kUnavailable (connecting failed,
// or the pool is closed).
struct AcquireError {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  PoolState state;
};

// Holder describes one lease held now (for /debug/pool and leak reports).
struct Holder {
  int slot = 0;
  std::string site;    // file:line (function) of the Acquire call
  long thread_id = 0;  // OS thread id of the acquirer
  double held_seconds = 0;
  std::string statement;         // fingerprint of the query running now, or ""
  double statement_seconds = 0;  // how long it has been running
  int backend_pid = 0;
  bool leak_suspected = false;
  std::vector<std::string> backtrace;  // when capture_backtrace is on
};

class Pool {
 public:
  // Create builds a libpq pool. Fails only on an invalid config; a server
  // that is down is retried in the background. `book` receives the metrics
  // (share one book among pools exported together); null creates one.
  static Result<std::unique_ptr<Pool>> Create(PoolConfig config,
                                              std::shared_ptr<MetricsBook> book = nullptr);

  // CreateWithFactory builds a pool over any connection factory (benchmarks,
  // tests). The config's DSN is not used.
  static Result<std::unique_ptr<Pool>> CreateWithFactory(
      PoolConfig config, std::unique_ptr<ConnectionFactory> factory,
      std::shared_ptr<MetricsBook> book = nullptr);

  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Acquire waits up to config().acquire_timeout for a connection.
  [[nodiscard]] Result<Lease, AcquireError> Acquire(
      SourceLocation site = SourceLocation::current());
  // Acquire waits up to `timeout`.
  [[nodiscard]] Result<Lease, AcquireError> Acquire(
      Duration timeout, SourceLocation site = SourceLocation::current());
  // AcquireUntil waits until `deadline`.
  [[nodiscard]] Result<Lease, AcquireError> AcquireUntil(
      Clock::time_point deadline, SourceLocation site = SourceLocation::current());

  // State returns the current counts.
  PoolState State() const;

  // Holders lists every lease held now.
  std::vector<Holder> Holders() const;

  // HoldersJson renders State() and Holders() as a JSON object.
  std::string HoldersJson() const;

  const PoolConfig& config() const;

  // metrics is the book this pool reports into.
  const std::shared_ptr<MetricsBook>& metrics() const;

 private:
  explicit Pool(std::unique_ptr<PoolCore> core);
  std::unique_ptr<PoolCore> core_;
};

}  // namespace poolscope
