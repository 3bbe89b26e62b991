// poolscope_soak: sustained load through the pool and the two-level cache
// with faults injected on a schedule, against throw-away servers of its own
// (scripts/fixtures/pg.sh and redis.sh). `./scripts/bench.sh soak --minutes N`
// runs it long; ctest runs it for a minute (soak_short).
//
// Load: --threads callers, each looping over a random mix of cache reads
// (Get of one key, GetMany of five; keys 1..1000 exist, 1001..1100 do not),
// primary-key SELECTs through the pool and short transactions.
//
// Faults, one every --fault-every seconds, in turn: every pool backend
// terminated (pg_terminate_backend), Redis SIGKILLed and restarted,
// PostgreSQL SIGKILLed and restarted.
//
// Checked: the pool's invariants, 200 times a second (active + idle <= max,
// open <= max) and once a second (no suspected leak, waiting bounded by
// the callers); every acquire and query returns by its deadline (plus
// scheduling slack); a cache read never answers a wrong value, and never
// "absent" for a key that exists (an error while PostgreSQL is down is
// allowed: that is unavailability, not loss); each fault is recovered from
// (a query succeeds again) within --recovery-bound seconds; at the end
// nothing is leased or waiting, every slot can be acquired at once, no
// lease was ever suspected leaked, and resident memory grew by at most
// --max-rss-growth-mib after the warm-up.
//
// Progress goes to stderr; stdout gets only the final name=value lines.
// Exit status: 0 when every check held, 1 otherwise, 2 for bad flags or
// servers that cannot start. Without the fixtures it prints "SKIPPED: ..."
// and exits 0.
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "poolscope/cache/cache.h"
#include "poolscope/cache/redis_l2.h"
#include "poolscope/pool/pool.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct Options {
  double seconds = 60;
  std::string fixtures;
  std::string tmp;
  int threads = 16;
  int pool_size = 8;
  double fault_every = 10;
  double recovery_bound = 10;
  double max_rss_growth_mib = 32;
};

constexpr int kRows = 1000;        // ids 1..kRows exist
constexpr int kAbsent = 100;       // ids kRows+1..kRows+kAbsent do not
constexpr auto kSlack = 500ms;     // scheduling slack past a deadline
constexpr auto kAcquire = 1000ms;  // acquire timeout of the callers

std::string Value(long id) { return fmt::format("item-{}", id); }

// Sh runs a shell command; stdout (trimmed) into *out.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int st = ::pclose(p);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (out != nullptr) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::int64_t RssBytes() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  in >> size >> resident;
  return static_cast<std::int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

void Max(std::atomic<std::int64_t>& a, std::int64_t v) {
  std::int64_t cur = a.load();
  while (v > cur && !a.compare_exchange_weak(cur, v)) {
  }
}

