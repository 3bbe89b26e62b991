// poolscope-demo-workload: the demo's product-catalog service. Reads the
// agent's config for the first PostgreSQL target and the first cache (its
// Redis target), runs CatalogWorkload, serves its own pool and cache metrics
// at --listen/metrics, and logs one summary line every --summary-every
// (pool active/waiting, acquire p99, cache hit ratio, slow queries, leaks)
// until SIGTERM or SIGINT.
#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "poolscope/cache/redis_l2.h"
#include "poolscope/config/config.h"
#include "poolscope/core/logging.h"
#include "poolscope/demo/catalog_workload.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"

namespace {

// Figures reads the counters and histograms the summary line needs out of
// the book's families.
struct Figures {
  std::map<double, double> acquire_buckets;  // upper bound -> cumulative count
  double cache_requests = 0, cache_l1_hits = 0, cache_l2_hits = 0;
  double slow_queries = 0, leaks_suspected = 0, leaked_now = 0;
};

bool HasLabel(const prometheus::ClientMetric& m, const char* name, const std::string& value) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value == value;
  }
  return false;
}

Figures Read(poolscope::MetricsBook& book, const std::string& pool, const std::string& cache) {
  Figures f;
  for (const auto& fam : book.Collect()) {
    for (const auto& m : fam.metric) {
      if (fam.name == "poolscope_pool_acquire_wait_seconds" && HasLabel(m, "pool", pool)) {
        for (const auto& b : m.histogram.bucket) {
          f.acquire_buckets[b.upper_bound] += static_cast<double>(b.cumulative_count);
        }
      } else if (fam.name == "poolscope_cache_requests_total" && HasLabel(m, "cache", cache)) {
        const bool l1 = HasLabel(m, "level", "l1");
        if (l1) f.cache_requests += m.counter.value;
        if (HasLabel(m, "result", "hit") || HasLabel(m, "result", "negative_hit")) {
          (l1 ? f.cache_l1_hits : f.cache_l2_hits) += m.counter.value;
        }
      } else if (fam.name == "poolscope_slow_queries_total" && HasLabel(m, "pool", pool)) {
        f.slow_queries += m.counter.value;
      } else if (fam.name == "poolscope_pool_leaks_suspected_total" && HasLabel(m, "pool", pool)) {
        f.leaks_suspected += m.counter.value;
      } else if (fam.name == "poolscope_pool_leaked_connections" && HasLabel(m, "pool", pool)) {
        f.leaked_now += m.gauge.value;
      }
    }
  }
  return f;
}

