// Primary-key SELECT throughput through poolscope::Pool, side by side (one
// process, one server, same table) with:
//   raw        one persistent libpq connection per client thread, the
//              statement prepared once (PQprepare + PQexecPrepared): the limit
//   pgbouncer  one persistent connection per client thread to PgBouncer in
//              transaction mode, PQexecParams (no prepared statements)
//   connect    a new connection per request: PQconnectdb + PQexecParams + PQfinish
//   pool       poolscope::Pool (max_size 8), Acquire + QueryPrepared + release
//
// Query: SELECT id, name, price FROM bench_products WHERE id = $1 with a
// uniformly random id in 1..rows. The run is split into rounds; in each
// round every mode runs at each thread count for a warm-up (not counted) and
// then seconds/rounds; the modes take turns, so a change in background load
// hits them alike. qps = answered queries / measured seconds, summed over
// the rounds. Every answer is checked to hold exactly one row.
//
//   poolscope_bench_pool_select --pg-dsn 'host=... port=...'
//       --pgbouncer-dsn 'host=... port=...' [--seconds 5] [--connect-seconds 3]
//       [--rounds 3] [--warmup 0.5] [--threads 8,32] [--pool-size 8] [--rows 100000]
//       [--modes pool,raw,pgbouncer,connect]
//
// DSNs may also come from POOLSCOPE_BENCH_PG_DSN and POOLSCOPE_BENCH_PGBOUNCER_DSN.
// Prints a table, then name=value lines, the 32-thread headline figures last:
//   qps_<mode>_t<N>, ratio_vs_<mode>_t<N>, qps_<mode>, ratio_vs_<mode>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "poolscope/pool/pool.h"
#include "poolscope/pool/pool_config.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kSelect = "SELECT id, name, price FROM bench_products WHERE id = $1";

struct Options {
  std::string pg_dsn;
  std::string pgbouncer_dsn;
  double seconds = 5;
  double connect_seconds = 3;
  double warmup = 0.5;
  int rounds = 3;
  std::vector<int> threads{8, 32};
  int pool_size = 8;
  long rows = 100000;
  std::vector<std::string> modes{"pool", "raw", "pgbouncer", "connect"};
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\n"
               "usage: poolscope_bench_pool_select --pg-dsn DSN [--pgbouncer-dsn DSN]\n"
               "         [--seconds 5] [--connect-seconds 3] [--rounds 3] [--warmup 0.5]\n"
               "         [--threads 8,32] [--pool-size 8] [--rows 100000] [--modes "
               "pool,raw,pgbouncer,connect]\n",
               why);
  std::exit(2);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double ParseDouble(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end != '\0' || d < 0) Usage((flag + ": not a number: " + v).c_str());
  return d;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  if (const char* e = std::getenv("POOLSCOPE_BENCH_PG_DSN")) o.pg_dsn = e;
  if (const char* e = std::getenv("POOLSCOPE_BENCH_PGBOUNCER_DSN")) o.pgbouncer_dsn = e;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") Usage("help requested");
    if (i + 1 >= argc) Usage((flag + ": missing value").c_str());
    std::string v = argv[++i];
    if (flag == "--pg-dsn") {
      o.pg_dsn = v;
    } else if (flag == "--pgbouncer-dsn") {
      o.pgbouncer_dsn = v;
    } else if (flag == "--seconds") {
      o.seconds = ParseDouble(flag, v);
    } else if (flag == "--connect-seconds") {
      o.connect_seconds = ParseDouble(flag, v);
    } else if (flag == "--warmup") {
      o.warmup = ParseDouble(flag, v);
    } else if (flag == "--rounds") {
      o.rounds = std::atoi(v.c_str());
    } else if (flag == "--threads") {
      o.threads.clear();
      for (const auto& t : SplitComma(v)) o.threads.push_back(std::atoi(t.c_str()));
    } else if (flag == "--pool-size") {
      o.pool_size = std::atoi(v.c_str());
    } else if (flag == "--rows") {
      o.rows = std::atol(v.c_str());
    } else if (flag == "--modes") {
      o.modes = SplitComma(v);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (o.pg_dsn.empty()) Usage("--pg-dsn (or POOLSCOPE_BENCH_PG_DSN) is required");
  if (o.seconds <= 0) Usage("--seconds must be more than 0");
  if (o.pool_size < 1) Usage("--pool-size must be at least 1");
  if (o.rounds < 1) Usage("--rounds must be at least 1");
  if (o.rows < 1) Usage("--rows must be at least 1");
  for (int t : o.threads) {
    if (t < 1) Usage("--threads: each count must be at least 1");
  }
  for (const auto& m : o.modes) {
    if (m != "pool" && m != "raw" && m != "pgbouncer" && m != "connect") {
      Usage(("--modes: unknown mode " + m).c_str());
    }
  }
  if (o.pgbouncer_dsn.empty()) {
    std::fprintf(stderr, "note: no PgBouncer DSN; the pgbouncer mode is skipped\n");
    std::erase(o.modes, std::string("pgbouncer"));
  }
  return o;
}

