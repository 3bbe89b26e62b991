#include "poolscope/pool/pool.h"

#include <execinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "pool_core.h"
#include "poolscope/core/logging.h"

namespace poolscope {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

long ThisThreadId() {
  thread_local const long tid = static_cast<long>(::syscall(SYS_gettid));
  return tid;
}

std::int64_t Ticks(Duration d) {
  return d > Duration::zero() ? FastClock::FromNanos(d.count()) : 0;
}

const std::vector<double>& WaitBuckets() {
  static const std::vector<double> b{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,   0.5,   1,     2.5,  5,     10};
  return b;
}
const std::vector<double>& UsageBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5,
                                     1,      2.5,   5,     10,   30,   60,  300};
  return b;
}
const std::vector<double>& QueryBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,   0.5,   1,      2.5,   5,    10,    30};
  return b;
}

Bounds ToTicks(const std::vector<double>& seconds) {
  Bounds b;
  for (double sec : seconds) {
    if (b.n == b.ticks.size()) break;
    b.ticks[b.n++] = FastClock::FromNanos(static_cast<std::int64_t>(sec * 1e9));
  }
  return b;
}

// Count records `ticks` in `c`. Only the slot's holder calls it, so a plain
// load and store is enough (and costs no locked instruction).
inline void Count(Cells& c, const Bounds& b, std::int64_t ticks) {
  std::size_t i = 0;
  while (i < b.n && ticks > b.ticks[i]) ++i;
  c.counts[i].store(c.counts[i].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (ticks > 0) {
    c.sum_ticks.store(
        c.sum_ticks.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(ticks),
        std::memory_order_relaxed);
  }
}

// Fold adds what `c` counted since `done` to `h` and returns the count added.
std::uint64_t Fold(const Cells& c, std::size_t buckets, std::array<std::uint64_t, kCells + 1>& done,
                   FastHistogram& h) {
  std::array<std::uint64_t, kCells> add{};
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    const std::uint64_t v = c.counts[i].load(std::memory_order_relaxed);
    add[i] = v - done[i];
    done[i] = v;
    n += add[i];
  }
  const std::uint64_t sum = c.sum_ticks.load(std::memory_order_relaxed);
  const std::uint64_t sum_ticks = sum - done[kCells];
  done[kCells] = sum;
  if (n != 0 || sum_ticks != 0) {
    h.AddCounts(
        add.data(), buckets,
        static_cast<std::uint64_t>(FastClock::ToNanos(static_cast<std::int64_t>(sum_ticks))));
  }
  return n;
}

std::string Site(const char* file, std::uint32_t line, const char* function) {
  if (file == nullptr) return "unknown";
  return fmt::format("{}:{} ({})", file, line, function != nullptr ? function : "?");
}

}  // namespace

// ---------------------------------------------------------------- PoolCore

