// ConnectPg: open a libpq connection without blocking past a deadline.
//
// libpq's PQconnectdb blocks for as long as connect_timeout (per host) and
// cannot be interrupted; ConnectPg drives PQconnectStartParams/PQconnectPoll
// itself, so a stop request or the deadline ends the attempt at once.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "poolscope/core/dsn.h"
#include "poolscope/core/io_wait.h"
#include "poolscope/core/result.h"

struct pg_conn;  // libpq's PGconn, kept out of public headers

namespace poolscope {

// PgSettings are keyword/value pairs passed to libpq next to the DSN.
using PgSettings = std::vector<std::pair<std::string, std::string>>;

// ConnectPg connects with `dsn`. `defaults` apply unless the DSN sets the
// same keyword; `overrides` win over the DSN. On success the caller owns the
// connection (PQfinish it), which is left in non-blocking mode.
Result<pg_conn*> ConnectPg(const Dsn& dsn, const PgSettings& defaults, const PgSettings& overrides,
                           Clock::time_point deadline, const std::stop_token& stop);

// PgErrorLine folds a libpq message into one line ("unknown error" if empty).
std::string PgErrorLine(const char* message);

}  // namespace poolscope
