#include "pg_session.h"

#include <cstdlib>

#include <fmt/format.h>

#include "poolscope/core/pg_cancel.h"
#include "poolscope/core/pg_connect.h"

namespace poolscope {

double PgTable::number(int row, int col) const {
  if (null(row, col)) return 0;
  const char* s = PQgetvalue(r_, row, col);
  char* end = nullptr;
  double v = std::strtod(s, &end);
  return end == s ? 0 : v;
}

PgSession::PgSession(Dsn dsn, std::string application_name)
    : dsn_(std::move(dsn)), application_name_(std::move(application_name)) {}
PgSession::~PgSession() = default;

std::string NameLabel(const std::string& name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '_' : c;
  }
  return out.empty() ? "unnamed" : out;
}

std::string ServerError(const PGresult* r) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  std::string msg = primary != nullptr ? primary : PgErrorLine(PQresultErrorMessage(r));
  return state != nullptr ? fmt::format("{}: {}", state, msg) : msg;
}

Result<std::vector<PgResult>> PgSession::Run(const char* sql, Clock::time_point deadline,
                                             const std::stop_token& stop) {
  auto fail = [&](ErrorCode code, std::string msg) -> Error {
    conn_.reset();
    return Error{code, std::move(msg)};
  };
  auto wait_failed = [&](WaitResult w, const char* phase) -> Error {
    Error e = WaitError(w, phase);
    return fail(e.code, std::move(e.message));
  };

  if (conn_ && PQstatus(conn_.get()) != CONNECTION_OK) conn_.reset();
  if (!conn_) {
    auto c =
        ConnectPg(dsn_, {}, {{"fallback_application_name", application_name_}}, deadline, stop);
    if (!c) return fail(c.error().code, c.error().message);
    conn_.reset(*c);
  }

  PGconn* c = conn_.get();
  if (PQsendQuery(c, sql) == 0)
    return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));
  int flush;
  while ((flush = PQflush(c)) == 1) {
    WaitResult w = WaitForFd(PQsocket(c), true, deadline, stop);
    if (w != WaitResult::kReady) return wait_failed(w, "sending the sampler's query");
  }
  if (flush < 0) return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));

  std::vector<PgResult> results;
  std::string server_error;
  while (true) {
    while (PQisBusy(c)) {
      WaitResult w = WaitForFd(PQsocket(c), false, deadline, stop);
      if (w != WaitResult::kReady) {
        // Tell the server to stop working on it; the connection is dropped anyway.
        CancelInBackground(PQgetCancel(c));
        return wait_failed(w, "waiting for the sampler's query");
      }
      if (PQconsumeInput(c) == 0) {
        return fail(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c)));
      }
    }
    PgResult r(PQgetResult(c));
    if (!r) break;
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      results.push_back(std::move(r));
    } else if (server_error.empty()) {
      server_error = ServerError(r.get());
    }
  }
  if (!server_error.empty()) return Error{ErrorCode::kQueryFailed, server_error};
  return results;
}

}  // namespace poolscope
