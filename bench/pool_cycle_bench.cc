// Acquire+release cycle of the pool alone (no-op connections), side by side
// with two references run in the same process:
//   AtomicExchange  a slot token taken with one exchange and given back with
//                   another: the least it can cost to hand a resource out
//                   and back.
//   MutexCvPool     the pool people write first: a std::mutex, a
//                   std::condition_variable and a vector of idle items.
//   Pool            poolscope::Pool over a no-op ConnectionFactory.
// All three have 8 slots; at 32 threads callers wait, which is the point.
//
// Each benchmark runs at 1, 2, 8 and 32 threads (->Threads(N)). The reported
// time is the wall time of the run (first cycle started by any thread to
// last cycle ended, see WallSpan) divided by the cycles of all threads
// together: 1 / throughput. After Google Benchmark's own output the program
// prints name=value lines computed from the medians of the repetitions:
//   cycle_ns_tN, atomic_ns_tN, mutex_pool_ns_tN      ns per cycle
//   cycle_ratio_vs_atomic_t1                         pool ns / atomic ns at 1 thread
//   cycle_ratio_vs_mutex_pool_tN                     pool throughput / mutex-pool throughput
//
//   poolscope_bench_pool_cycle --benchmark_repetitions=5 --benchmark_min_time=0.2
//       [--iterations_t32=30000]   (cycles per thread at 32 threads)
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "poolscope/pool/connection.h"
#include "poolscope/pool/pool.h"
#include "poolscope/pool/pool_config.h"

namespace {

using poolscope::Clock;
using poolscope::Connection;
using poolscope::ConnectionFactory;
using poolscope::Params;
using poolscope::Result;
using poolscope::Rows;
using poolscope::Status;

constexpr int kPoolSize = 8;
constexpr int kThreadCounts[] = {1, 2, 8, 32};

// ---------------------------------------------------------------- no-op connections

class NoopConnection final : public Connection {
 public:
  Result<Rows> Execute(std::string_view, const Params&, bool) override { return Rows(); }
  Status Ping(Clock::time_point) override { return poolscope::OkStatus(); }
  bool Reset(poolscope::Duration) override { return true; }
  bool Broken() const override { return false; }
  int BackendPid() const override { return 0; }
  int PreparedCount() const override { return 0; }
};

class NoopFactory final : public ConnectionFactory {
 public:
  Result<std::unique_ptr<Connection>> Connect(Clock::time_point, std::stop_token) override {
    return std::unique_ptr<Connection>(std::make_unique<NoopConnection>());
  }
};

// ---------------------------------------------------------------- references

// Token slots for the atomic-exchange reference: slot i holds i + 1 while it
// is free and 0 while it is handed out.
struct alignas(64) TokenSlot {
  std::atomic<int> token{0};
};
TokenSlot g_tokens[kPoolSize];

// MutexCvPool: the plain mutex + condition variable pool.
class MutexCvPool {
 public:
  explicit MutexCvPool(int size) {
    for (int i = 0; i < size; ++i) {
      items_.push_back(std::make_unique<NoopConnection>());
      idle_.push_back(items_.back().get());
    }
  }