// ---------------------------------------------------------------- libpq helpers

// Conn owns a PGconn.
struct PgFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, PgFinish>;

struct PgClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Res = std::unique_ptr<PGresult, PgClear>;

Conn Connect(const std::string& dsn, std::string* error) {
  Conn c(PQconnectdb(dsn.c_str()));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    *error = c ? PQerrorMessage(c.get()) : "out of memory";
    return nullptr;
  }
  return c;
}

Conn MustConnect(const std::string& dsn) {
  std::string error;
  Conn c = Connect(dsn, &error);
  if (!c) {
    std::fprintf(stderr, "error: cannot connect: %s", error.c_str());
    std::exit(1);
  }
  return c;
}

void MustExec(PGconn* c, const char* sql) {
  Res r(PQexec(c, sql));
  ExecStatusType st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::fprintf(stderr, "error: %s: %s", sql, PQerrorMessage(c));
    std::exit(1);
  }
}

// OneRow says whether `r` is a successful answer with exactly one row.
bool OneRow(PGresult* r) { return PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1; }

// IdText writes `id` as text into `buf` (NUL-terminated).
const char* IdText(long id, char (&buf)[24]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, id);
  *end = '\0';
  return buf;
}

// EnsureTable creates and fills bench_products with ids 1..rows unless it
// already holds exactly that.
void EnsureTable(const std::string& dsn, long rows) {
  Conn c = MustConnect(dsn);
  PQsetNoticeProcessor(
      c.get(), [](void*, const char*) {}, nullptr);  // "already exists"
  MustExec(c.get(),
           "CREATE TABLE IF NOT EXISTS bench_products("
           "id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL)");
  Res r(PQexec(c.get(),
               "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) "
               "FROM bench_products"));
  if (!OneRow(r.get())) {
    std::fprintf(stderr, "error: counting bench_products: %s", PQerrorMessage(c.get()));
    std::exit(1);
  }
  const long count = std::atol(PQgetvalue(r.get(), 0, 0));
  const long min_id = std::atol(PQgetvalue(r.get(), 0, 1));
  const long max_id = std::atol(PQgetvalue(r.get(), 0, 2));
  if (count == rows && min_id == 1 && max_id == rows) {
    std::fprintf(stderr, "bench_products already holds %ld rows\n", rows);
  } else {
    std::fprintf(stderr, "filling bench_products with %ld rows\n", rows);
    MustExec(c.get(), "TRUNCATE bench_products");
    const std::string fill =
        "INSERT INTO bench_products(id, name, price) SELECT g, 'product ' || g, "
        "round((g % 10000) / 100.0 + 0.99, 2) FROM generate_series(1, " +
        std::to_string(rows) + ") AS g";
    MustExec(c.get(), fill.c_str());
  }
  MustExec(c.get(), "VACUUM ANALYZE bench_products");
  // Warm the table and its index into shared buffers for every mode alike.
  MustExec(c.get(), "SELECT count(*) FROM bench_products WHERE id > 0");
  MustExec(c.get(), "SELECT sum(length(name)) FROM bench_products");
}

// ---------------------------------------------------------------- the runner

struct alignas(64) ThreadCount {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> errors{0};
};

// Worker is one client thread's loop: set up (connect, prepare), then
// `ready.count_down()`, then run requests until `stop`, counting each
// answered one in `count.ok` (and failures in `count.errors`). `first_error`
// receives the first failure's text.
struct WorkerContext {
  int index;
  std::latch* ready;
  const std::atomic<bool>* stop;
  ThreadCount* count;
  std::mt19937_64 rng;
  std::uniform_int_distribution<long> ids;
  std::function<void(const std::string&)> report_error;

  long NextId() { return ids(rng); }
  bool stopped() const { return stop->load(std::memory_order_relaxed); }
  void Ok() { count->ok.fetch_add(1, std::memory_order_relaxed); }
  void Fail(const std::string& what) {
    count->errors.fetch_add(1, std::memory_order_relaxed);
    report_error(what);
  }
};
using Worker = std::function<void(WorkerContext&)>;

struct Measurement {
  double qps = 0;
  std::uint64_t queries = 0;
  std::uint64_t errors = 0;
  double seconds = 0;
  std::string first_error;
};