PoolCore::PoolCore(PoolConfig config, std::unique_ptr<ConnectionFactory> factory,
                   std::shared_ptr<MetricsBook> book)
    : config_(std::move(config)),
      factory_(std::move(factory)),
      book_(book ? std::move(book) : std::make_shared<MetricsBook>()),
      n_(config_.max_size),
      slots_(new Slot[n_]),
      rng_(std::random_device{}()),
      labels_(static_cast<std::size_t>(config_.statement_labels)) {
  leak_ticks_ = Ticks(config_.leak_threshold);
  slow_ticks_ = Ticks(config_.slow_query_threshold);
  validate_ticks_ = Ticks(config_.validate_after_idle);
  idle_ticks_ = Ticks(config_.idle_timeout);
  keepalive_ticks_ = Ticks(config_.keepalive_interval);
  // About what putting a thread to sleep and waking it costs.
  spin_ticks_ = FastClock::FromNanos(5000);
  wait_bounds_ = ToTicks(WaitBuckets());
  usage_bounds_ = ToTicks(UsageBuckets());
  flushed_wait_.resize(n_);
  flushed_usage_.resize(n_);

  const prometheus::Labels pool{{"pool", config_.name}};
  auto with = [&](const char* k, const char* v) {
    prometheus::Labels l = pool;
    l[k] = v;
    return l;
  };
  MetricsBook& b = *book_;
  const char* acq = "poolscope_pool_acquires_total";
  const char* acq_help = "Acquire calls by outcome (ok, timeout, rejected: queue full, error)";
  m_.acquire_ok = &b.Counter(acq, acq_help, with("outcome", "ok"));
  m_.acquire_timeout = &b.Counter(acq, acq_help, with("outcome", "timeout"));
  m_.acquire_rejected = &b.Counter(acq, acq_help, with("outcome", "rejected"));
  m_.acquire_error = &b.Counter(acq, acq_help, with("outcome", "error"));
  m_.wait = &b.Histogram("poolscope_pool_acquire_wait_seconds",
                         "Time acquire waited for a free connection (connecting excluded)", pool,
                         WaitBuckets());
  m_.connect = &b.Histogram("poolscope_pool_connect_seconds", "Time opening one connection took",
                            pool, WaitBuckets());
  m_.usage =
      &b.Histogram("poolscope_pool_usage_seconds",
                   "Time a lease held its connection, acquire to release", pool, UsageBuckets());
  m_.opened = &b.Counter("poolscope_pool_connections_opened_total", "Connections opened", pool);
  m_.connect_errors = &b.Counter("poolscope_pool_connect_errors_total",
                                 "Attempts to open a connection that failed", pool);
  for (const char* reason :
       {"max_lifetime", "idle_timeout", "broken", "validation_failed", "shutdown"}) {
    m_.closed[reason] = &b.Counter("poolscope_pool_connections_closed_total",
                                   "Connections closed, by reason", with("reason", reason));
  }
  m_.leaks_suspected =
      &b.Counter("poolscope_pool_leaks_suspected_total", "Leases held past leak_threshold", pool);
  m_.leaks_resolved = &b.Counter("poolscope_pool_leaks_resolved_total",
                                 "Suspected leaks whose lease was finally returned", pool);
  m_.leaked = &b.Gauge("poolscope_pool_leaked_connections",
                       "Leases held past leak_threshold right now", pool);
  b.GaugeFn(
      "poolscope_pool_connections", "Open connections by state", with("state", "idle"),
      [this] { return State().idle; }, this);
  b.GaugeFn(
      "poolscope_pool_connections", "Open connections by state", with("state", "active"),
      [this] { return State().active; }, this);
  b.GaugeFn(
      "poolscope_pool_max_connections", "Configured max_size", pool, [this] { return n_; }, this);
  b.GaugeFn(
      "poolscope_pool_min_idle_connections", "Configured min_idle", pool,
      [this] { return config_.min_idle; }, this);
  b.GaugeFn(
      "poolscope_pool_pending_acquires", "Callers waiting in acquire now", pool,
      [this] { return waiting_.load(std::memory_order_relaxed); }, this);
  // Make the query families visible before the first query.
  b.Histogram("poolscope_query_duration_seconds", "Query duration by statement fingerprint",
              with("statement", "other"), QueryBuckets());
  b.Counter("poolscope_slow_queries_total", "Queries that ran past slow_query_threshold",
            with("statement", "other"));

  b.OnCollect([this] { Flush(); }, this);

  housekeeper_ = std::jthread([this](std::stop_token stop) { Housekeep(stop); });
}

PoolCore::~PoolCore() { Close(); }

FastCounter& PoolCore::ErrorCounter(const std::string& sqlstate) {
  std::string cls = sqlstate.size() >= 2 ? sqlstate.substr(0, 2) : "unknown";
  std::lock_guard lock(err_mu_);
  auto& c = errors_by_class_[cls];
  if (c == nullptr) {
    c = &book_->Counter("poolscope_query_errors_total", "Failed queries by SQLSTATE class",
                        {{"pool", config_.name}, {"sqlstate_class", cls}});
  }
  return *c;
}

const StatementInfo* PoolCore::Statement(std::string_view sql) {
  const std::uint64_t key = FingerprintId(sql);  // a hash of the raw text
  {
    std::shared_lock lock(stmt_mu_);
    if (auto it = statements_.find(key); it != statements_.end()) return it->second.get();
  }
  auto info = std::make_unique<StatementInfo>();
  info->fingerprint = Fingerprint(sql);
  info->label = labels_.Label(info->fingerprint);
  const prometheus::Labels l{{"pool", config_.name}, {"statement", info->label}};
  info->duration = &book_->Histogram("poolscope_query_duration_seconds",
                                     "Query duration by statement fingerprint", l, QueryBuckets());
  info->slow = &book_->Counter("poolscope_slow_queries_total",
                               "Queries that ran past slow_query_threshold", l);
  std::unique_lock lock(stmt_mu_);
  // Raw texts are unbounded (think of SQL built with literals); past the cap
  // each new text still gets its own info, but it is not remembered.
  constexpr std::size_t kMaxTexts = 10000;
  if (statements_.size() >= kMaxTexts) {
    static thread_local std::unique_ptr<StatementInfo> spare;
    spare = std::move(info);
    return spare.get();
  }
  auto [it, inserted] = statements_.try_emplace(key, std::move(info));
  return it->second.get();
}