  Connection* Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !idle_.empty(); });
    Connection* c = idle_.back();
    idle_.pop_back();
    return c;
  }

  void Release(Connection* c) {
    {
      std::lock_guard lock(mu_);
      idle_.push_back(c);
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Connection*> idle_;
  std::vector<std::unique_ptr<Connection>> items_;
};

MutexCvPool* g_mutex_pool = nullptr;
poolscope::Pool* g_pool = nullptr;

// ---------------------------------------------------------------- benchmarks

// WallSpan times one run of a benchmark across all its threads: from the
// first cycle any thread starts to the last cycle any thread ends.
//
// Google Benchmark's own real time for ->Threads(N) is the mean of each
// thread's own start-to-finish time. With more threads than cores, threads
// that run their share in turn (one after another inside their time slices)
// each report a short time, so "real time / all cycles" can be many times
// smaller than wall time / all cycles. The benchmarks therefore report
// this span as manual time: Time = span / cycles of all threads, exactly
// 1 / throughput.
struct WallSpan {
  explicit WallSpan(int threads) : done(threads) {}
  std::latch done;
  std::atomic<std::int64_t> first{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> last{std::numeric_limits<std::int64_t>::min()};
};
std::unique_ptr<WallSpan> g_span;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// RunCycles runs `cycle` (one acquire+release; false: give up) once per
// iteration and reports the wall span of all threads as the run's time.
template <typename Cycle>
void RunCycles(benchmark::State& state, Cycle cycle) {
  // Runs never overlap and every thread of the previous run has exited;
  // the others read g_span only after the start barrier inside the loop.
  if (state.thread_index() == 0) g_span = std::make_unique<WallSpan>(state.threads());
  bool first = true;
  for (auto _ : state) {
    if (first) {
      first = false;
      const std::int64_t t = NowNs();
      std::int64_t cur = g_span->first.load(std::memory_order_relaxed);
      while (t < cur && !g_span->first.compare_exchange_weak(cur, t)) {
      }
    }
    if (!cycle()) break;
  }
  const std::int64_t t = NowNs();
  std::int64_t cur = g_span->last.load(std::memory_order_relaxed);
  while (t > cur && !g_span->last.compare_exchange_weak(cur, t)) {
  }
  g_span->done.arrive_and_wait();
  state.SetIterationTime(static_cast<double>(g_span->last.load() - g_span->first.load()) * 1e-9);
}

void BM_AtomicExchange(benchmark::State& state) {
  const int start = state.thread_index() % kPoolSize;
  RunCycles(state, [start] {
    int i = start;
    int token;
    while ((token = g_tokens[i].token.exchange(0, std::memory_order_acquire)) == 0) {
      i = (i + 1) % kPoolSize;
      if (i == start) std::this_thread::yield();  // all 8 out: let a holder run
    }
    benchmark::DoNotOptimize(token);
    g_tokens[i].token.exchange(token, std::memory_order_release);
    return true;
  });
}

void BM_MutexCvPool(benchmark::State& state) {
  RunCycles(state, [] {
    Connection* c = g_mutex_pool->Acquire();
    benchmark::DoNotOptimize(c);
    g_mutex_pool->Release(c);
    return true;
  });
}

void BM_Pool(benchmark::State& state) {
  RunCycles(state, [&state] {
    auto lease = g_pool->Acquire();
    if (!lease) {
      state.SkipWithError(lease.error().message.c_str());
      return false;
    }
    lease->Release();
    return true;
  });
}

// Register adds the three benchmarks at every thread count. Up to 8
// threads (no more threads than slots, so nobody waits) Google Benchmark
// picks the iteration count from --benchmark_min_time. At 32 threads every
// thread runs a fixed `iterations_t32` cycles: the pool's behaviour there
// changes once waiters queue (see bench/README.md), which short calibration
// runs never reach, so the automatic estimate would be wrong by 10-100x.
void Register(std::int64_t iterations_t32) {
  const std::pair<const char*, void (*)(benchmark::State&)> benches[] = {
      {"AtomicExchange", BM_AtomicExchange},
      {"MutexCvPool", BM_MutexCvPool},
      {"Pool", BM_Pool},
  };
  for (const auto& [name, fn] : benches) {
    auto* b = benchmark::RegisterBenchmark(name, fn);
    for (int t : kThreadCounts) {
      if (t <= kPoolSize) b->Threads(t);
    }
    b->UseManualTime()->Unit(benchmark::kNanosecond);
  }
  for (const auto& [name, fn] : benches) {
    for (int t : kThreadCounts) {
      if (t <= kPoolSize) continue;
      benchmark::RegisterBenchmark(name, fn)
          ->Threads(t)
          ->Iterations(iterations_t32)
          ->UseManualTime()
          ->Unit(benchmark::kNanosecond);
    }
  }
}

// TakeFlag removes --name=value from argv and returns the value ("" if absent).
std::string TakeFlag(int* argc, char** argv, const std::string& name) {
  const std::string prefix = "--" + name + "=";
  std::string value;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(prefix, 0) == 0) {
      value = a.substr(prefix.size());
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return value;
}

// ---------------------------------------------------------------- reporting

// Reporter prints the console reporter's aggregate rows (all rows when
// there are no repetitions) and keeps, per benchmark and thread count, the
// median ns per cycle (or the single run's) and every repetition's value.
class Reporter : public benchmark::ConsoleReporter {
 public:
  Reporter() : ConsoleReporter(OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> shown;
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate) shown.push_back(r);
    }
    ConsoleReporter::ReportRuns(shown.empty() ? runs : shown);
    for (const Run& r : runs) {
      if (r.error_occurred) {
        failed_ = true;
        continue;
      }
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type == Run::RT_Aggregate && !median) continue;
      auto key = std::make_pair(r.run_name.function_name, static_cast<int>(r.threads));
      if (!median) reps_[key].push_back(r.GetAdjustedRealTime());
      if (median || !medians_.contains(key)) {    // a median wins over single runs
        medians_[key] = r.GetAdjustedRealTime();  // ns (Unit(kNanosecond))
      }
    }
  }

  // Ns returns the recorded ns per cycle, or 0 when there is none.
  double Ns(const std::string& name, int threads) const {
    auto it = medians_.find({name, threads});
    return it == medians_.end() ? 0 : it->second;
  }
  // Reps returns every repetition's ns per cycle, in run order.
  std::vector<double> Reps(const std::string& name, int threads) const {
    auto it = reps_.find({name, threads});
    return it == reps_.end() ? std::vector<double>{} : it->second;
  }
  bool failed() const { return failed_; }

 private:
  std::map<std::pair<std::string, int>, double> medians_;
  std::map<std::pair<std::string, int>, std::vector<double>> reps_;
  bool failed_ = false;
};