Measurement Measure(int threads, double warmup, double seconds, long rows, const Worker& worker) {
  std::vector<ThreadCount> counts(threads);
  std::atomic<bool> stop{false};
  std::latch ready(threads);
  std::mutex err_mu;
  std::string first_error;
  auto report_error = [&](const std::string& e) {
    std::lock_guard lock(err_mu);
    if (first_error.empty()) first_error = e;
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      WorkerContext ctx{i,
                        &ready,
                        &stop,
                        &counts[i],
                        std::mt19937_64(0x9e3779b97f4a7c15ULL * (i + 1)),
                        std::uniform_int_distribution<long>(1, rows),
                        report_error};
      worker(ctx);
    });
  }
  ready.wait();
  auto total = [&] {
    std::uint64_t ok = 0;
    std::uint64_t err = 0;
    for (const auto& c : counts) {
      ok += c.ok.load(std::memory_order_relaxed);
      err += c.errors.load(std::memory_order_relaxed);
    }
    return std::make_pair(ok, err);
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  const auto [ok0, err0] = total();
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const auto [ok1, err1] = total();
  const auto t1 = SteadyClock::now();
  stop.store(true);
  for (auto& t : pool) t.join();
  Measurement m;
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  m.queries = ok1 - ok0;
  m.errors = err1 - err0;
  m.qps = static_cast<double>(m.queries) / m.seconds;
  m.first_error = first_error;
  return m;
}

// ---------------------------------------------------------------- the modes