AcquireError PoolCore::Fail(ErrorCode code, const char* outcome, std::string message) {
  if (std::string_view(outcome) == "timeout") {
    m_.acquire_timeout->Inc();
  } else if (std::string_view(outcome) == "rejected") {
    m_.acquire_rejected->Inc();
  } else {
    m_.acquire_error->Inc();
  }
  PoolState st = State();
  return AcquireError{
      code,
      fmt::format("pool {}: {} (size {}, active {}, idle {}, waiting {})", config_.name, message,
                  st.max_size, st.active, st.idle, st.waiting),
      st};
}

Result<Lease, AcquireError> PoolCore::Acquire(Clock::time_point deadline, Duration timeout,
                                              const SourceLocation& site) {
  const std::int64_t t0 = FastClock::Now();
  if (closed_.load(std::memory_order_relaxed)) {
    return Fail(ErrorCode::kUnavailable, "error", "the pool is closed");
  }
  // Fast path: nobody queues ahead of us and a connection is idle.
  if (waiting_.load(std::memory_order_seq_cst) == 0) {
    if (int s = ClaimIdle(); s >= 0) {
      if (auto lease = Ready(s, t0, site, false, deadline, timeout)) return std::move(*lease);
    }
  }
  if (deadline == Clock::time_point{}) deadline = Clock::now() + timeout;
  return AcquireSlow(t0, deadline, site);
}

std::optional<Lease> PoolCore::Ready(int s, std::int64_t t0, const SourceLocation& site,
                                     bool waited, Clock::time_point deadline, Duration timeout) {
  Slot& sl = slots_[s];  // kInUse, ours
  // Validate a connection the server has not answered on for a while.
  if (config_.validate_after_idle == Duration::zero() ||
      t0 - sl.last_alive.load(std::memory_order_relaxed) > validate_ticks_) {
    // The ping never carries the acquire past its own deadline.
    const Clock::time_point ping_start = Clock::now();
    if (deadline == Clock::time_point{}) deadline = ping_start + timeout;
    if (!sl.conn->Ping(std::min(deadline, ping_start + config_.validation_timeout))) {
      Discard(s, "validation_failed");
      return std::nullopt;
    }
    sl.last_alive.store(FastClock::Now(), std::memory_order_relaxed);
  }
  const std::int64_t now = waited ? FastClock::Now() : t0;
  Count(sl.wait, wait_bounds_, now - t0);  // and acquires ok: its count
  sl.acquired_at.store(now, std::memory_order_relaxed);
  sl.site_file.store(site.file_name(), std::memory_order_relaxed);
  sl.site_function.store(site.function_name(), std::memory_order_relaxed);
  sl.site_line.store(site.line(), std::memory_order_relaxed);
  sl.thread_id.store(ThisThreadId(), std::memory_order_relaxed);
  if (config_.capture_backtrace) {
    void* frames[16];
    int n = ::backtrace(frames, 16);
    for (int i = 0; i < n; ++i) sl.frames[i].store(frames[i], std::memory_order_relaxed);
    sl.frames_len.store(n, std::memory_order_relaxed);
  }
  sl.lease_word.store(++sl.gen << 1, std::memory_order_release);
  return Lease(this, s);
}

int PoolCore::ReserveEmpty() {
  for (int s = 0; s < n_; ++s) {
    SlotState expected = SlotState::kEmpty;
    if (slots_[s].state.load(std::memory_order_relaxed) == SlotState::kEmpty &&
        slots_[s].state.compare_exchange_strong(expected, SlotState::kOpening,
                                                std::memory_order_acq_rel)) {
      return s;
    }
  }
  return -1;
}

