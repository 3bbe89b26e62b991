// PoolCore: the pool's machinery behind Pool and Lease (private header).
//
// Slots. The pool has max_size slots, each on its own cache line. A slot is
// empty, opening, idle, in use or busy (the housekeeper works on it). Whoever
// holds a slot owns its Connection: an idle slot is claimed with a CAS on its
// state (acquire) and put back with a store (release), so ownership moves
// with acquire/release ordering. A thread looks first at the slot it used
// last (a per-thread hint): with as many threads as slots each keeps its
// own, and no line bounces between cores.
//
// Fairness. Callers that find no idle connection queue in FIFO order under
// mu_. A returned connection goes straight to the oldest waiter; newcomers
// take the lock-free fast path only while nobody waits. The Dekker pair
// "waiter: waiting_++ then re-check the slots" / "releaser: mark the slot
// idle then re-check waiting_" (both seq_cst) means a connection is never
// left idle while a caller sleeps.
//
// Metrics. The acquire-wait and usage histograms (and acquires ok, which is
// the wait histogram's count) are counted in cells of the slot, which only
// its holder writes: a plain load and store, no locked instruction, on a
// line the holder already owns. Flush(), run by every MetricsBook::Collect()
// and by Close(), adds what is new to the book's histograms and counter.
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

// kCells is the bucket count of the slot's histogram cells (bounds + +Inf).
inline constexpr std::size_t kCells = 16;

// Cells are a histogram written by one thread at a time (the slot holder),
// in FastClock ticks. Readers (Flush) load them relaxed.
struct Cells {
  std::array<std::atomic<std::uint64_t>, kCells> counts{};
  std::atomic<std::uint64_t> sum_ticks{0};
};

// Bounds are histogram upper bounds in FastClock ticks.
struct Bounds {
  std::array<std::int64_t, kCells - 1> ticks{};
  std::size_t n = 0;
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
  std::atomic<std::int64_t> last_hold{0};   // how long the last lease held it

  // Metric cells, written by the holder only (see "Metrics" above).
  alignas(64) Cells wait;
  Cells usage;

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
    // Set under mu_ by a releaser that will notify `cv` after unlocking mu_
    // (so the woken waiter does not block on mu_ at once); the releaser
    // clears it when done, and the waiter does not leave before that.
    std::atomic<bool> notifying{false};
    bool sleeping = false;  // guarded by mu_: blocked on cv (needs a notify)
  };

  // Ready turns claimed slot `s` into a lease, validating a connection idle
  // too long; nullopt when validation failed (the slot was discarded). The validation ping ends by
  // `deadline` (epoch: `timeout` from now).
  std::optional<Lease> Ready(int s, std::int64_t t0, const SourceLocation& site, bool waited,
                             Clock::time_point deadline, Duration timeout);
  Result<Lease, AcquireError> AcquireSlow(std::int64_t t0, Clock::time_point deadline,
                                          const SourceLocation& site);
  // ClaimIdle takes an idle slot (kIdle -> kInUse), this thread's last slot
  // first; -1 when none is idle. ClaimSlot takes slot `s` if it is idle,
  // for the housekeeper (kIdle -> kBusy).
  int ClaimIdle();
  bool ClaimSlot(int s);
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
  // HandOffLocked gives slot `s` to the oldest waiter (mu_ held, waiters_
  // not empty); it returns the waiter to Notify() once mu_ is released, or
  // null when that waiter is not asleep.
  [[nodiscard]] Waiter* HandOffLocked(int s);
  static void Notify(Waiter* w);
  // SpinWorthIt says whether a caller with `ahead` waiters in front of it
  // should look for a hand-off a few times before sleeping: only when the
  // hold times seen lately say its turn comes sooner than a wake-up costs.
  bool SpinWorthIt(std::size_t ahead) const;
  // Flush adds what the slots counted since the last Flush to the book.
  void Flush();

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
  std::atomic<int> waiting_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> connect_failing_{false};

  // Thresholds in FastClock ticks (0: off).
  std::int64_t leak_ticks_ = 0;
  std::int64_t slow_ticks_ = 0;
  std::int64_t validate_ticks_ = 0;
  std::int64_t idle_ticks_ = 0;
  std::int64_t keepalive_ticks_ = 0;
  std::int64_t spin_ticks_ = 0;  // a wait shorter than this is worth spinning for

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
  // Slot cell totals already added to the book, per slot (wait, usage).
  std::mutex flush_mu_;
  std::vector<std::array<std::uint64_t, kCells + 1>> flushed_wait_;   // guarded by flush_mu_
  std::vector<std::array<std::uint64_t, kCells + 1>> flushed_usage_;  // guarded by flush_mu_
  Bounds wait_bounds_;
  Bounds usage_bounds_;

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
