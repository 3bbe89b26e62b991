// PgBouncerProbe samples a PgBouncer through its admin console (a libpq
// connection to the virtual database "pgbouncer", kept open between runs):
// SHOW POOLS and SHOW STATS, aggregated per database (over users) into the
// contract's `poolscope_pgbouncer_*` families: clients active and waiting,
// server connections by state, the longest client wait, and the running
// totals of transactions, queries, query time and wait time. Database
// names are capped (`database_labels`; the rest fold into "other").
//
// Columns are found by name, so PgBouncer versions that add or drop columns
// still work. A failed run clears what it published.
//
// Thread-safety: not thread-safe; owned by one sampler thread.
#pragma once

#include <memory>
#include <string>

#include "poolscope/core/dsn.h"
#include "poolscope/samplers/probe.h"

namespace poolscope {

class PgSession;
class SnapshotCollector;

struct PgBouncerViewOptions {
  std::string target;                       // the `target` label
  int database_labels = 50;                 // distinct `database` values
  std::shared_ptr<SnapshotCollector> sink;  // null: SHOW VERSION only
};

class PgBouncerProbe final : public Probe {
 public:
  PgBouncerProbe(Dsn admin_dsn, PgBouncerViewOptions view);
  ~PgBouncerProbe() override;
  PgBouncerProbe(const PgBouncerProbe&) = delete;
  PgBouncerProbe& operator=(const PgBouncerProbe&) = delete;

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  PgBouncerViewOptions view_;
  std::unique_ptr<PgSession> session_;
};

}  // namespace poolscope
