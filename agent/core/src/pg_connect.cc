#include "poolscope/core/pg_connect.h"

#include <libpq-fe.h>

#include <memory>

#include <fmt/format.h>

namespace poolscope {

std::string PgErrorLine(const char* msg) {
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

Result<pg_conn*> ConnectPg(const Dsn& dsn, const PgSettings& defaults, const PgSettings& overrides,
                           Clock::time_point deadline, const std::stop_token& stop) {
  // libpq applies keywords in order and later ones win, so defaults go
  // before the expanded DSN and overrides after it.
  std::vector<const char*> keys;
  std::vector<const char*> vals;
  for (const auto& [k, v] : defaults) {
    keys.push_back(k.c_str());
    vals.push_back(v.c_str());
  }
  keys.push_back("dbname");
  vals.push_back(dsn.Expose().c_str());
  for (const auto& [k, v] : overrides) {
    keys.push_back(k.c_str());
    vals.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);

  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn(
      PQconnectStartParams(keys.data(), vals.data(), /*expand_dbname=*/1));
  if (!conn) return Error{ErrorCode::kInternal, "out of memory starting a connection"};
  PGconn* c = conn.get();
  if (PQstatus(c) == CONNECTION_BAD) {
    return Error{ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c))};
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) {
      return Error{ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(c))};
    }
    switch (WaitForFd(PQsocket(c), st == PGRES_POLLING_WRITING, deadline, stop)) {
      case WaitResult::kReady:
        break;
      case WaitResult::kStopped:
        return Error{ErrorCode::kCancelled, "stopped while connecting"};
      case WaitResult::kTimeout:
        return Error{ErrorCode::kTimeout, "no answer from the server before the connect deadline"};
      case WaitResult::kError:
        return Error{ErrorCode::kUnavailable, "socket error while connecting"};
    }
    st = PQconnectPoll(c);
  }
  PQsetnonblocking(c, 1);
  return conn.release();
}

}  // namespace poolscope
