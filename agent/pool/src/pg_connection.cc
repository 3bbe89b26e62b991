// The libpq Connection: non-blocking I/O with client-side statement
// deadlines, a bounded per-connection prepared-statement cache, and a
// reset (ROLLBACK) bounded by a deadline.
#include <libpq-fe.h>

#include <list>
#include <unordered_map>

#include <fmt/format.h>

#include "poolscope/core/pg_cancel.h"
#include "poolscope/core/pg_connect.h"
#include "poolscope/pool/connection.h"
#include "poolscope/pool/pool_config.h"

namespace poolscope {
namespace {

// Settings is what every connection of one pool shares.
struct Settings {
  Dsn dsn;
  std::string application_name;
  Duration connect_timeout;
  Duration statement_timeout;
  Duration cancel_grace;
  int prepared_cache_size;
};

constexpr const char* kSqlstateConnectionFailure = "08006";
constexpr const char* kSqlstateQueryCanceled = "57014";

class PgConnection final : public Connection {
 public:
  PgConnection(PGconn* conn, const Settings& settings) : conn_(conn), settings_(settings) {}
  ~PgConnection() override { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Setup applies per-connection settings after connecting.
  Status Setup(Clock::time_point deadline) {
    if (settings_.statement_timeout > Duration::zero()) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.statement_timeout);
      std::string sql = fmt::format("SET statement_timeout = {}", ms.count());
      if (PQsendQuery(conn_, sql.c_str()) == 0) return SendFailed();
      auto r = Await(deadline, /*may_cancel=*/false);
      if (!r) return r.error();
    }
    return OkStatus();
  }

  Result<Rows> Execute(std::string_view sql, const Params& params, bool prepared) override {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.is_null() ? nullptr : p.text().c_str());
    const int n = static_cast<int>(values.size());
    if (prepared && settings_.prepared_cache_size > 0) {
      auto name = Prepare(sql, n);
      if (!name) return name.error();
      if (PQsendQueryPrepared(conn_, name->c_str(), n, values.data(), nullptr, nullptr, 0) == 0) {
        return SendFailed();
      }
    } else {
      std::string text(sql);
      if (PQsendQueryParams(conn_, text.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0) ==
          0) {
        return SendFailed();
      }
    }
    return Await(StatementDeadline(), /*may_cancel=*/true);
  }

  Status Ping(Clock::time_point deadline) override {
    if (Broken()) return Error(ErrorCode::kUnavailable, "connection is broken");
    if (PQsendQuery(conn_, "") == 0) return SendFailed();
    auto r = Await(deadline, /*may_cancel=*/false);
    if (!r) return r.error();
    return OkStatus();
  }

  bool Reset(Duration timeout) override {
    if (Broken()) return false;
    switch (PQtransactionStatus(conn_)) {
      case PQTRANS_IDLE:
        return true;
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR: {
        if (PQsendQuery(conn_, "ROLLBACK") == 0) return false;
        auto r = Await(Clock::now() + timeout, /*may_cancel=*/false);
        return r.ok() && PQtransactionStatus(conn_) == PQTRANS_IDLE;
      }
      default:  // a query still running, or the connection is gone
        return false;
    }
  }

  bool Broken() const override { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
  int BackendPid() const override { return PQbackendPID(conn_); }
  int PreparedCount() const override { return static_cast<int>(lru_.size()); }

 private:
  Clock::time_point StatementDeadline() const {
    if (settings_.statement_timeout <= Duration::zero()) return Clock::time_point::max();
    return Clock::now() + settings_.statement_timeout + settings_.cancel_grace;
  }

  Error SendFailed() {
    broken_ = PQstatus(conn_) != CONNECTION_OK;
    return Error(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(conn_)),
                 kSqlstateConnectionFailure);
  }

