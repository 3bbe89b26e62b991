// PgProbe checks a PostgreSQL server: it keeps one connection open between
// checks (no connection storm, no new backend per scrape) and runs
// `SELECT 1` on it. A broken connection is replaced at the next check.
// Connect and query are non-blocking and bounded by the check's deadline; a
// query past its deadline is cancelled on the server (PQcancel).
//
// Thread-safety: not thread-safe; owned by one sampler.
#pragma once

#include <memory>

#include "poolscope/core/dsn.h"
#include "poolscope/samplers/probe.h"

namespace poolscope {

class PgProbe final : public Probe {
 public:
  explicit PgProbe(Dsn dsn);
  ~PgProbe() override;
  PgProbe(const PgProbe&) = delete;
  PgProbe& operator=(const PgProbe&) = delete;

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  struct Conn;
  Dsn dsn_;
  std::unique_ptr<Conn> conn_;  // null until connected, reset when broken
};

}  // namespace poolscope
