#include "poolscope/pool/lease.h"

#include "pool_core.h"

namespace poolscope {

Lease::Lease(Lease&& other) noexcept : core_(other.core_), slot_(other.slot_) {
  other.core_ = nullptr;
  other.slot_ = -1;
}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = other.core_;
    slot_ = other.slot_;
    other.core_ = nullptr;
    other.slot_ = -1;
  }
  return *this;
}

Lease::~Lease() { Release(); }

void Lease::Release() {
  if (core_ != nullptr) {
    PoolCore* core = core_;
    core_ = nullptr;
    core->Release(slot_);
    slot_ = -1;
  }
}

Result<Rows> Lease::Run(std::string_view sql, const Params& params, bool prepared) {
  if (core_ == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "query on an empty lease (moved from or released)");
  }
  return core_->Run(slot_, sql, params, prepared);
}

Result<Rows> Lease::Query(std::string_view sql, const Params& params) {
  return Run(sql, params, false);
}

Result<Rows> Lease::QueryPrepared(std::string_view sql, const Params& params) {
  return Run(sql, params, true);
}

int Lease::BackendPid() const { return core_ != nullptr ? core_->conn(slot_).BackendPid() : 0; }

int Lease::PreparedCount() const {
  return core_ != nullptr ? core_->conn(slot_).PreparedCount() : 0;
}

Result<Transaction> Lease::Begin() {
  auto r = Run("BEGIN", {}, false);
  if (!r) return r.error();
  return Transaction(this);
}

Transaction::Transaction(Transaction&& other) noexcept : lease_(other.lease_), done_(other.done_) {
  other.done_ = true;
}

Transaction::~Transaction() {
  if (!done_) {
    // Errors are dropped: a connection that cannot roll back is broken, and
    // the lease's release discards it.
    (void)Rollback();
  }
}

Result<Rows> Transaction::Query(std::string_view sql, const Params& params) {
  return lease_->Query(sql, params);
}

Result<Rows> Transaction::QueryPrepared(std::string_view sql, const Params& params) {
  return lease_->QueryPrepared(sql, params);
}

Status Transaction::Commit() {
  done_ = true;
  auto r = lease_->Query("COMMIT");
  if (!r) return r.error();
  // COMMIT of a failed transaction answers ROLLBACK without an error.
  if (r->Command() == "ROLLBACK") {
    return Error(ErrorCode::kQueryFailed,
                 "the transaction was rolled back because an earlier statement in it failed",
                 "25P02");
  }
  return OkStatus();
}

Status Transaction::Rollback() {
  done_ = true;
  auto r = lease_->Query("ROLLBACK");
  if (!r) return r.error();
  return OkStatus();
}

}  // namespace poolscope
