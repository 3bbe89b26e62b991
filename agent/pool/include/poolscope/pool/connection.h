// Connection and ConnectionFactory: the boundary between the pool and what
// it pools. The pool uses the real libpq factory (MakePgConnectionFactory);
// benchmarks and unit tests plug in no-op or scripted connections so that the
// pool alone is measured or driven.
//
// Thread-safety: a Connection is used by one thread at a time (whoever holds
// its slot); a ConnectionFactory may be called from several threads at once.
#pragma once

#include <memory>
#include <stop_token>
#include <string_view>

#include "poolscope/core/duration.h"
#include "poolscope/core/io_wait.h"
#include "poolscope/core/result.h"
#include "poolscope/pool/params.h"
#include "poolscope/pool/rows.h"

namespace poolscope {

struct PoolConfig;

class Connection {
 public:
  virtual ~Connection() = default;

  // Execute runs `sql` with `params`; `prepared` runs it as a prepared
  // statement cached on this connection. Errors carry the SQLSTATE.
  virtual Result<Rows> Execute(std::string_view sql, const Params& params, bool prepared) = 0;

  // Ping checks that the server answers by `deadline`.
  virtual Status Ping(Clock::time_point deadline) = 0;

  // Reset brings the connection back to a clean idle state (rolling back an
  // open or failed transaction) within `timeout`; false means discard it.
  // Called on every release: an idle connection must return at once.
  virtual bool Reset(Duration timeout) = 0;

  // Broken says the connection can no longer be used.
  virtual bool Broken() const = 0;

  // BackendPid is the server process serving this connection (0 if none).
  virtual int BackendPid() const = 0;

  // PreparedCount is the number of statements prepared on it now.
  virtual int PreparedCount() const = 0;
};

class ConnectionFactory {
 public:
  virtual ~ConnectionFactory() = default;

  // Connect opens one connection by `deadline`, giving up early on `stop`.
  virtual Result<std::unique_ptr<Connection>> Connect(Clock::time_point deadline,
                                                      std::stop_token stop) = 0;
};

// MakePgConnectionFactory returns the libpq factory for `config` (DSN,
// application_name, statement_timeout, prepared cache, cancel grace).
std::unique_ptr<ConnectionFactory> MakePgConnectionFactory(const PoolConfig& config);

}  // namespace poolscope