Result<Lease, AcquireError> PoolCore::AcquireSlow(std::int64_t t0, Clock::time_point deadline,
                                                  const SourceLocation& site) {
  while (true) {
    if (closed_.load()) return Fail(ErrorCode::kUnavailable, "error", "the pool is closed");
    if (Clock::now() >= deadline) {
      return Fail(ErrorCode::kTimeout, "timeout", "no connection became free before the deadline");
    }
    // Room to grow and nobody ahead of us: open a connection ourselves.
    if (waiting_.load() == 0) {
      if (int s = ReserveEmpty(); s >= 0) {
        const std::int64_t before = FastClock::Now();
        Status st = Open(s, std::min(deadline, Clock::now() + config_.connect_timeout), {});
        if (!st) {
          return Fail(st.error().code == ErrorCode::kTimeout ? ErrorCode::kTimeout
                                                             : ErrorCode::kUnavailable,
                      "error", "cannot open a connection: " + st.error().message);
        }
        slots_[s].state.store(SlotState::kInUse, std::memory_order_relaxed);  // ours
        // Time spent connecting is not waiting: count it in connect_seconds only.
        if (auto lease = Ready(s, t0 + (FastClock::Now() - before), site, true, deadline,
                               Duration::zero())) {
          return std::move(*lease);
        }
        continue;
      }
    }
    std::unique_lock lock(mu_);
    if (config_.max_waiters > 0 && static_cast<int>(waiters_.size()) >= config_.max_waiters) {
      lock.unlock();
      return Fail(
          ErrorCode::kResourceExhausted, "rejected",
          fmt::format("{} callers already wait (max_waiters); not queueing", config_.max_waiters));
    }
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    if (int s = ClaimIdle(); s >= 0) {
      waiting_.fetch_sub(1);
      lock.unlock();
      if (auto lease = Ready(s, t0, site, true, deadline, Duration::zero()))
        return std::move(*lease);
      continue;
    }
    Waiter w;
    const bool spin = SpinWorthIt(waiters_.size());
    waiters_.push_back(&w);
    lock.unlock();
    if (HasEmpty()) Wake();  // room to grow: the housekeeper opens one for us
    // A hand-off due within microseconds is cheaper to look for a few times
    // than to sleep for; a caller deep in the queue behind slow holders
    // sleeps at once (yielding would take the CPU from the holders).
    for (int i = 0; spin && i < 32 && w.slot.load(std::memory_order_acquire) < 0; ++i) {
      std::this_thread::yield();
    }
    if (const int got = w.slot.load(std::memory_order_acquire); got >= 0) {
      // Handed over while we looked: the releaser did not notify.
      if (auto lease = Ready(got, t0, site, true, deadline, Duration::zero()))
        return std::move(*lease);
      continue;
    }
    lock.lock();
    w.sleeping = true;
    while (w.slot.load(std::memory_order_relaxed) < 0 && !closed_.load()) {
      if (w.cv.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    const int got = w.slot.load(std::memory_order_relaxed);
    if (got < 0) {
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
      waiting_.fetch_sub(1);
    }
    lock.unlock();
    // The releaser that picked us may still be inside w.cv.notify_one().
    while (w.notifying.load(std::memory_order_acquire)) std::this_thread::yield();
    if (got >= 0) {
      if (auto lease = Ready(got, t0, site, true, deadline, Duration::zero()))
        return std::move(*lease);
      continue;
    }
    if (closed_.load()) return Fail(ErrorCode::kUnavailable, "error", "the pool is closed");
    return Fail(ErrorCode::kTimeout, "timeout", "no connection became free before the deadline");
  }
}

Status PoolCore::Open(int s, Clock::time_point deadline, const std::stop_token& stop) {
  Slot& sl = slots_[s];
  const std::int64_t t0 = FastClock::Now();
  auto conn = factory_->Connect(deadline, stop);
  const std::int64_t now = FastClock::Now();
  if (!conn) {
    m_.connect_errors->Inc();
    sl.state.store(SlotState::kEmpty, std::memory_order_release);
    if (conn.error().code != ErrorCode::kCancelled && !connect_failing_.exchange(true)) {
      spdlog::warn("pool {}: cannot open a connection: {} (retrying; logging again when it works)",
                   config_.name, conn.error().message);
    }
    return conn.error();
  }
  if (connect_failing_.exchange(false)) {
    spdlog::info("pool {}: connecting works again", config_.name);
  }
  m_.connect->ObserveNanos(FastClock::ToNanos(now - t0));
  m_.opened->Inc();
  sl.conn = std::move(*conn);
  std::int64_t expires = kNever;
  if (config_.max_lifetime > Duration::zero()) {
    double jitter;
    {
      std::lock_guard lock(hk_mu_);
      jitter = std::uniform_real_distribution<double>(0, config_.max_lifetime_jitter)(rng_);
    }
    expires =
        now + Ticks(std::chrono::duration_cast<Duration>(config_.max_lifetime * (1 - jitter)));
  }
  sl.expires.store(expires, std::memory_order_relaxed);
  sl.last_used.store(now, std::memory_order_relaxed);
  sl.last_alive.store(now, std::memory_order_relaxed);
  sl.backend_pid.store(sl.conn->BackendPid(), std::memory_order_relaxed);
  return OkStatus();
}

PoolCore::Waiter* PoolCore::HandOffLocked(int s) {
  Waiter* w = waiters_.front();
  waiters_.pop_front();
  waiting_.fetch_sub(1);
  slots_[s].state.store(SlotState::kInUse, std::memory_order_relaxed);
  const bool asleep = w->sleeping;
  if (asleep) w->notifying.store(true, std::memory_order_relaxed);
  w->slot.store(s, std::memory_order_release);
  return asleep ? w : nullptr;
}

void PoolCore::Notify(Waiter* w) {
  if (w == nullptr) return;
  w->cv.notify_one();
  w->notifying.store(false, std::memory_order_release);
}

bool PoolCore::SpinWorthIt(std::size_t ahead) const {
  std::int64_t total = 0;
  for (int s = 0; s < n_; ++s) total += slots_[s].last_hold.load(std::memory_order_relaxed);
  // Our turn comes after `ahead + 1` releases; n_ holders release in turn.
  return total / n_ * static_cast<std::int64_t>(ahead + 1) / n_ <= spin_ticks_;
}

int PoolCore::ClaimIdle() {
  struct Hint {
    const PoolCore* pool = nullptr;
    int slot = 0;
  };
  thread_local Hint hint;
  const int start = hint.pool == this && hint.slot < n_ ? hint.slot : 0;
  int s = start;
  do {
    // seq_cst loads: a waiter's re-check after waiting_++ is half of the
    // Dekker pair (see pool_core.h).
    SlotState st = slots_[s].state.load(std::memory_order_seq_cst);
    if (st == SlotState::kIdle &&
        slots_[s].state.compare_exchange_strong(st, SlotState::kInUse, std::memory_order_acq_rel)) {
      hint = {this, s};
      return s;
    }
    if (++s == n_) s = 0;
  } while (s != start);
  return -1;
}

bool PoolCore::ClaimSlot(int s) {
  SlotState st = SlotState::kIdle;
  return slots_[s].state.compare_exchange_strong(st, SlotState::kBusy, std::memory_order_acq_rel);
}

bool PoolCore::HasEmpty() const {
  for (int s = 0; s < n_; ++s) {
    if (slots_[s].state.load(std::memory_order_relaxed) == SlotState::kEmpty) return true;
  }
  return false;
}

void PoolCore::GiveBack(int s) {
  if (closed_.load()) {
    Discard(s, "shutdown");
    return;
  }
  if (waiting_.load(std::memory_order_seq_cst) > 0) {
    Waiter* wake = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!waiters_.empty()) {
        wake = HandOffLocked(s);
        s = -1;  // handed over
      }
    }
    Notify(wake);
    if (s < 0) return;
  }
  slots_[s].state.store(SlotState::kIdle, std::memory_order_seq_cst);
  if (waiting_.load(std::memory_order_seq_cst) > 0) {
    Waiter* wake = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!waiters_.empty()) {
        if (int c = ClaimIdle(); c >= 0) wake = HandOffLocked(c);
      }
    }
    Notify(wake);
  }
}