std::int64_t Ms(Steady::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Servers: the soak's own PostgreSQL and Redis, through the fixture scripts.
class Servers {
 public:
  Servers(std::string fixtures, std::string dir) : fixtures_(std::move(fixtures)), dir_(dir) {}
  ~Servers() {
    Sh(fixtures_ + "/pg.sh stop '" + dir_ + "/pg' >/dev/null 2>&1");
    Sh(fixtures_ + "/redis.sh stop '" + dir_ + "/redis' >/dev/null 2>&1");
    Sh("rm -rf '" + dir_ + "'");
  }
  bool Pg(const std::string& verb) {
    return Sh(fixtures_ + "/pg.sh " + verb + " '" + dir_ + "/pg' >&2") == 0;
  }
  bool Redis(const std::string& verb) {
    return Sh(fixtures_ + "/redis.sh " + verb + " '" + dir_ + "/redis' >/dev/null") == 0;
  }
  std::string PgDsn() {
    std::string out;
    Sh(fixtures_ + "/pg.sh dsn '" + dir_ + "/pg'", &out);
    return out;
  }
  int RedisPort() {
    std::string out;
    Sh(fixtures_ + "/redis.sh port '" + dir_ + "/redis'", &out);
    return std::atoi(out.c_str());
  }

 private:
  std::string fixtures_;
  std::string dir_;
};

// Stats are the counts every thread adds to.
struct Stats {
  std::atomic<std::int64_t> ops{0}, pool_ok{0}, pool_errors{0}, cache_ok{0}, cache_errors{0};
  std::atomic<std::int64_t> lost{0}, wrong{0}, overshoots{0}, violations{0};
  std::atomic<std::int64_t> worst_acquire_over_ms{0}, worst_query_over_ms{0};
  std::atomic<std::int64_t> held{0};  // leases held by the callers now
  std::atomic<Steady::rep> last_query_ok{0};
  std::mutex mu;
  std::vector<std::string> notes;  // first few failures, for the report

  void Note(std::string s) {
    std::lock_guard lock(mu);
    if (notes.size() < 10) notes.push_back(std::move(s));
  }
};

class Soak {
 public:
  Soak(Options o, Pool& pool, ByteCache& cache, Servers& servers)
      : o_(std::move(o)), pool_(pool), cache_(cache), servers_(servers) {}

  int Run();

 private:
  ByteCache::Loader Loader() {
    return [this](const std::string& key) -> Result<std::optional<std::string>> {
      auto lease = pool_.Acquire(kAcquire);
      if (!lease) return Error(lease.error().code, lease.error().message);
      auto r = lease->QueryPrepared("SELECT val FROM soak_items WHERE id = $1::int", {key});
      if (!r) return r.error();
      if (r->empty()) return std::optional<std::string>();
      return std::optional<std::string>(std::string(r->Get(0, 0)));
    };
  }

  // Check says whether a cache answer for `id` is right.
  void Check(long id, const Result<std::optional<std::string>>& r) {
    if (!r) {
      ++s_.cache_errors;
      return;
    }
    ++s_.cache_ok;
    if (id <= kRows) {
      if (!r->has_value()) {
        ++s_.lost;
        s_.Note(fmt::format("cache answered absent for existing id {}", id));
      } else if (**r != Value(id)) {
        ++s_.wrong;
        s_.Note(fmt::format("cache answered a wrong value for id {}", id));
      }
    } else if (r->has_value()) {
      ++s_.wrong;
      s_.Note(fmt::format("cache answered a value for absent id {}", id));
    }
  }

  // PoolOp runs one SELECT (or a transaction) through the pool, timed.
  void PoolOp(long id, bool tx) {
    const auto t0 = Steady::now();
    auto lease = pool_.Acquire(kAcquire);
    const auto t1 = Steady::now();
    Max(s_.worst_acquire_over_ms, Ms(t1 - t0 - kAcquire));
    if (t1 - t0 > kAcquire + kSlack) ++s_.overshoots;
    if (!lease) {
      ++s_.pool_errors;
      return;
    }
    ++s_.held;
    bool ok = false;
    std::string got;
    if (tx) {
      auto t = lease->Begin();
      if (t) {
        auto r = t->QueryPrepared("SELECT val FROM soak_items WHERE id = $1", {id});
        if (r && !r->empty()) got = r->Get(0, 0);
        ok = r.ok() && t->Commit().ok();
      }
    } else {
      auto r = lease->QueryPrepared("SELECT val FROM soak_items WHERE id = $1", {id});
      if (r && !r->empty()) got = r->Get(0, 0);
      ok = r.ok();
    }
    const auto t2 = Steady::now();
    const auto bound = 2 * (pool_.config().statement_timeout + 2 * pool_.config().cancel_grace);
    Max(s_.worst_query_over_ms, Ms(t2 - t1 - bound));
    if (t2 - t1 > bound + kSlack) ++s_.overshoots;
    lease->Release();
    --s_.held;
    if (!ok) {
      ++s_.pool_errors;
      return;
    }
    ++s_.pool_ok;
    s_.last_query_ok = t2.time_since_epoch().count();
    if (got != (id <= kRows ? Value(id) : std::string())) {
      ++s_.wrong;
      s_.Note(fmt::format("SELECT answered a wrong value for id {}", id));
    }
  }

  void Worker(int t) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 7919 + 1);
    std::uniform_int_distribution<long> any(1, kRows + kAbsent);
    std::uniform_int_distribution<int> pick(0, 99);
    auto loader = Loader();
    auto batch =
        [this](const std::vector<std::string>& keys) -> Result<std::map<std::string, std::string>> {
      std::vector<std::int64_t> ids;
      for (const auto& k : keys) ids.push_back(std::stoll(k));
      auto lease = pool_.Acquire(kAcquire);
      if (!lease) return Error(lease.error().code, lease.error().message);
      auto r = lease->QueryPrepared("SELECT id, val FROM soak_items WHERE id = ANY($1)",
                                    {Param::Array(ids)});
      if (!r) return r.error();
      std::map<std::string, std::string> out;
      for (int i = 0; i < r->size(); ++i) out.emplace(std::string(r->Get(i, 0)), r->Get(i, 1));
      return out;
    };
    while (!stop_) {
      const int p = pick(rng);
      const long id = any(rng);
      if (p < 40) {
        Check(id, cache_.Get(std::to_string(id), loader));
      } else if (p < 50) {
        std::vector<std::string> keys;
        std::vector<long> ids;
        for (int i = 0; i < 5; ++i) {
          ids.push_back(any(rng));
          keys.push_back(std::to_string(ids.back()));
        }
        auto r = cache_.GetMany(keys, batch);
        for (std::size_t i = 0; i < ids.size(); ++i) {
          if (!r) {
            Check(ids[i], r.error());
          } else {
            Check(ids[i], (*r)[i]);
          }
        }
      } else {
        PoolOp(id, p >= 90);
      }
      ++s_.ops;
    }
  }

  // Watch checks the pool's counts every 5 ms.
  void Watch() {
    const int max = pool_.config().max_size;
    while (!stop_) {
      PoolState st = pool_.State();
      if (st.open > max || st.active > max || st.idle + st.active > max ||
          st.waiting > o_.threads) {
        if (++s_.violations <= 3) {
          s_.Note(fmt::format("pool state open {} active {} idle {} waiting {} (max {})", st.open,
                              st.active, st.idle, st.waiting, max));
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  double Metric(const std::string& name, const prometheus::Labels& want) const;

  Options o_;
  Pool& pool_;
  ByteCache& cache_;
  Servers& servers_;
  Stats s_;
  std::atomic<bool> stop_{false};
};

double Soak::Metric(const std::string& name, const prometheus::Labels& want) const {
  double sum = 0;
  for (const auto& f : pool_.metrics()->Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : want) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (match) sum += f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return sum;
}

int Soak::Run() {
  const auto start = Steady::now();
  const auto end = start + std::chrono::duration_cast<Steady::duration>(
                               std::chrono::duration<double>(o_.seconds));
  std::vector<std::thread> workers;
  for (int t = 0; t < o_.threads; ++t) workers.emplace_back([this, t] { Worker(t); });
  std::thread watcher([this] { Watch(); });

  // The main thread: faults on schedule, per-second checks, RSS samples.
  const auto every =
      std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(o_.fault_every));
  auto next_fault = start + every / 2;
  const auto warm = start + std::min<Steady::duration>(10s, (end - start) / 5);
  std::int64_t rss_base = 0, rss_peak = 0;
  int faults = 0, unrecovered = 0;
  std::int64_t worst_recovery_ms = 0;
  std::map<std::string, int> fault_counts;
  const char* kinds[] = {"terminate_backends", "redis_restart", "pg_restart"};
  auto next_tick = start + 1s;
  while (Steady::now() < end) {
    const auto now = Steady::now();
    if (now >= next_tick) {
      next_tick += 1s;
      const std::int64_t rss = RssBytes();
      rss_peak = std::max(rss_peak, rss);
      if (rss_base == 0 && now >= warm) rss_base = rss;
      PoolState st = pool_.State();
      std::cerr << fmt::format(
          "[soak] t={:>4}s ops={} pool ok/err={}/{} cache ok/err={}/{} open={} active={} idle={} "
          "waiting={} rss={:.1f}MiB\n",
          Ms(now - start) / 1000, s_.ops.load(), s_.pool_ok.load(), s_.pool_errors.load(),
          s_.cache_ok.load(), s_.cache_errors.load(), st.open, st.active, st.idle, st.waiting,
          static_cast<double>(rss) / 1048576);
    }
    if (now >= next_fault && now + 5s < end) {
      const std::string kind = kinds[faults % 3];
      std::cerr << "[soak] fault: " << kind << "\n";
      bool done = false;
      if (kind == "terminate_backends") {
        PGconn* c = PQconnectdb(servers_.PgDsn().c_str());
        PGresult* r = PQexec(c,
                             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE application_name = 'poolscope-soak'");
        done = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        PQfinish(c);
      } else if (kind == "redis_restart") {
        done = servers_.Redis("kill") && servers_.Redis("start");
      } else {
        done = servers_.Pg("kill") && servers_.Pg("start");
      }
      if (!done) {
        std::cerr << "[soak] could not inject " << kind << "\n";
        s_.Note("could not inject " + kind);
        ++unrecovered;
      }
      ++faults;
      ++fault_counts[kind];
      // Recovered when a query through the pool succeeds again.
      const auto after = Steady::now();
      const auto bound = std::chrono::duration_cast<Steady::duration>(
          std::chrono::duration<double>(o_.recovery_bound));
      while (Steady::now() < after + bound &&
             s_.last_query_ok.load() <= after.time_since_epoch().count()) {
        std::this_thread::sleep_for(10ms);
      }
      const auto ok_at = Steady::time_point(Steady::duration(s_.last_query_ok.load()));
      if (ok_at <= after) {
        ++unrecovered;
        s_.Note(kind + ": no query succeeded within the recovery bound");
      } else {
        worst_recovery_ms = std::max(worst_recovery_ms, Ms(ok_at - after));
      }
      next_fault = std::max(next_fault + every, Steady::now() + 1s);
    }
    std::this_thread::sleep_for(20ms);
  }
  stop_ = true;
  for (auto& w : workers) w.join();
  watcher.join();
  const double run_seconds = std::chrono::duration<double>(Steady::now() - start).count();

  // Quiet: nothing leased, nobody waiting, and every slot usable at once.
  bool drained = false;
  for (auto t = Steady::now(); Steady::now() < t + 10s;) {
    PoolState st = pool_.State();
    if (st.active == 0 && st.waiting == 0 && st.open >= pool_.config().min_idle) {
      drained = true;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  if (!drained) s_.Note("the pool did not drain: leases or waiters left, or min_idle not refilled");
  const std::size_t holders = pool_.Holders().size();
  int slots_usable = 0;
  {
    std::vector<Lease> all;
    for (int i = 0; i < pool_.config().max_size; ++i) {
      auto l = pool_.Acquire(5s);
      if (!l || !l->Query("SELECT 1").ok()) break;
      all.push_back(std::move(*l));
      ++slots_usable;
    }
  }
  if (slots_usable != pool_.config().max_size) s_.Note("not every slot could be acquired at once");
  const std::int64_t rss_end = RssBytes();
  if (rss_base == 0) rss_base = rss_end;
  const std::int64_t growth = rss_end - rss_base;
  const double leaks = Metric("poolscope_pool_leaks_suspected_total", {{"pool", "soak"}});
  const double l2_hits = Metric("poolscope_cache_requests_total",
                                {{"cache", "soak"}, {"level", "l2"}, {"result", "hit"}});
  const double l2_errors = Metric("poolscope_cache_l2_errors_total", {{"cache", "soak"}});

  const bool ok = s_.violations == 0 && s_.overshoots == 0 && s_.lost == 0 && s_.wrong == 0 &&
                  unrecovered == 0 && drained && holders == 0 && s_.held == 0 && leaks == 0 &&
                  slots_usable == pool_.config().max_size &&
                  static_cast<double>(growth) <= o_.max_rss_growth_mib * 1048576 && faults > 0;
  for (const auto& n : s_.notes) std::cerr << "[soak] note: " << n << "\n";
  std::cerr << "[soak] " << (ok ? "every check held" : "FAILED: a check did not hold") << "\n";
  std::cout << fmt::format(
      "soak_seconds={:.0f}\nsoak_threads={}\nsoak_pool_size={}\nsoak_ops_total={}\n"
      "soak_ops_per_second={:.0f}\nsoak_pool_queries_ok={}\nsoak_pool_errors={}\n"
      "soak_cache_reads_ok={}\nsoak_cache_errors={}\nsoak_cache_l2_hits={:.0f}\n"
      "soak_cache_l2_errors={:.0f}\nsoak_faults_injected={}\nsoak_faults_terminate_backends={}\n"
      "soak_faults_redis_restart={}\nsoak_faults_pg_restart={}\nsoak_faults_unrecovered={}\n"
      "soak_worst_recovery_ms={}\nsoak_invariant_violations={}\nsoak_deadline_overshoots={}\n"
      "soak_worst_acquire_past_deadline_ms={}\nsoak_worst_query_past_bound_ms={}\n"
      "soak_leaked_leases={:.0f}\nsoak_holders_at_end={}\nsoak_slots_usable_at_end={}\n"
      "soak_cache_lost_entries={}\nsoak_wrong_values={}\nsoak_rss_after_warmup_bytes={}\n"
      "soak_rss_end_bytes={}\nsoak_rss_peak_bytes={}\nsoak_rss_growth_bytes={}\nsoak_ok={}\n",
      run_seconds, o_.threads, pool_.config().max_size, s_.ops.load(),
      static_cast<double>(s_.ops.load()) / run_seconds, s_.pool_ok.load(), s_.pool_errors.load(),
      s_.cache_ok.load(), s_.cache_errors.load(), l2_hits, l2_errors, faults,
      fault_counts["terminate_backends"], fault_counts["redis_restart"], fault_counts["pg_restart"],
      unrecovered, worst_recovery_ms, s_.violations.load(), s_.overshoots.load(),
      std::max<std::int64_t>(0, s_.worst_acquire_over_ms.load()),
      std::max<std::int64_t>(0, s_.worst_query_over_ms.load()), leaks, holders, slots_usable,
      s_.lost.load(), s_.wrong.load(), rss_base, rss_end, rss_peak, growth, ok ? 1 : 0);
  return ok ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"poolscope soak: pool and cache under load with faults on a schedule"};
  double minutes = 0;
  app.add_option("--seconds", o.seconds, "how long to run (default 60)");
  app.add_option("--minutes", minutes, "how long to run, in minutes (wins over --seconds)");
  app.add_option("--fixtures", o.fixtures, "scripts/fixtures (default: $POOLSCOPE_FIXTURES)");
  app.add_option("--tmp", o.tmp, "folder for the servers (default: $POOLSCOPE_TEST_TMP or /tmp)");
  app.add_option("--threads", o.threads, "callers (default 16)")->check(CLI::Range(1, 512));
  app.add_option("--pool-size", o.pool_size, "pool max_size (default 8)")
      ->check(CLI::Range(1, 256));
  app.add_option("--fault-every", o.fault_every, "seconds between faults (default 10)")
      ->check(CLI::Range(2.0, 3600.0));
  app.add_option("--recovery-bound", o.recovery_bound,
                 "seconds a fault may take to recover from (default 10)");
  app.add_option("--max-rss-growth-mib", o.max_rss_growth_mib,
                 "resident memory growth allowed after the warm-up (default 32)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (minutes > 0) o.seconds = minutes * 60;
  if (o.fixtures.empty() && std::getenv("POOLSCOPE_FIXTURES") != nullptr) {
    o.fixtures = std::getenv("POOLSCOPE_FIXTURES");
  }
  if (o.fixtures.empty() || ::access((o.fixtures + "/pg.sh").c_str(), X_OK) != 0) {
    std::cout << "SKIPPED: no server fixtures (pass --fixtures or run through "
                 "./scripts/test.sh or ./scripts/bench.sh soak)\n";
    return 0;
  }
  if (o.tmp.empty()) {
    const char* t = std::getenv("POOLSCOPE_TEST_TMP");
    o.tmp = t != nullptr ? t : "/tmp";
  }
  std::string dir = o.tmp + "/soak.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    std::cerr << "poolscope_soak: cannot create a folder under " << o.tmp << "\n";
    return 2;
  }
  ::chmod(dir.c_str(), 0755);  // the unprivileged PostgreSQL user reaches below it

  Servers servers(o.fixtures, dir);
  if (!servers.Pg("start") || !servers.Redis("start")) {
    std::cerr << "poolscope_soak: the servers did not start\n";
    return 2;
  }
  {
    PGconn* c = PQconnectdb(servers.PgDsn().c_str());
    PGresult* r = PQexec(c, fmt::format("CREATE TABLE soak_items (id int PRIMARY KEY, val text); "
                                        "INSERT INTO soak_items SELECT g, 'item-' || g "
                                        "FROM generate_series(1, {}) g",
                                        kRows)
                                .c_str());
    const bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!good) {
      std::cerr << "poolscope_soak: cannot create the table\n";
      return 2;
    }
  }
  // Log lines go to stderr: stdout is for the name=value lines only.
  spdlog::set_default_logger(spdlog::stderr_color_mt("soak"));
  spdlog::set_level(spdlog::level::warn);

  auto book = std::make_shared<MetricsBook>();
  PoolConfig pc;
  pc.name = "soak";
  pc.dsn = Dsn(servers.PgDsn());
  pc.application_name = "poolscope-soak";
  pc.max_size = o.pool_size;
  pc.min_idle = std::max(1, o.pool_size / 2);
  pc.connect_timeout = 1s;
  pc.acquire_timeout = kAcquire;
  pc.statement_timeout = 2s;
  pc.cancel_grace = 200ms;
  pc.leak_threshold = 5s;
  pc.slow_query_threshold = 1s;
  pc.max_lifetime = 20s;  // connections retire and are replaced during the run
  auto pool = Pool::Create(pc, book);
  if (!pool) {
    std::cerr << "poolscope_soak: " << pool.error().message << "\n";
    return 2;
  }
  RedisL2Options ro;
  ro.host = "127.0.0.1";
  ro.port = static_cast<std::uint16_t>(servers.RedisPort());
  ro.breaker_cooldown = 500ms;
  CacheConfig cc;
  cc.name = "soak";
  cc.ttl = 60s;
  cc.l1_ttl = 2s;
  cc.negative_ttl = 5s;
  cc.l1.max_entries = 400;  // smaller than the key space: L1 evicts, L2 is read
  ByteCache cache(cc, std::make_shared<RedisL2>(ro), book);

  Soak soak(o, **pool, cache, servers);
  return soak.Run();
}

}  // namespace
}  // namespace poolscope

int main(int argc, char** argv) { return poolscope::Main(argc, argv); }
