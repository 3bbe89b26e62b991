#include "poolscope/samplers/pg_probe.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pg_session.h"
#include "poolscope/exporters/snapshot_collector.h"
#include "poolscope/pool/fingerprint.h"

namespace poolscope {
namespace {

constexpr const char* kOther = "other";

// The server view in one round trip: client sessions grouped by application
// and state, with the idle-in-transaction and running-query ages; then the
// connection limits and whether pg_stat_statements is installed.
constexpr const char* kViewSql = R"(SELECT coalesce(application_name, '') AS application,
       coalesce(state, 'unknown') AS state,
       count(*) AS sessions,
       coalesce(max(extract(epoch FROM clock_timestamp() - state_change))
                FILTER (WHERE state LIKE 'idle in transaction%'), 0) AS idle_in_tx_max,
       count(*) FILTER (WHERE state = 'active'
                        AND clock_timestamp() - query_start > make_interval(secs => {})) AS long_running,
       coalesce(max(extract(epoch FROM clock_timestamp() - query_start))
                FILTER (WHERE state = 'active'), 0) AS oldest_query
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
 GROUP BY 1, 2;
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved,
       (SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements)";

constexpr const char* kStatementsSql = R"(SELECT query, calls, total_exec_time, rows
  FROM pg_stat_statements WHERE query IS NOT NULL
 ORDER BY total_exec_time DESC LIMIT {})";

// StateLabel maps pg_stat_activity.state to a label value.
std::string StateLabel(const std::string& state) {
  if (state == "active") return "active";
  if (state == "idle") return "idle";
  if (state == "idle in transaction") return "idle_in_transaction";
  if (state == "idle in transaction (aborted)") return "idle_in_transaction_aborted";
  if (state == "fastpath function call") return "fastpath";
  if (state == "disabled") return "disabled";
  return "unknown";
}

struct AppRow {
  std::map<std::string, double> sessions;  // state label -> count
  double total = 0;
  double idle_in_tx_max = 0;
  double long_running = 0;

  // Merge folds `a` in (for the capped "other" application).
  void Merge(const AppRow& a) {
    for (const auto& [state, n] : a.sessions) sessions[state] += n;
    total += a.total;
    idle_in_tx_max = std::max(idle_in_tx_max, a.idle_in_tx_max);
    long_running += a.long_running;
  }
};

}  // namespace

PgProbe::PgProbe(Dsn dsn, PgViewOptions view)
    : view_(std::move(view)),
      session_(std::make_unique<PgSession>(std::move(dsn), "poolscope-agent")) {}
PgProbe::~PgProbe() = default;