// Persistent connection per thread, prepared statement (the limit).
Worker RawWorker(const std::string& dsn) {
  return [dsn](WorkerContext& ctx) {
    std::string error;
    Conn c = Connect(dsn, &error);
    if (c) {
      Res p(PQprepare(c.get(), "bench_pk", kSelect, 1, nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) {
        error = PQerrorMessage(c.get());
        c.reset();
      }
    }
    ctx.ready->count_down();
    if (!c) {
      ctx.Fail("raw: connect/prepare: " + error);
      return;
    }
    char buf[24];
    while (!ctx.stopped()) {
      const char* values[1] = {IdText(ctx.NextId(), buf)};
      Res r(PQexecPrepared(c.get(), "bench_pk", 1, values, nullptr, nullptr, 0));
      if (OneRow(r.get())) {
        ctx.Ok();
      } else {
        ctx.Fail(std::string("raw: ") + PQerrorMessage(c.get()));
      }
    }
  };
}

// Persistent connection per thread to PgBouncer (transaction mode), no
// prepared statements (they do not survive transaction pooling).
Worker PgBouncerWorker(const std::string& dsn) {
  return [dsn](WorkerContext& ctx) {
    std::string error;
    Conn c = Connect(dsn, &error);
    ctx.ready->count_down();
    if (!c) {
      ctx.Fail("pgbouncer: connect: " + error);
      return;
    }
    char buf[24];
    while (!ctx.stopped()) {
      const char* values[1] = {IdText(ctx.NextId(), buf)};
      Res r(PQexecParams(c.get(), kSelect, 1, nullptr, values, nullptr, nullptr, 0));
      if (OneRow(r.get())) {
        ctx.Ok();
      } else {
        ctx.Fail(std::string("pgbouncer: ") + PQerrorMessage(c.get()));
      }
    }
  };
}

// A new connection for every request.
Worker ConnectWorker(const std::string& dsn) {
  return [dsn](WorkerContext& ctx) {
    ctx.ready->count_down();
    char buf[24];
    std::string error;
    while (!ctx.stopped()) {
      Conn c = Connect(dsn, &error);
      if (!c) {
        ctx.Fail("connect: " + error);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      const char* values[1] = {IdText(ctx.NextId(), buf)};
      Res r(PQexecParams(c.get(), kSelect, 1, nullptr, values, nullptr, nullptr, 0));
      if (OneRow(r.get())) {
        ctx.Ok();
      } else {
        ctx.Fail(std::string("connect: ") + PQerrorMessage(c.get()));
      }
    }
  };
}

// poolscope::Pool shared by all threads: Acquire, QueryPrepared, release.
Worker PoolWorker(poolscope::Pool* pool) {
  return [pool](WorkerContext& ctx) {
    ctx.ready->count_down();
    while (!ctx.stopped()) {
      auto lease = pool->Acquire();
      if (!lease) {
        ctx.Fail("pool: " + lease.error().message);
        continue;
      }
      auto r = lease->QueryPrepared(kSelect, {static_cast<std::int64_t>(ctx.NextId())});
      lease->Release();
      if (r && r->size() == 1) {
        ctx.Ok();
      } else {
        ctx.Fail("pool: " + (r ? std::string("not one row") : r.error().message));
      }
    }
  };
}

std::unique_ptr<poolscope::Pool> MakePool(const Options& o) {
  poolscope::PoolConfig cfg;  // the defaults a service gets, but:
  cfg.name = "bench";
  cfg.dsn = poolscope::Dsn(o.pg_dsn);
  cfg.max_size = o.pool_size;
  cfg.min_idle = o.pool_size;
  auto pool = poolscope::Pool::Create(cfg);
  if (!pool) {
    std::fprintf(stderr, "error: cannot create the pool: %s\n", pool.error().message.c_str());
    std::exit(1);
  }
  const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
  while ((*pool)->State().idle < o.pool_size) {
    if (SteadyClock::now() > give_up) {
      std::fprintf(stderr, "error: the pool did not open %d connections in 30 s\n", o.pool_size);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::move(*pool);
}

std::string Key(const std::string& mode, int threads) {
  return mode + "_t" + std::to_string(threads);
}

// Names as printed in name=value lines.
const char* MetricName(const std::string& mode) {
  return mode == "connect" ? "connect_per_request" : mode.c_str();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  EnsureTable(o.pg_dsn, o.rows);

  // Rounds interleave the modes (each round starts with the next mode) so
  // that a change in background load hits all of them alike; a mode's qps is
  // its answered queries over its measured seconds summed over the rounds.
  std::map<std::string, Measurement> results;
  std::map<std::string, std::vector<double>> round_qps;
  bool any_errors = false;
  const int n_modes = static_cast<int>(o.modes.size());
  for (int round = 0; round < o.rounds; ++round) {
    for (int threads : o.threads) {
      for (int k = 0; k < n_modes; ++k) {
        const std::string& mode = o.modes[(k + round) % n_modes];
        const double secs = (mode == "connect" ? o.connect_seconds : o.seconds) / o.rounds;
        if (secs <= 0) continue;
        std::fprintf(stderr, "round %d/%d: %-9s at %2d threads for %.2f s (+%.2f s warm-up)\n",
                     round + 1, o.rounds, mode.c_str(), threads, secs, o.warmup);
        Measurement m;
        if (mode == "pool") {
          auto pool = MakePool(o);
          m = Measure(threads, o.warmup, secs, o.rows, PoolWorker(pool.get()));
        } else if (mode == "raw") {
          m = Measure(threads, o.warmup, secs, o.rows, RawWorker(o.pg_dsn));
        } else if (mode == "pgbouncer") {
          m = Measure(threads, o.warmup, secs, o.rows, PgBouncerWorker(o.pgbouncer_dsn));
        } else {
          m = Measure(threads, o.warmup, secs, o.rows, ConnectWorker(o.pg_dsn));
        }
        if (m.errors > 0 || !m.first_error.empty()) {
          any_errors = true;
          std::fprintf(stderr, "warning: %s at %d threads: %llu errors; first: %s\n", mode.c_str(),
                       threads, static_cast<unsigned long long>(m.errors), m.first_error.c_str());
        }
        Measurement& total = results[Key(mode, threads)];
        total.queries += m.queries;
        total.errors += m.errors;
        total.seconds += m.seconds;
        total.qps = static_cast<double>(total.queries) / total.seconds;
        round_qps[Key(mode, threads)].push_back(m.qps);
      }
    }
  }

  std::printf("%-9s %7s %10s %10s %10s %9s %7s\n", "mode", "threads", "qps", "round_min",
              "round_max", "queries", "errors");
  for (int threads : o.threads) {
    for (const std::string& mode : o.modes) {
      auto it = results.find(Key(mode, threads));
      if (it == results.end()) continue;
      const auto& r = round_qps[Key(mode, threads)];
      std::printf("%-9s %7d %10.0f %10.0f %10.0f %9llu %7llu\n", mode.c_str(), threads,
                  it->second.qps, *std::min_element(r.begin(), r.end()),
                  *std::max_element(r.begin(), r.end()),
                  static_cast<unsigned long long>(it->second.queries),
                  static_cast<unsigned long long>(it->second.errors));
    }
  }

  // name=value lines: every thread count, then the 32-thread (or largest)
  // figures again under the headline names (no suffix), last.
  const int headline = std::find(o.threads.begin(), o.threads.end(), 32) != o.threads.end()
                           ? 32
                           : *std::max_element(o.threads.begin(), o.threads.end());
  auto qps = [&](const std::string& mode, int t) {
    auto it = results.find(Key(mode, t));
    return it == results.end() ? 0.0 : it->second.qps;
  };
  auto print_block = [&](int t, const std::string& suffix) {
    for (const std::string& mode : o.modes) {
      std::printf("qps_%s%s=%.0f\n", MetricName(mode), suffix.c_str(), qps(mode, t));
    }
    if (qps("pool", t) <= 0) return;
    for (const std::string& mode : o.modes) {
      if (mode == "pool" || qps(mode, t) <= 0) continue;
      std::printf("ratio_vs_%s%s=%.3f\n", MetricName(mode), suffix.c_str(),
                  qps("pool", t) / qps(mode, t));
    }
  };
  for (int t : o.threads) print_block(t, "_t" + std::to_string(t));
  print_block(headline, "");
  return any_errors ? 1 : 0;
}
