// PgSession: one kept-open libpq connection for a sampler, and simple-query
// round trips on it that never outlive a deadline. A statement string may
// hold several statements; their results come back in order, in one round
// trip (the simple query protocol, which PgBouncer's admin console needs).
//
// A failed round trip drops the connection (the next Run reconnects); a
// round trip past its deadline is cancelled on the server in the
// background.
//
// Thread-safety: not thread-safe; owned by one sampler.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "poolscope/core/dsn.h"
#include "poolscope/core/io_wait.h"
#include "poolscope/core/result.h"

namespace poolscope {

struct PgResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultFree>;

// PgTable is a read-only view of one result set, columns found by name.
class PgTable {
 public:
  explicit PgTable(const PGresult* r) : r_(r) {}
  int rows() const { return PQntuples(r_); }
  // column is the index of `name`, or -1 when the server did not send it.
  int column(const char* name) const { return PQfnumber(r_, name); }
  bool null(int row, int col) const { return col < 0 || PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return null(row, col) ? std::string() : std::string(PQgetvalue(r_, row, col));
  }
  // number parses a numeric column; 0 for NULL, a missing column or junk.
  double number(int row, int col) const;

 private:
  const PGresult* r_;
};

class PgSession {
 public:
  // `application_name` is set unless the DSN sets its own.
  PgSession(Dsn dsn, std::string application_name);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Run sends `sql` and returns every statement's result, or an error saying
  // which step failed. A statement that failed on the server fails the run.
  Result<std::vector<PgResult>> Run(const char* sql, Clock::time_point deadline,
                                    const std::stop_token& stop);

  // connected says whether a connection is open now.
  bool connected() const { return conn_ != nullptr; }

 private:
  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  Dsn dsn_;
  std::string application_name_;
  std::unique_ptr<PGconn, Finish> conn_;  // null until connected, reset when broken
};

// NameLabel turns a name the server reports (an application_name, a
// database) into a label value: control characters become '_', at most 64
// bytes, "unnamed" for an empty one.
std::string NameLabel(const std::string& name);

// ServerError returns a result's SQLSTATE and first message line, e.g.
// "42P01: relation \"x\" does not exist".
std::string ServerError(const PGresult* r);

}  // namespace poolscope