void PoolCore::Discard(int s, const char* reason) {
  Slot& sl = slots_[s];
  sl.conn.reset();
  m_.closed[reason]->Inc();
  sl.state.store(SlotState::kEmpty, std::memory_order_release);
  if (closed_.load()) {
    std::lock_guard lock(mu_);
    close_cv_.notify_all();
  } else {
    Wake();  // refill min_idle, or open for waiters
  }
}

void PoolCore::Release(int s) noexcept {
  Slot& sl = slots_[s];
  const std::int64_t now = FastClock::Now();
  const std::int64_t held = now - sl.acquired_at.load(std::memory_order_relaxed);
  Count(sl.usage, usage_bounds_, held);
  sl.last_hold.store(held, std::memory_order_relaxed);
  const std::uint64_t word = sl.lease_word.exchange(0, std::memory_order_acq_rel);
  if ((word & 1) != 0) {
    m_.leaks_resolved->Inc();
    m_.leaked->Add(-1);
    spdlog::info(
        "pool {}: suspected leak resolved: the connection acquired at {} was returned "
        "after {:.3f}s",
        config_.name, Site(sl.site_file.load(), sl.site_line.load(), sl.site_function.load()),
        FastClock::ToSeconds(now - sl.acquired_at.load()));
  }
  Connection& c = *sl.conn;
  if (c.Broken() || !c.Reset(config_.reset_timeout)) {
    Discard(s, "broken");
    return;
  }
  if (now >= sl.expires.load(std::memory_order_relaxed)) {
    Discard(s, "max_lifetime");
    return;
  }
  sl.last_used.store(now, std::memory_order_relaxed);
  sl.last_alive.store(now, std::memory_order_relaxed);
  GiveBack(s);
}

Result<Rows> PoolCore::Run(int s, std::string_view sql, const Params& params, bool prepared) {
  Slot& sl = slots_[s];
  const StatementInfo* info = Statement(sql);
  sl.statement.store(info, std::memory_order_relaxed);
  sl.query_started.store(FastClock::Now(), std::memory_order_relaxed);
  sl.query_word.store(++sl.qgen << 1, std::memory_order_release);
  Result<Rows> r = sl.conn->Execute(sql, params, prepared);
  const std::int64_t now = FastClock::Now();
  const std::uint64_t word = sl.query_word.exchange(0, std::memory_order_acq_rel);
  const std::int64_t took = now - sl.query_started.load(std::memory_order_relaxed);
  info->duration->ObserveNanos(FastClock::ToNanos(took));
  if (slow_ticks_ > 0 && took > slow_ticks_) {
    if ((word & 1) == 0) {
      info->slow->Inc();
      spdlog::warn("pool {}: slow query took {:.3f}s (threshold {}): [{}] {}", config_.name,
                   FastClock::ToSeconds(took), FormatDuration(config_.slow_query_threshold),
                   info->label, info->fingerprint);
    } else {
      spdlog::info("pool {}: slow query finished after {:.3f}s: [{}]", config_.name,
                   FastClock::ToSeconds(took), info->label);
    }
  }
  if (!r) ErrorCounter(r.error().sqlstate).Inc();
  if (sl.conn->Broken()) sl.backend_pid.store(0, std::memory_order_relaxed);
  return r;
}