// P99 is the 99th percentile of the observations between `before` and
// `after` (the upper bound of the bucket it falls in), or 0 without any.
double P99(const Figures& before, const Figures& after) {
  double total = 0;
  if (!after.acquire_buckets.empty()) {
    total = after.acquire_buckets.rbegin()->second;
    if (!before.acquire_buckets.empty()) total -= before.acquire_buckets.rbegin()->second;
  }
  if (total <= 0) return 0;
  for (const auto& [bound, count] : after.acquire_buckets) {
    auto it = before.acquire_buckets.find(bound);
    const double n = count - (it == before.acquire_buckets.end() ? 0 : it->second);
    if (n >= 0.99 * total) return bound;
  }
  return after.acquire_buckets.rbegin()->first;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "poolscope-demo-workload: a product-catalog service that leaks, runs slow "
      "queries and exhausts its pool now and then"};
  std::string config_path;
  std::string listen = "127.0.0.1:0";
  int threads = 4;
  poolscope::CatalogOptions options;
  int pool_size = 4;
  std::map<std::string, std::string> durations{
      {"leak-threshold", "5s"}, {"slow-threshold", "500ms"}, {"incident-every", "15s"},
      {"leak-hold", "12s"},     {"burst-hold", "3s"},        {"slow-query", "2s"},
      {"summary-every", "5s"}};
  app.add_option("-c,--config", config_path, "The agent's configuration file")->required();
  app.add_option("--products", options.products, "Products in the catalogue")
      ->capture_default_str();
  app.add_option("--pool-size", pool_size, "The catalog pool's max_size")->capture_default_str();
  for (auto& [name, value] : durations) {
    app.add_option("--" + name, value, "A duration (500ms, 5s, 2m)")->capture_default_str();
  }
  app.add_option("--listen", listen, "Where to serve this service's /metrics")
      ->capture_default_str();
  app.add_option("--threads", threads, "Reader threads")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto cfg = poolscope::LoadConfigFile(config_path);
  if (!cfg) {
    std::fprintf(stderr, "poolscope-demo-workload: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (cfg->postgres.empty()) {
    std::fprintf(stderr, "poolscope-demo-workload: %s: needs a targets.postgres entry\n",
                 config_path.c_str());
    return 2;
  }
  auto address = poolscope::ParseHostPort(listen);
  if (!address) {
    std::fprintf(stderr, "poolscope-demo-workload: --listen: %s\n",
                 address.error().message.c_str());
    return 2;
  }
  std::map<std::string, poolscope::Duration> d;
  for (const auto& [name, value] : durations) {
    auto parsed = poolscope::ParseDuration(value);
    if (!parsed || *parsed <= poolscope::Duration::zero()) {
      std::fprintf(stderr,
                   "poolscope-demo-workload: --%s: bad duration \"%s\" (write 500ms, 5s, 2m)\n",
                   name.c_str(), value.c_str());
      return 2;
    }
    d[name] = *parsed;
  }
  if (pool_size < 1 || options.products < 1) {
    std::fprintf(stderr,
                 "poolscope-demo-workload: --pool-size and --products must be at least 1\n");
    return 2;
  }
  poolscope::SetupLogging(cfg->log.level, cfg->log.format);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto book = std::make_shared<poolscope::MetricsBook>();
  poolscope::PoolConfig pc;
  pc.name = "catalog";
  pc.dsn = cfg->postgres[0].dsn;
  pc.application_name = "demo-catalog";
  pc.max_size = pool_size;
  pc.min_idle = std::min(2, pool_size);
  pc.acquire_timeout = std::chrono::seconds(1);
  pc.leak_threshold = d["leak-threshold"];
  pc.slow_query_threshold = d["slow-threshold"];
  auto pool = poolscope::Pool::Create(pc, book);
  if (!pool) {
    std::fprintf(stderr, "poolscope-demo-workload: %s\n", pool.error().message.c_str());
    return 2;
  }
  poolscope::CacheSpec spec;
  spec.cache.name = "products";
  if (!cfg->caches.empty()) spec = cfg->caches[0];
  std::shared_ptr<poolscope::L2Store> l2;
  if (const poolscope::RedisTarget* r = cfg->FindRedis(spec.redis)) {
    poolscope::RedisL2Options ro;
    ro.host = r->address.host;
    ro.port = r->address.port;
    ro.op_timeout = spec.redis_timeout;
    l2 = std::make_shared<poolscope::RedisL2>(ro);
  }
  poolscope::ByteCache cache(spec.cache, l2, book);

  poolscope::MetricsHandler metrics({book, std::make_shared<poolscope::ProcessCollector>()});
  poolscope::HttpServer http;
  http.Handle("/metrics", [&](const poolscope::HttpRequest&) {
    return poolscope::HttpResponse{200, metrics.Render(), poolscope::MetricsHandler::ContentType()};
  });
  http.Handle("/debug/pool", [&](const poolscope::HttpRequest&) {
    return poolscope::HttpResponse{200, (*pool)->HoldersJson(), "application/json"};
  });
  if (poolscope::Status s = http.Start(*address); !s) {
    std::fprintf(stderr, "poolscope-demo-workload: --listen: %s\n", s.error().message.c_str());
    return 2;
  }
  spdlog::info("demo workload: serving http://{}/metrics",
               poolscope::HostPort{address->host, http.port()}.ToString());

  options.threads = threads;
  options.misbehave_every = d["incident-every"];
  options.leak_hold = d["leak-hold"];
  options.burst_hold = d["burst-hold"];
  options.slow_query = d["slow-query"];
  poolscope::CatalogWorkload workload(options, **pool, cache);
  if (poolscope::Status s = workload.Prepare(); !s) {
    spdlog::warn("demo workload: cannot prepare the products table yet: {} (retrying as it runs)",
                 s.error().message);
  }
  std::jthread runner([&](std::stop_token stop) { workload.Run(stop); });
  std::jthread summary([&](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    Figures before = Read(*book, pc.name, spec.cache.name);
    while (true) {
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, stop, d["summary-every"], [] { return false; }) ||
          stop.stop_requested()) {
        return;
      }
      const Figures now = Read(*book, pc.name, spec.cache.name);
      const poolscope::PoolState st = (*pool)->State();
      const double requests = now.cache_requests - before.cache_requests;
      const double hits =
          now.cache_l1_hits + now.cache_l2_hits - before.cache_l1_hits - before.cache_l2_hits;
      spdlog::info(
          "demo: pool active {}/{} waiting {} | acquire p99 {:.1f} ms | cache hit ratio {:.1f}% | "
          "slow queries {} | leaks suspected {} (held now {})",
          st.active, st.max_size, st.waiting, P99(before, now) * 1000,
          requests > 0 ? 100 * hits / requests : 0.0, now.slow_queries, now.leaks_suspected,
          now.leaked_now);
      before = now;
    }
  });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  summary.request_stop();
  summary.join();
  runner.request_stop();
  runner.join();
  http.Stop();
  spdlog::info("demo workload: stopped after {} lookups ({} found, {} absent, {} errors)",
               workload.stats().lookups.load(), workload.stats().found.load(),
               workload.stats().absent.load(), workload.stats().errors.load());
  return 0;
}