  // Prepare returns the server-side name of `sql`, preparing it (and
  // evicting the least recently used statement) when it is not cached.
  Result<std::string> Prepare(std::string_view sql, int nparams) {
    std::string key(sql);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    if (static_cast<int>(lru_.size()) >= settings_.prepared_cache_size) {
      const std::string victim = lru_.back().second;
      std::string dealloc = "DEALLOCATE " + victim;
      if (PQsendQuery(conn_, dealloc.c_str()) == 0) return SendFailed();
      auto r = Await(StatementDeadline(), /*may_cancel=*/true);
      if (!r) return r.error();
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    std::string name = fmt::format("poolscope_{}", ++next_id_);
    if (PQsendPrepare(conn_, name.c_str(), key.c_str(), nparams, nullptr) == 0) {
      return SendFailed();
    }
    auto r = Await(StatementDeadline(), /*may_cancel=*/true);
    if (!r) return r.error();
    lru_.emplace_front(key, name);
    index_[key] = lru_.begin();
    return name;
  }

  // Await collects the results of the command just sent. Past `deadline` it
  // sends a cancel (when `may_cancel`) and waits one more cancel_grace; then
  // it gives the connection up as broken.
  Result<Rows> Await(Clock::time_point deadline, bool may_cancel) {
    int flush;
    while ((flush = PQflush(conn_)) == 1) {
      if (WaitForFd(PQsocket(conn_), true, deadline, {}) != WaitResult::kReady) {
        broken_ = true;
        return Error(ErrorCode::kTimeout, "could not send the statement before its deadline",
                     kSqlstateQueryCanceled);
      }
    }
    if (flush < 0) return SendFailed();
    bool cancelled = !may_cancel;
    while (PQisBusy(conn_)) {
      WaitResult w = WaitForFd(PQsocket(conn_), false, deadline, {});
      if (w == WaitResult::kTimeout) {
        if (!cancelled) {
          CancelInBackground(PQgetCancel(conn_));
          cancelled = true;
          deadline = Clock::now() + settings_.cancel_grace;
          continue;
        }
        broken_ = true;
        return Error(ErrorCode::kTimeout,
                     "the server did not answer before the statement deadline; the query was "
                     "cancelled and the connection dropped",
                     kSqlstateQueryCanceled);
      }
      if (w != WaitResult::kReady) {
        broken_ = true;
        return Error(ErrorCode::kUnavailable, "socket error while waiting for the server",
                     kSqlstateConnectionFailure);
      }
      if (PQconsumeInput(conn_) == 0) {
        broken_ = true;
        return Error(ErrorCode::kUnavailable, PgErrorLine(PQerrorMessage(conn_)),
                     kSqlstateConnectionFailure);
      }
    }
    PGresult* keep = nullptr;
    Error error;
    bool failed = false;
    while (PGresult* r = PQgetResult(conn_)) {
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
        if (!failed) {
          const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
          const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
          error = Error(ErrorCode::kQueryFailed,
                        PgErrorLine(primary != nullptr ? primary : PQresultErrorMessage(r)),
                        state != nullptr ? state : kSqlstateConnectionFailure);
          failed = true;
        }
        PQclear(r);
        continue;
      }
      if (keep != nullptr) PQclear(keep);
      keep = r;
    }
    if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    if (failed) {
      if (keep != nullptr) PQclear(keep);
      if (broken_ && error.sqlstate.empty()) error.sqlstate = kSqlstateConnectionFailure;
      return error;
    }
    return Rows(keep);
  }

  PGconn* conn_;
  const Settings& settings_;
  bool broken_ = false;
  std::uint64_t next_id_ = 0;
  std::list<std::pair<std::string, std::string>> lru_;  // (sql, name), most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

class PgConnectionFactory final : public ConnectionFactory {
 public:
  explicit PgConnectionFactory(const PoolConfig& c)
      : settings_{c.dsn,          c.application_name,   c.connect_timeout, c.statement_timeout,
                  c.cancel_grace, c.prepared_cache_size} {
    auto secs = std::chrono::ceil<std::chrono::seconds>(c.connect_timeout).count();
    defaults_ = {{"connect_timeout", std::to_string(std::max<long>(2, secs))},
                 {"keepalives", "1"},
                 {"keepalives_idle", "30"},
                 {"keepalives_interval", "10"},
                 {"keepalives_count", "3"}};
    overrides_ = {{"application_name", c.application_name}};
  }

  Result<std::unique_ptr<Connection>> Connect(Clock::time_point deadline,
                                              std::stop_token stop) override {
    auto c = ConnectPg(settings_.dsn, defaults_, overrides_, deadline, stop);
    if (!c) return c.error();
    auto conn = std::make_unique<PgConnection>(*c, settings_);
    if (Status s = conn->Setup(deadline); !s) return s.error();
    return std::unique_ptr<Connection>(std::move(conn));
  }

 private:
  Settings settings_;
  PgSettings defaults_;
  PgSettings overrides_;
};

}  // namespace

std::unique_ptr<ConnectionFactory> MakePgConnectionFactory(const PoolConfig& config) {
  return std::make_unique<PgConnectionFactory>(config);
}

}  // namespace poolscope
