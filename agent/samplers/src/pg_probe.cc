#include "poolscope/samplers/pg_probe.h"

#include <libpq-fe.h>

#include <string>

#include <fmt/format.h>

#include "poolscope/core/pg_cancel.h"
#include "poolscope/core/pg_connect.h"

namespace poolscope {

struct PgProbe::Conn {
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> pg;
};

PgProbe::PgProbe(Dsn dsn) : dsn_(std::move(dsn)) {}
PgProbe::~PgProbe() = default;

Status PgProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  auto fail = [&](ErrorCode code, std::string msg) -> Status {
    conn_.reset();
    return Error{code, std::move(msg)};
  };
  auto wait_failed = [&](WaitResult w, const char* phase) -> Status {
    Error e = WaitError(w, phase);
    return fail(e.code, std::move(e.message));
  };

  if (conn_ && PQstatus(conn_->pg.get()) != CONNECTION_OK) conn_.reset();
  if (!conn_) {
    auto c =
        ConnectPg(dsn_, {}, {{"fallback_application_name", "poolscope-agent"}}, deadline, stop);
    if (!c) return fail(c.error().code, c.error().message);
    conn_ = std::make_unique<Conn>();
    conn_->pg.reset(*c);
  }

  PGconn* c = conn_->pg.get();
  if (PQsendQuery(c, "SELECT 1") == 0)
    return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));
  int flush;
  while ((flush = PQflush(c)) == 1) {
    WaitResult w = WaitForFd(PQsocket(c), true, deadline, stop);
    if (w != WaitResult::kReady) return wait_failed(w, "sending the check query");
  }
  if (flush < 0) return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));

  while (PQisBusy(c)) {
    WaitResult w = WaitForFd(PQsocket(c), false, deadline, stop);
    if (w != WaitResult::kReady) {
      // Tell the server to stop working on it; the connection is dropped anyway.
      CancelInBackground(PQgetCancel(c));
      return wait_failed(w, "waiting for the check query");
    }
    if (PQconsumeInput(c) == 0)
      return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));
  }
  bool ok = true;
  std::string err;
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      ok = false;
      err = PgErrorLine(PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  if (!ok) return fail(ErrorCode::kUnavailable, err);
  return OkStatus();
}

}  // namespace poolscope
