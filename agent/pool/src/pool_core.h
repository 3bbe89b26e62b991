// PoolCore: the pool's machinery behind Pool and Lease (private header).
//
// Slots. The pool has max_size slots. A slot is empty, opening, idle, in use
// or busy (the housekeeper works on it). Whoever holds a slot owns its
// Connection: the idle set (a bitmap of idle slots, claimed with CAS) hands
// ownership over with acquire/release ordering.
//
// Fairness. Callers that find no idle connection queue in FIFO order under
// mu_. A returned connection goes straight to the oldest waiter; newcomers
// take the lock-free fast path only while nobody waits. The Dekker pair
// "waiter: waiting_++ then re-check the idle set" / "releaser: put in the
// idle set then re-check waiting_" (both seq_cst) means a connection is never
// left idle while a caller sleeps.
//
// Timers. Each in-use slot publishes its lease (site, thread, start) and its
// running query (statement, start) through generation words; the
// housekeeper scans them every tick and flags leaks and slow queries with a
// CAS on the word, so each is reported exactly once, and the release or the
// query's end sees the flag.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include "poolscope/core/source_location.h"

#include "poolscope/core/fast_clock.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/pool/connection.h"
#include "poolscope/pool/fingerprint.h"
#include "poolscope/pool/pool.h"
#include "poolscope/pool/pool_config.h"

namespace poolscope {

// StatementInfo is what the pool knows about one statement text.
struct StatementInfo {
  std::string fingerprint;  // literals replaced by '?'
  std::string label;        // the bounded `statement` label value
  FastHistogram* duration;
  FastCounter* slow;
};

enum class SlotState : std::uint8_t { kEmpty, kOpening, kIdle, kInUse, kBusy };

struct alignas(64) Slot {
  std::atomic<SlotState> state{SlotState::kEmpty};
  std::unique_ptr<Connection> conn;  // owned by the slot's holder of the moment
  std::uint64_t gen = 0;             // lease generation (holder only)
  std::uint64_t qgen = 0;            // query generation (holder only)

  // Lifecycle, in FastClock ticks. Written by the holder; the housekeeper
  // peeks at idle slots before claiming them, hence atomics.
  std::atomic<std::int64_t> expires{0};
  std::atomic<std::int64_t> last_used{0};
  std::atomic<std::int64_t> last_alive{0};  // last time the server answered

  // The lease, published for the housekeeper and Holders().
  std::atomic<std::uint64_t> lease_word{0};  // gen << 1 | leak_reported; 0 = none
  std::atomic<std::int64_t> acquired_at{0};
  std::atomic<const char*> site_file{nullptr};
  std::atomic<const char*> site_function{nullptr};
  std::atomic<std::uint32_t> site_line{0};
  std::atomic<long> thread_id{0};
  std::atomic<int> backend_pid{0};
  std::atomic<int> frames_len{0};
  std::array<std::atomic<void*>, 16> frames{};

  // The running query.
  std::atomic<std::uint64_t> query_word{0};  // qgen << 1 | slow_reported; 0 = none
  std::atomic<std::int64_t> query_started{0};
  std::atomic<const StatementInfo*> statement{nullptr};
};

// IdleSet is a lock-free bitmap of idle slots.
class IdleSet {
 public:
  explicit IdleSet(int n);
  // Claim takes any idle slot; -1 when none.
  int Claim();
  // ClaimSlot takes slot `s` if it is idle.
  bool ClaimSlot(int s);
  // Put marks slot `s` idle.
  void Put(int s);

 private:
  int words_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bits_;
};

class PoolCore {
 public:
  PoolCore(PoolConfig config, std::unique_ptr<ConnectionFactory> factory,
           std::shared_ptr<MetricsBook> book);
  ~PoolCore();

  // Acquire waits until `deadline`, or, when `deadline` is the epoch, for
  // `timeout` from now (computed only if it has to wait: reading the clock
  // is a third of an uncontended acquire).
  Result<Lease, AcquireError> Acquire(Clock::time_point deadline, Duration timeout,
                                      const SourceLocation& site);
  void Release(int slot) noexcept;
  Result<Rows> Run(int slot, std::string_view sql, const Params& params, bool prepared);
  Connection& conn(int slot) { return *slots_[slot].conn; }

