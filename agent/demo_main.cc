// poolscope-demo-workload: the demo's product-catalog service. Reads the
// agent's config for the first PostgreSQL target and the first cache (its
// Redis target), runs CatalogWorkload, and serves its own pool and cache
// metrics at --listen/metrics until SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
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

int main(int argc, char** argv) {
  CLI::App app{
      "poolscope-demo-workload: a product-catalog service that leaks, runs slow "
      "queries and exhausts its pool now and then"};
  std::string config_path;
  std::string listen = "127.0.0.1:0";
  int threads = 4;
  app.add_option("-c,--config", config_path, "The agent's configuration file")->required();
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
  pc.max_size = 4;
  pc.min_idle = 2;
  pc.acquire_timeout = std::chrono::seconds(1);
  pc.leak_threshold = std::chrono::seconds(5);
  pc.slow_query_threshold = std::chrono::milliseconds(500);
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

  poolscope::CatalogOptions options;
  options.threads = threads;
  poolscope::CatalogWorkload workload(options, **pool, cache);
  if (poolscope::Status s = workload.Prepare(); !s) {
    spdlog::warn("demo workload: cannot prepare the products table yet: {} (retrying as it runs)",
                 s.error().message);
  }
  std::jthread runner([&](std::stop_token stop) { workload.Run(stop); });
  int sig = 0;
  sigwait(&stop_signals, &sig);
  runner.request_stop();
  runner.join();
  http.Stop();
  spdlog::info("demo workload: stopped after {} lookups ({} found, {} absent, {} errors)",
               workload.stats().lookups.load(), workload.stats().found.load(),
               workload.stats().absent.load(), workload.stats().errors.load());
  return 0;
}
