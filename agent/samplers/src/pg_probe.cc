#include "poolscope/samplers/pg_probe.h"

#include <libpq-fe.h>

#include <string>

#include <fmt/format.h>

#include "poolscope/core/pg_cancel.h"

namespace poolscope {
namespace {

// OneLine folds libpq's multi-line messages into one log-friendly line.
std::string OneLine(const char* msg) {
  std::string out;
  for (const char* p = msg; p != nullptr && *p != '\0'; ++p) {
    if (*p == '\n') {
      if (p[1] != '\0') out += "; ";
    } else if (*p != '\t') {
      out += *p;
    }
  }
  return out.empty() ? "unknown libpq error" : out;
}

}  // namespace

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
    if (w == WaitResult::kStopped) return fail(ErrorCode::kCancelled, "stopped");
    if (w == WaitResult::kTimeout) {
      return fail(ErrorCode::kTimeout,
                  fmt::format("no answer while {} before the deadline", phase));
    }
    return fail(ErrorCode::kUnavailable, fmt::format("socket error while {}", phase));
  };

  if (conn_ && PQstatus(conn_->pg.get()) != CONNECTION_OK) conn_.reset();
  if (!conn_) {
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* vals[] = {dsn_.Expose().c_str(), "poolscope-agent", nullptr};
    conn_ = std::make_unique<Conn>();
    conn_->pg.reset(PQconnectStartParams(keys, vals, /*expand_dbname=*/1));
    PGconn* c = conn_->pg.get();
    if (c == nullptr) return fail(ErrorCode::kInternal, "out of memory starting a connection");
    if (PQstatus(c) == CONNECTION_BAD)
      return fail(ErrorCode::kUnavailable, OneLine(PQerrorMessage(c)));
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED)
        return fail(ErrorCode::kUnavailable, OneLine(PQerrorMessage(c)));
      WaitResult w = WaitForFd(PQsocket(c), st == PGRES_POLLING_WRITING, deadline, stop);
      if (w != WaitResult::kReady) return wait_failed(w, "connecting");
      st = PQconnectPoll(c);
    }
    PQsetnonblocking(c, 1);
  }

  PGconn* c = conn_->pg.get();
  if (PQsendQuery(c, "SELECT 1") == 0)
    return fail(ErrorCode::kUnavailable, OneLine(PQerrorMessage(c)));
  int flush;
  while ((flush = PQflush(c)) == 1) {
    WaitResult w = WaitForFd(PQsocket(c), true, deadline, stop);
    if (w != WaitResult::kReady) return wait_failed(w, "sending the check query");
  }
  if (flush < 0) return fail(ErrorCode::kUnavailable, OneLine(PQerrorMessage(c)));

  while (PQisBusy(c)) {
    WaitResult w = WaitForFd(PQsocket(c), false, deadline, stop);
    if (w != WaitResult::kReady) {
      // Tell the server to stop working on it; the connection is dropped anyway.
      CancelInBackground(PQgetCancel(c));
      return wait_failed(w, "waiting for the check query");
    }
    if (PQconsumeInput(c) == 0) return fail(ErrorCode::kUnavailable, OneLine(PQerrorMessage(c)));
  }
  bool ok = true;
  std::string err;
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      ok = false;
      err = OneLine(PQresultErrorMessage(r));
    }
    PQclear(r);
  }
  if (!ok) return fail(ErrorCode::kUnavailable, err);
  return OkStatus();
}

}  // namespace poolscope