  PoolState State() const;
  std::vector<Holder> Holders() const;
  void Close();

  const PoolConfig& config() const { return config_; }
  const std::shared_ptr<MetricsBook>& book() const { return book_; }

 private:
  struct Waiter {
    std::condition_variable cv;
    std::atomic<int> slot{-1};  // set under mu_ by the releaser that hands a slot over
    bool sleeping = false;      // guarded by mu_: blocked on cv (needs a notify)
  };

  // Ready turns claimed slot `s` into a lease, validating a connection idle
  // too long; nullopt when validation failed (the slot was discarded).
  std::optional<Lease> Ready(int s, std::int64_t t0, const SourceLocation& site, bool waited);
  Result<Lease, AcquireError> AcquireSlow(std::int64_t t0, Clock::time_point deadline,
                                          const SourceLocation& site);
  // HasEmpty says whether a slot has no connection (room to open one).
  bool HasEmpty() const;
  AcquireError Fail(ErrorCode code, const char* outcome, std::string message);

  // Open connects slot `s` (state kOpening); on failure the slot is empty.
  Status Open(int s, Clock::time_point deadline, const std::stop_token& stop);
  // GiveBack returns a healthy connection: to the oldest waiter or idle.
  void GiveBack(int s);
  // Discard closes the connection in slot `s` for `reason`.
  void Discard(int s, const char* reason);
  int ReserveEmpty();
  void HandOffLocked(int s);  // mu_ held, waiters_ not empty

  // Housekeeping.
  void Housekeep(const std::stop_token& stop);
  void ScanLeases(std::int64_t now);
  void Maintain(std::int64_t now);
  void Fill(const std::stop_token& stop);
  void Wake();
  Holder Describe(int s, std::int64_t now) const;
  const StatementInfo* Statement(std::string_view sql);
  FastCounter& ErrorCounter(const std::string& sqlstate);

  const PoolConfig config_;
  std::unique_ptr<ConnectionFactory> factory_;  // outlives the connections in slots_
  std::shared_ptr<MetricsBook> book_;
  const int n_;
  std::unique_ptr<Slot[]> slots_;
  IdleSet idle_;
  std::atomic<int> waiting_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> connect_failing_{false};

  // Thresholds in FastClock ticks (0: off).
  std::int64_t leak_ticks_ = 0;
  std::int64_t slow_ticks_ = 0;
  std::int64_t validate_ticks_ = 0;
  std::int64_t idle_ticks_ = 0;
  std::int64_t keepalive_ticks_ = 0;

  mutable std::mutex mu_;             // guards waiters_; signals close_cv_
  std::deque<Waiter*> waiters_;       // oldest first
  std::condition_variable close_cv_;  // a slot left use while closing

  std::mutex hk_mu_;  // guards hk_wake_, rng_
  std::condition_variable_any hk_cv_;
  bool hk_wake_ = false;
  std::mt19937_64 rng_;
  std::jthread housekeeper_;

  // Statements seen, by a hash of their raw text (bounded).
  std::shared_mutex stmt_mu_;
  std::unordered_map<std::uint64_t, std::unique_ptr<StatementInfo>> statements_;
  StatementLabels labels_;
  std::mutex err_mu_;
  std::map<std::string, FastCounter*> errors_by_class_;

  // Metrics, registered once.
  struct Metrics {
    FastCounter* acquire_ok;
    FastCounter* acquire_timeout;
    FastCounter* acquire_rejected;
    FastCounter* acquire_error;
    FastHistogram* wait;
    FastHistogram* connect;
    FastHistogram* usage;
    FastCounter* opened;
    FastCounter* connect_errors;
    std::map<std::string, FastCounter*> closed;
    FastCounter* leaks_suspected;
    FastCounter* leaks_resolved;
    FastGauge* leaked;
  } m_;
};

}  // namespace poolscope