PoolState PoolCore::State() const {
  PoolState st;
  st.max_size = n_;
  for (int s = 0; s < n_; ++s) {
    switch (slots_[s].state.load(std::memory_order_relaxed)) {
      case SlotState::kIdle:
      case SlotState::kBusy:
        ++st.idle;
        ++st.open;
        break;
      case SlotState::kInUse:
        ++st.active;
        ++st.open;
        break;
      case SlotState::kOpening:
      case SlotState::kEmpty:
        break;
    }
  }
  st.waiting = waiting_.load(std::memory_order_relaxed);
  return st;
}

Holder PoolCore::Describe(int s, std::int64_t now) const {
  const Slot& sl = slots_[s];
  Holder h;
  h.slot = s;
  h.site = Site(sl.site_file.load(std::memory_order_relaxed),
                sl.site_line.load(std::memory_order_relaxed),
                sl.site_function.load(std::memory_order_relaxed));
  h.thread_id = sl.thread_id.load(std::memory_order_relaxed);
  h.held_seconds = FastClock::ToSeconds(now - sl.acquired_at.load(std::memory_order_relaxed));
  h.backend_pid = sl.backend_pid.load(std::memory_order_relaxed);
  h.leak_suspected = (sl.lease_word.load() & 1) != 0;
  if (sl.query_word.load(std::memory_order_acquire) != 0) {
    if (const StatementInfo* info = sl.statement.load(std::memory_order_relaxed)) {
      h.statement = info->fingerprint;
      h.statement_seconds =
          FastClock::ToSeconds(now - sl.query_started.load(std::memory_order_relaxed));
    }
  }
  const int n = sl.frames_len.load(std::memory_order_relaxed);
  if (n > 0) {
    void* frames[16];
    for (int i = 0; i < n; ++i) frames[i] = sl.frames[i].load(std::memory_order_relaxed);
    if (char** symbols = ::backtrace_symbols(frames, n)) {
      for (int i = 0; i < n; ++i) h.backtrace.emplace_back(symbols[i]);
      std::free(symbols);
    }
  }
  return h;
}

std::vector<Holder> PoolCore::Holders() const {
  std::vector<Holder> out;
  const std::int64_t now = FastClock::Now();
  for (int s = 0; s < n_; ++s) {
    const Slot& sl = slots_[s];
    const std::uint64_t word = sl.lease_word.load(std::memory_order_acquire);
    if (word == 0 || sl.state.load(std::memory_order_relaxed) != SlotState::kInUse) continue;
    Holder h = Describe(s, now);
    // Drop it if the lease changed while we read it.
    if ((sl.lease_word.load(std::memory_order_acquire) | 1) != (word | 1)) continue;
    out.push_back(std::move(h));
  }
  return out;
}

// ---------------------------------------------------------------- housekeeping

void PoolCore::Wake() {
  {
    std::lock_guard lock(hk_mu_);
    hk_wake_ = true;
  }
  hk_cv_.notify_one();
}