Status PgProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  const std::string key = "pg/" + view_.target;
  if (!view_.sink) {
    auto r = session_->Run("SELECT 1", deadline, stop);
    return r ? OkStatus() : Status(r.error());
  }
  const double threshold = ToSeconds(view_.long_query_threshold);
  const std::string sql = fmt::format(kViewSql, threshold);
  auto results = session_->Run(sql.c_str(), deadline, stop);
  if (!results || results->size() != 2) {
    view_.sink->Clear(key);
    if (!results) return results.error();
    return Error{ErrorCode::kInternal, "the server view query returned an unexpected result"};
  }

  // Group by application, fold all but the busiest into "other".
  std::map<std::string, AppRow> apps;
  double oldest_query = 0;
  PgTable act((*results)[0].get());
  const int c_app = act.column("application"), c_state = act.column("state"),
            c_sessions = act.column("sessions"), c_idle = act.column("idle_in_tx_max"),
            c_long = act.column("long_running"), c_oldest = act.column("oldest_query");
  for (int i = 0; i < act.rows(); ++i) {
    AppRow& a = apps[NameLabel(act.text(i, c_app))];
    const double n = act.number(i, c_sessions);
    a.sessions[StateLabel(act.text(i, c_state))] += n;
    a.total += n;
    a.idle_in_tx_max = std::max(a.idle_in_tx_max, act.number(i, c_idle));
    a.long_running += act.number(i, c_long);
    oldest_query = std::max(oldest_query, act.number(i, c_oldest));
  }
  if (static_cast<int>(apps.size()) > view_.application_labels) {
    std::vector<std::pair<double, std::string>> by_size;
    for (const auto& [name, a] : apps) by_size.emplace_back(a.total, name);
    std::sort(by_size.begin(), by_size.end(), [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    AppRow other;
    for (std::size_t i = std::max(view_.application_labels - 1, 0); i < by_size.size(); ++i) {
      other.Merge(apps[by_size[i].second]);
      apps.erase(by_size[i].second);
    }
    apps[kOther].Merge(other);
  }

  FamilyBuilder f;
  const std::string& t = view_.target;
  for (const auto& [app, a] : apps) {
    for (const auto& [state, n] : a.sessions) {
      f.Gauge("poolscope_pg_connections",
              "Client connections the server holds, by application_name and state",
              {{"target", t}, {"application", app}, {"state", state}}, n);
    }
    f.Gauge("poolscope_pg_idle_in_transaction_max_seconds",
            "Age of the oldest session idle in an open transaction, per application (0: none)",
            {{"target", t}, {"application", app}}, a.idle_in_tx_max);
    f.Gauge("poolscope_pg_long_running_queries",
            "Queries running longer than the target's long_query_threshold, per application",
            {{"target", t}, {"application", app}}, a.long_running);
  }
  f.Gauge("poolscope_pg_oldest_query_seconds", "Age of the oldest running query (0: none)",
          {{"target", t}}, oldest_query);
  PgTable limits((*results)[1].get());
  if (limits.rows() == 1) {
    f.Gauge("poolscope_pg_max_connections", "The server's max_connections", {{"target", t}},
            limits.number(0, limits.column("max_connections")));
    f.Gauge("poolscope_pg_reserved_connections",
            "Connections reserved for superusers (and pg_use_reserved_connections)",
            {{"target", t}}, limits.number(0, limits.column("reserved")));
    const bool installed = limits.number(0, limits.column("statements")) > 0;
    if (!installed && statements_ != Statements::kAbsent && view_.statements_top > 0) {
      spdlog::info(
          "pg target {}: the pg_stat_statements extension is not installed; top statements "
          "are not sampled (CREATE EXTENSION pg_stat_statements to enable them)",
          t);
      statements_ = Statements::kAbsent;
    } else if (installed && statements_ == Statements::kAbsent) {
      statements_ = Statements::kUnknown;
    }
  }
  if (view_.statements_top > 0 && statements_ != Statements::kAbsent &&
      statements_ != Statements::kBroken) {
    if (Status s = ReadStatements(deadline, stop, &f); !s) {
      view_.sink->Clear(key);
      return s;
    }
  }
  view_.sink->Publish(key, f.Take());
  return OkStatus();
}

Status PgProbe::ReadStatements(Clock::time_point deadline, const std::stop_token& stop,
                               FamilyBuilder* out) {
  const std::string sql = fmt::format(kStatementsSql, view_.statements_top);
  auto results = session_->Run(sql.c_str(), deadline, stop);
  if (!results) {
    if (results.error().code != ErrorCode::kQueryFailed) return results.error();
    // Installed but unusable (e.g. not in shared_preload_libraries): say so
    // once and keep the rest of the view.
    spdlog::warn("pg target {}: pg_stat_statements cannot be read: {} (top statements are off)",
                 view_.target, results.error().message);
    statements_ = Statements::kBroken;
    return OkStatus();
  }
  statements_ = Statements::kPresent;
  struct Totals {
    double calls = 0, seconds = 0, rows = 0;
  };
  std::map<std::string, Totals> by_label;  // fingerprint id -> totals
  PgTable st((*results)[0].get());
  const int c_query = st.column("query"), c_calls = st.column("calls"),
            c_time = st.column("total_exec_time"), c_rows = st.column("rows");
  for (int i = 0; i < st.rows(); ++i) {
    Totals& tot = by_label[FingerprintLabel(FingerprintId(Fingerprint(st.text(i, c_query))))];
    tot.calls += st.number(i, c_calls);
    tot.seconds += st.number(i, c_time) / 1000.0;
    tot.rows += st.number(i, c_rows);
  }
  for (const auto& [label, tot] : by_label) {
    const LabelPairs l{{"target", view_.target}, {"statement", label}};
    out->Counter("poolscope_pg_statement_calls_total",
                 "Calls of the server's top statements by total time (pg_stat_statements)", l,
                 tot.calls);
    out->Counter("poolscope_pg_statement_seconds_total",
                 "Execution time of the server's top statements (pg_stat_statements)", l,
                 tot.seconds);
    out->Counter("poolscope_pg_statement_rows_total",
                 "Rows returned or affected by the server's top statements", l, tot.rows);
  }
  return OkStatus();
}

}  // namespace poolscope
