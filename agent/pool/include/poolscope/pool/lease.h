// Lease: one connection borrowed from a Pool. Move-only; it returns the
// connection in its destructor on every path, exceptions included.
//
//   auto lease = pool.Acquire();
//   if (!lease) return lease.error();          // timeout, rejected, ...
//   auto rows = lease->QueryPrepared("SELECT name FROM products WHERE id = $1", {id});
//
// Transaction rolls back in its destructor unless Commit() succeeded:
//
//   auto tx = lease->Begin();
//   if (!tx) return tx.error();
//   if (auto r = tx->Query("UPDATE stock SET n = n - 1 WHERE id = $1", {id}); !r) return r.error();
//   if (Status s = tx->Commit(); !s) return s.error();
//
// Thread-safety: a Lease and its Transaction are used by one thread at a
// time. A Transaction must not outlive its Lease.
#pragma once

#include <string_view>

#include "poolscope/core/result.h"
#include "poolscope/pool/params.h"
#include "poolscope/pool/rows.h"

namespace poolscope {

class PoolCore;
class Transaction;

class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  // Query runs `sql` with `params` ($1, $2, ...) as a one-off statement.
  Result<Rows> Query(std::string_view sql, const Params& params = {});

  // QueryPrepared runs `sql` as a prepared statement, prepared once per
  // connection and cached (least recently used ones are deallocated).
  Result<Rows> QueryPrepared(std::string_view sql, const Params& params = {});

  // Begin opens a transaction (BEGIN) on this lease.
  Result<Transaction> Begin();

  // BackendPid is the server process behind this lease.
  int BackendPid() const;

  // PreparedCount is the number of statements prepared on this connection.
  int PreparedCount() const;

  // Release returns the connection now; the lease becomes empty.
  void Release();

  explicit operator bool() const { return core_ != nullptr; }

 private:
  friend class PoolCore;
  Lease(PoolCore* core, int slot) : core_(core), slot_(slot) {}
  Result<Rows> Run(std::string_view sql, const Params& params, bool prepared);

  PoolCore* core_ = nullptr;
  int slot_ = -1;
};

class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Result<Rows> Query(std::string_view sql, const Params& params = {});
  Result<Rows> QueryPrepared(std::string_view sql, const Params& params = {});

  // Commit commits; on failure the transaction is rolled back by the server.
  Status Commit();
  // Rollback rolls back now (the destructor does it otherwise).
  Status Rollback();

 private:
  friend class Lease;
  explicit Transaction(Lease* lease) : lease_(lease) {}
  Lease* lease_;
  bool done_ = false;
};

}  // namespace poolscope