void PoolCore::ScanLeases(std::int64_t now) {
  for (int s = 0; s < n_; ++s) {
    Slot& sl = slots_[s];
    if (sl.state.load(std::memory_order_relaxed) != SlotState::kInUse) continue;
    std::uint64_t word = sl.lease_word.load(std::memory_order_acquire);
    if (leak_ticks_ > 0 && word != 0 && (word & 1) == 0 &&
        now - sl.acquired_at.load(std::memory_order_relaxed) > leak_ticks_) {
      Holder h = Describe(s, now);
      if (sl.lease_word.compare_exchange_strong(word, word | 1, std::memory_order_acq_rel)) {
        m_.leaks_suspected->Inc();
        m_.leaked->Add(1);
        spdlog::warn(
            "pool {}: suspected connection leak: acquired at {} by thread {}, held "
            "{:.3f}s (leak_threshold {}), backend pid {}, running: {}",
            config_.name, h.site, h.thread_id, h.held_seconds,
            FormatDuration(config_.leak_threshold), h.backend_pid,
            h.statement.empty() ? "nothing" : h.statement);
        for (const auto& frame : h.backtrace) spdlog::warn("pool {}:   at {}", config_.name, frame);
      }
    }
    std::uint64_t q = sl.query_word.load(std::memory_order_acquire);
    if (slow_ticks_ > 0 && q != 0 && (q & 1) == 0 &&
        now - sl.query_started.load(std::memory_order_relaxed) > slow_ticks_) {
      const StatementInfo* info = sl.statement.load(std::memory_order_relaxed);
      const double elapsed =
          FastClock::ToSeconds(now - sl.query_started.load(std::memory_order_relaxed));
      const int pid = sl.backend_pid.load(std::memory_order_relaxed);
      if (info != nullptr &&
          sl.query_word.compare_exchange_strong(q, q | 1, std::memory_order_acq_rel)) {
        info->slow->Inc();
        spdlog::warn(
            "pool {}: slow query still running after {:.3f}s (threshold {}), backend "
            "pid {}: [{}] {}",
            config_.name, elapsed, FormatDuration(config_.slow_query_threshold), pid, info->label,
            info->fingerprint);
      }
    }
  }
}

void PoolCore::Maintain(std::int64_t now) {
  int idle = State().idle;
  for (int s = 0; s < n_; ++s) {
    Slot& sl = slots_[s];
    if (sl.state.load(std::memory_order_relaxed) != SlotState::kIdle) continue;
    const std::int64_t last_used = sl.last_used.load(std::memory_order_relaxed);
    const bool expired = now >= sl.expires.load(std::memory_order_relaxed);
    const bool idle_too_long =
        idle_ticks_ > 0 && now - last_used > idle_ticks_ && idle > config_.min_idle;
    const bool needs_ping = keepalive_ticks_ > 0 &&
                            now - sl.last_alive.load(std::memory_order_relaxed) > keepalive_ticks_;
    if (!expired && !idle_too_long && !needs_ping) continue;
    if (!ClaimSlot(s)) continue;  // somebody took it meanwhile
    if (expired) {
      Discard(s, "max_lifetime");
      --idle;
    } else if (idle_too_long) {
      Discard(s, "idle_timeout");
      --idle;
    } else if (!sl.conn->Ping(Clock::now() + config_.validation_timeout)) {
      Discard(s, "broken");
      --idle;
    } else {
      sl.last_alive.store(FastClock::Now(), std::memory_order_relaxed);
      GiveBack(s);
    }
  }
}

void PoolCore::Fill(const std::stop_token& stop) {
  while (!stop.stop_requested() && !closed_.load()) {
    PoolState st = State();
    int opening = 0;
    for (int s = 0; s < n_; ++s) {
      if (slots_[s].state.load(std::memory_order_relaxed) == SlotState::kOpening) ++opening;
    }
    const bool for_waiters = st.waiting > opening;
    const bool for_min_idle = st.idle + opening < config_.min_idle;
    if (!for_waiters && !for_min_idle) return;
    int s = ReserveEmpty();
    if (s < 0) return;
    if (!Open(s, Clock::now() + config_.connect_timeout, stop)) return;  // backoff in Housekeep
    GiveBack(s);
  }
}

void PoolCore::Housekeep(const std::stop_token& stop) {
  using std::chrono::milliseconds;
  // The tick bounds how late a leak or slow query is reported.
  Duration tick = milliseconds(250);
  for (Duration d : {config_.leak_threshold, config_.slow_query_threshold}) {
    if (d > Duration::zero()) tick = std::min(tick, std::max<Duration>(d / 10, milliseconds(5)));
  }
  Duration backoff = milliseconds(100);
  auto next_fill = Clock::now();
  auto next_maintain = Clock::now();
  while (!stop.stop_requested()) {
    ScanLeases(FastClock::Now());
    if (Clock::now() >= next_maintain) {
      Maintain(FastClock::Now());
      next_maintain = Clock::now() + milliseconds(250);
    }
    if (Clock::now() >= next_fill) {
      const std::uint64_t errors_before = m_.connect_errors->Value();
      Fill(stop);
      if (m_.connect_errors->Value() != errors_before) {
        next_fill = Clock::now() + backoff;  // the server is failing: back off, no storm
        // Capped at one connect_timeout (at most 5 s), so a server that is
        // back is found within two connect timeouts.
        backoff = std::min<Duration>(
            backoff * 2, std::clamp<Duration>(config_.connect_timeout, milliseconds(100),
                                              std::chrono::seconds(5)));
      } else {
        backoff = milliseconds(100);
      }
    }
    std::unique_lock lock(hk_mu_);
    hk_cv_.wait_for(lock, stop, tick, [this] { return hk_wake_; });
    hk_wake_ = false;
  }
}