void PrintNs(const std::string& name, double ns) { std::printf("%s=%.1f\n", name.c_str(), ns); }
void PrintRatio(const std::string& name, double r) { std::printf("%s=%.3f\n", name.c_str(), r); }

}  // namespace

int main(int argc, char** argv) {
  std::int64_t iterations_t32 = 30000;
  if (std::string v = TakeFlag(&argc, argv, "iterations_t32"); !v.empty()) {
    iterations_t32 = std::atoll(v.c_str());
    if (iterations_t32 < 1) {
      std::fprintf(stderr, "--iterations_t32 must be at least 1\n");
      return 2;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  for (int i = 0; i < kPoolSize; ++i) g_tokens[i].token.store(i + 1);
  MutexCvPool mutex_pool(kPoolSize);
  g_mutex_pool = &mutex_pool;

  poolscope::PoolConfig cfg;
  cfg.name = "bench";
  cfg.max_size = kPoolSize;
  cfg.min_idle = kPoolSize;
  cfg.acquire_timeout = std::chrono::seconds(30);
  cfg.leak_threshold = poolscope::Duration::zero();
  cfg.slow_query_threshold = poolscope::Duration::zero();
  cfg.keepalive_interval = poolscope::Duration::zero();
  cfg.idle_timeout = poolscope::Duration::zero();
  cfg.max_lifetime = poolscope::Duration::zero();
  cfg.validate_after_idle = std::chrono::hours(1);
  auto pool = poolscope::Pool::CreateWithFactory(cfg, std::make_unique<NoopFactory>());
  if (!pool) {
    std::fprintf(stderr, "cannot create the pool: %s\n", pool.error().message.c_str());
    return 1;
  }
  g_pool = pool->get();
  // min_idle is filled by the housekeeper; time acquire+release only.
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  while ((*pool)->State().idle < kPoolSize) {
    if (Clock::now() > give_up) {
      std::fprintf(stderr, "the pool did not open %d idle connections in 10 s\n", kPoolSize);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  Register(iterations_t32);
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // Throughput (cycles/s across all threads) is 1e9 / ns per cycle.
  std::printf(
      "\n# ns per cycle (wall time / cycles of all threads), medians; "
      "throughput = 1e9 / ns\n");
  std::printf("# %-8s %14s %14s %14s %12s %12s\n", "threads", "atomic_ns", "mutex_pool_ns",
              "pool_ns", "pool_Mops", "pool/mutex");
  for (int t : kThreadCounts) {
    const double a = reporter.Ns("AtomicExchange", t);
    const double m = reporter.Ns("MutexCvPool", t);
    const double p = reporter.Ns("Pool", t);
    std::printf("# %-8d %14.1f %14.1f %14.1f %12.2f %12.2f\n", t, a, m, p, p > 0 ? 1e3 / p : 0,
                p > 0 ? m / p : 0);
  }
  std::printf("# every repetition, ns per cycle:\n");
  for (const char* name : {"AtomicExchange", "MutexCvPool", "Pool"}) {
    for (int t : kThreadCounts) {
      std::printf("#   %-14s threads=%-2d", name, t);
      for (double v : reporter.Reps(name, t)) std::printf(" %.1f", v);
      std::printf("\n");
    }
  }
  // name=value lines: the details first, the four headline figures last.
  for (int t : kThreadCounts) {
    const std::string n = std::to_string(t);
    PrintNs("atomic_ns_t" + n, reporter.Ns("AtomicExchange", t));
    PrintNs("mutex_pool_ns_t" + n, reporter.Ns("MutexCvPool", t));
    if (t != 1) PrintNs("cycle_ns_t" + n, reporter.Ns("Pool", t));
  }
  auto vs_mutex = [&](int t) {
    const double p = reporter.Ns("Pool", t);
    return p > 0 ? reporter.Ns("MutexCvPool", t) / p : 0;
  };
  PrintRatio("cycle_ratio_vs_mutex_pool_t1", vs_mutex(1));
  PrintRatio("cycle_ratio_vs_mutex_pool_t2", vs_mutex(2));
  const double a1 = reporter.Ns("AtomicExchange", 1);
  const double p1 = reporter.Ns("Pool", 1);
  PrintNs("cycle_ns_t1", p1);
  PrintRatio("cycle_ratio_vs_atomic_t1", a1 > 0 ? p1 / a1 : 0);
  PrintRatio("cycle_ratio_vs_mutex_pool_t8", vs_mutex(8));
  PrintRatio("cycle_ratio_vs_mutex_pool_t32", vs_mutex(32));
  return reporter.failed() ? 1 : 0;
}
