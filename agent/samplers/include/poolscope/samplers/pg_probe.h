// PgProbe samples a PostgreSQL server over one connection it keeps open
// between runs (no connection storm, no new backend per scrape). Without a
// sink it only checks that the server answers. With one, every run also
// reads the server's own view of its clients in one round trip and
// publishes it (the contract's `poolscope_pg_*` families):
//
//   - client connections by application_name and state (application names
//     capped: the busiest `application_labels` keep their name, the rest are
//     folded into "other");
//   - max_connections and the connections reserved for superusers;
//   - per application, the oldest open idle-in-transaction session (the
//     server-side sign of a leaked connection) and the number of queries
//     running longer than `long_query_threshold`; the oldest query's age;
//   - when pg_stat_statements is installed, the top `statements_top`
//     statements by total execution time, labelled by the same 16-hex-digit
//     fingerprint ids the pool uses (never SQL text). A missing extension is
//     logged once, not at every run.
//
// Connect and queries are non-blocking and bounded by the run's deadline; a
// query past its deadline is cancelled on the server (PQcancel). A failed
// run clears the published view, so a scrape never shows stale figures.
//
// Thread-safety: not thread-safe; owned by one sampler thread.
#pragma once

#include <memory>
#include <string>

#include "poolscope/core/dsn.h"
#include "poolscope/core/duration.h"
#include "poolscope/samplers/probe.h"

namespace poolscope {

class PgSession;
class FamilyBuilder;
class SnapshotCollector;

// PgViewOptions say what PgProbe reads beyond the up check.
struct PgViewOptions {
  std::string target;                                       // the `target` label
  Duration long_query_threshold = std::chrono::seconds(5);  // "long-running" past this
  int application_labels = 20;                              // distinct `application` values
  int statements_top = 20;                                  // 0: skip pg_stat_statements
  std::shared_ptr<SnapshotCollector> sink;                  // null: up check only
};

class PgProbe final : public Probe {
 public:
  explicit PgProbe(Dsn dsn, PgViewOptions view = {});
  ~PgProbe() override;
  PgProbe(const PgProbe&) = delete;
  PgProbe& operator=(const PgProbe&) = delete;

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  Status ReadStatements(Clock::time_point deadline, const std::stop_token& stop,
                        FamilyBuilder* out);

  PgViewOptions view_;
  std::unique_ptr<PgSession> session_;
  enum class Statements { kUnknown, kPresent, kAbsent, kBroken } statements_ = Statements::kUnknown;
};

}  // namespace poolscope