void PoolCore::Close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    for (Waiter* w : waiters_) w->cv.notify_one();
  }
  housekeeper_.request_stop();
  if (housekeeper_.joinable()) housekeeper_.join();
  // Wait for every lease to come back; say who holds them while waiting.
  std::unique_lock lock(mu_);
  while (true) {
    bool busy = false;
    for (int s = 0; s < n_; ++s) {
      SlotState st = slots_[s].state.load();
      if (st == SlotState::kInUse || st == SlotState::kOpening || st == SlotState::kBusy)
        busy = true;
    }
    if (!busy) break;
    if (close_cv_.wait_for(lock, std::chrono::seconds(5)) == std::cv_status::timeout) {
      lock.unlock();
      for (const Holder& h : Holders()) {
        spdlog::error("pool {}: closing, still waiting for the lease acquired at {} (held {:.1f}s)",
                      config_.name, h.site, h.held_seconds);
      }
      lock.lock();
    }
  }
  lock.unlock();
  for (int s = 0; s < n_; ++s) {
    if (ClaimSlot(s)) {
      slots_[s].conn.reset();
      m_.closed["shutdown"]->Inc();
      slots_[s].state.store(SlotState::kEmpty);
    }
  }
  book_->RemoveFns(this);
  Flush();  // what was counted after the last scrape
}

void PoolCore::Flush() {
  std::lock_guard lock(flush_mu_);
  std::uint64_t ok = 0;
  for (int s = 0; s < n_; ++s) {
    ok += Fold(slots_[s].wait, wait_bounds_.n + 1, flushed_wait_[s], *m_.wait);
    Fold(slots_[s].usage, usage_bounds_.n + 1, flushed_usage_[s], *m_.usage);
  }
  if (ok != 0) m_.acquire_ok->Inc(ok);
}

// ---------------------------------------------------------------- Pool

Result<std::unique_ptr<Pool>> Pool::Create(PoolConfig config, std::shared_ptr<MetricsBook> book) {
  if (Status s = ValidatePoolConfig(config); !s) return s.error();
  if (config.dsn.empty()) return Error(ErrorCode::kInvalidArgument, "dsn: must not be empty");
  auto factory = MakePgConnectionFactory(config);
  return CreateWithFactory(std::move(config), std::move(factory), std::move(book));
}

Result<std::unique_ptr<Pool>> Pool::CreateWithFactory(PoolConfig config,
                                                      std::unique_ptr<ConnectionFactory> factory,
                                                      std::shared_ptr<MetricsBook> book) {
  if (Status s = ValidatePoolConfig(config); !s) return s.error();
  return std::unique_ptr<Pool>(
      new Pool(std::make_unique<PoolCore>(std::move(config), std::move(factory), std::move(book))));
}

Pool::Pool(std::unique_ptr<PoolCore> core) : core_(std::move(core)) {}
Pool::~Pool() = default;

Result<Lease, AcquireError> Pool::Acquire(SourceLocation site) {
  return core_->Acquire(Clock::time_point{}, core_->config().acquire_timeout, site);
}
Result<Lease, AcquireError> Pool::Acquire(Duration timeout, SourceLocation site) {
  return core_->Acquire(Clock::time_point{}, timeout, site);
}
Result<Lease, AcquireError> Pool::AcquireUntil(Clock::time_point deadline, SourceLocation site) {
  return core_->Acquire(deadline, Duration::zero(), site);
}

PoolState Pool::State() const { return core_->State(); }
std::vector<Holder> Pool::Holders() const { return core_->Holders(); }
const PoolConfig& Pool::config() const { return core_->config(); }
const std::shared_ptr<MetricsBook>& Pool::metrics() const { return core_->book(); }

std::string Pool::HoldersJson() const {
  PoolState st = State();
  std::string out = fmt::format(
      R"({{"pool":"{}","max_size":{},"open":{},"active":{},"idle":{},"waiting":{},"holders":[)",
      JsonEscape(config().name), st.max_size, st.open, st.active, st.idle, st.waiting);
  bool first = true;
  for (const Holder& h : Holders()) {
    if (!first) out += ',';
    first = false;
    out += fmt::format(
        R"({{"slot":{},"site":"{}","thread_id":{},"held_seconds":{:.3f},"backend_pid":{},)"
        R"("leak_suspected":{},"statement":"{}","statement_seconds":{:.3f},"backtrace":[)",
        h.slot, JsonEscape(h.site), h.thread_id, h.held_seconds, h.backend_pid,
        h.leak_suspected ? "true" : "false", JsonEscape(h.statement), h.statement_seconds);
    for (std::size_t i = 0; i < h.backtrace.size(); ++i) {
      out += fmt::format("{}\"{}\"", i == 0 ? "" : ",", JsonEscape(h.backtrace[i]));
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace poolscope
