#include "poolscope/samplers/pgbouncer_probe.h"

#include <algorithm>
#include <map>
#include <vector>

#include "pg_session.h"
#include "poolscope/exporters/snapshot_collector.h"

namespace poolscope {
namespace {

struct DbTotals {
  double cl_active = 0, cl_waiting = 0;
  double sv_active = 0, sv_idle = 0, sv_used = 0, sv_tested = 0, sv_login = 0;
  double max_wait = 0;  // seconds
  bool have_stats = false;
  double xacts = 0, queries = 0, xact_seconds = 0, query_seconds = 0, wait_seconds = 0;
  double received = 0, sent = 0;

  // Merge folds `d` in (for the capped "other" database).
  void Merge(const DbTotals& d) {
    cl_active += d.cl_active;
    cl_waiting += d.cl_waiting;
    sv_active += d.sv_active;
    sv_idle += d.sv_idle;
    sv_used += d.sv_used;
    sv_tested += d.sv_tested;
    sv_login += d.sv_login;
    max_wait = std::max(max_wait, d.max_wait);
    have_stats = have_stats || d.have_stats;
    xacts += d.xacts;
    queries += d.queries;
    xact_seconds += d.xact_seconds;
    query_seconds += d.query_seconds;
    wait_seconds += d.wait_seconds;
    received += d.received;
    sent += d.sent;
  }
};

}  // namespace

PgBouncerProbe::PgBouncerProbe(Dsn admin_dsn, PgBouncerViewOptions view)
    : view_(std::move(view)),
      session_(std::make_unique<PgSession>(std::move(admin_dsn), "poolscope-agent")) {}
PgBouncerProbe::~PgBouncerProbe() = default;

Status PgBouncerProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  const std::string key = "pgbouncer/" + view_.target;
  auto fail = [&](Error e) -> Status {
    if (view_.sink) view_.sink->Clear(key);
    return e;
  };
  if (!view_.sink) {
    auto r = session_->Run("SHOW VERSION", deadline, stop);
    return r ? OkStatus() : Status(r.error());
  }
  // The admin console takes one command per query.
  auto pools = session_->Run("SHOW POOLS", deadline, stop);
  if (!pools) return fail(pools.error());
  auto stats = session_->Run("SHOW STATS", deadline, stop);
  if (!stats) return fail(stats.error());
  if (pools->size() != 1 || stats->size() != 1) {
    return fail(Error{ErrorCode::kInternal, "SHOW POOLS/STATS returned an unexpected result"});
  }

  std::map<std::string, DbTotals> dbs;
  PgTable p((*pools)[0].get());
  const int c_db = p.column("database"), c_cla = p.column("cl_active"),
            c_clw = p.column("cl_waiting"), c_sva = p.column("sv_active"),
            c_svi = p.column("sv_idle"), c_svu = p.column("sv_used"), c_svt = p.column("sv_tested"),
            c_svl = p.column("sv_login"), c_mw = p.column("maxwait"),
            c_mwu = p.column("maxwait_us");
  for (int i = 0; i < p.rows(); ++i) {
    DbTotals& d = dbs[NameLabel(p.text(i, c_db))];
    d.cl_active += p.number(i, c_cla);
    d.cl_waiting += p.number(i, c_clw);
    d.sv_active += p.number(i, c_sva);
    d.sv_idle += p.number(i, c_svi);
    d.sv_used += p.number(i, c_svu);
    d.sv_tested += p.number(i, c_svt);
    d.sv_login += p.number(i, c_svl);
    d.max_wait = std::max(d.max_wait, p.number(i, c_mw) + p.number(i, c_mwu) / 1e6);
  }
  PgTable s((*stats)[0].get());
  const int s_db = s.column("database"), s_x = s.column("total_xact_count"),
            s_q = s.column("total_query_count"), s_xt = s.column("total_xact_time"),
            s_qt = s.column("total_query_time"), s_wt = s.column("total_wait_time"),
            s_rx = s.column("total_received"), s_tx = s.column("total_sent");
  for (int i = 0; i < s.rows(); ++i) {
    DbTotals& d = dbs[NameLabel(s.text(i, s_db))];
    d.have_stats = true;
    d.xacts += s.number(i, s_x);
    d.queries += s.number(i, s_q);
    d.xact_seconds += s.number(i, s_xt) / 1e6;  // microseconds
    d.query_seconds += s.number(i, s_qt) / 1e6;
    d.wait_seconds += s.number(i, s_wt) / 1e6;
    d.received += s.number(i, s_rx);
    d.sent += s.number(i, s_tx);
  }
  // Cap the database labels: the busiest keep their names.
  if (static_cast<int>(dbs.size()) > view_.database_labels) {
    std::vector<std::pair<double, std::string>> by_load;
    for (const auto& [name, d] : dbs)
      by_load.emplace_back(d.cl_active + d.cl_waiting + d.queries, name);
    std::sort(by_load.begin(), by_load.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    DbTotals other;
    for (std::size_t i = std::max(view_.database_labels - 1, 0); i < by_load.size(); ++i) {
      other.Merge(dbs[by_load[i].second]);
      dbs.erase(by_load[i].second);
    }
    dbs["other"] = other;
  }

  FamilyBuilder f;
  for (const auto& [db, d] : dbs) {
    const LabelPairs l{{"target", view_.target}, {"database", db}};
    f.Gauge("poolscope_pgbouncer_client_active_connections",
            "Client connections paired with a server connection or idle", l, d.cl_active);
    f.Gauge("poolscope_pgbouncer_client_waiting_connections",
            "Client connections waiting for a server connection", l, d.cl_waiting);
    f.Gauge("poolscope_pgbouncer_max_wait_seconds", "How long the oldest waiting client has waited",
            l, d.max_wait);
    for (const auto& [state, n] : {std::pair<const char*, double>{"active", d.sv_active},
                                   {"idle", d.sv_idle},
                                   {"used", d.sv_used},
                                   {"tested", d.sv_tested},
                                   {"login", d.sv_login}}) {
      f.Gauge("poolscope_pgbouncer_server_connections", "Server connections by state",
              {{"target", view_.target}, {"database", db}, {"state", state}}, n);
    }
    if (!d.have_stats) continue;
    f.Counter("poolscope_pgbouncer_transactions_total", "Transactions pooled", l, d.xacts);
    f.Counter("poolscope_pgbouncer_queries_total", "Queries pooled", l, d.queries);
    f.Counter("poolscope_pgbouncer_transaction_seconds_total",
              "Time spent in transactions on server connections", l, d.xact_seconds);
    f.Counter("poolscope_pgbouncer_query_seconds_total",
              "Time spent running queries on server connections", l, d.query_seconds);
    f.Counter("poolscope_pgbouncer_wait_seconds_total",
              "Time clients spent waiting for a server connection", l, d.wait_seconds);
    f.Counter("poolscope_pgbouncer_received_bytes_total", "Bytes received from clients", l,
              d.received);
    f.Counter("poolscope_pgbouncer_sent_bytes_total", "Bytes sent to clients", l, d.sent);
  }
  view_.sink->Publish(key, f.Take());
  return OkStatus();
}

}  // namespace poolscope
