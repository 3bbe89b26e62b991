// poolscope_bench_seed_server: the seed's product-lookup API (ProductApi)
// behind CivetWeb, one process per mode, for `scripts/bench.sh seed`.
//
//   poolscope_bench_seed_server --mode before|after|connect --pg-dsn DSN
//       [--redis 127.0.0.1:6379] [--listen 127.0.0.1:0] [--threads 68]
//       [--cpus N] [--port-file FILE]
//
// Serves GET /products/<id>, GET /products?ids=1,2,3 (see product_api.h) and
// GET /metrics (the pool and cache metrics, Prometheus text). Runs until
// SIGTERM or SIGINT. Once listening it writes the bound port to --port-file
// (written to a temporary name and renamed, so a reader never sees half).
// CivetWeb serves one keep-alive connection per worker thread: give it at
// least as many --threads as the load generator opens connections.
#include <civetweb.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "poolscope/core/host_port.h"
#include "poolscope/exporters/http_response.h"
#include "poolscope/exporters/metrics_handler.h"
#include "product_api.h"

namespace {

using poolscope::seed::ApiResponse;
using poolscope::seed::ProductApi;

struct Server {
  ProductApi* api = nullptr;
  poolscope::MetricsHandler* metrics = nullptr;
};

void Send(mg_connection* conn, int status, const std::string& body, const char* type) {
  poolscope::SendHttpResponse(conn, {.status = status, .content_type = type, .body = body});
}

int HandleProducts(mg_connection* conn, void* cbdata) {
  const auto* server = static_cast<const Server*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  if (std::string_view(info->request_method) != "GET") {
    Send(conn, 405, "{\"error\":\"only GET\"}\n", "application/json");
    return 405;
  }
  ApiResponse r;
  try {
    r = server->api->Handle(info->local_uri != nullptr ? info->local_uri : "",
                            info->query_string != nullptr ? info->query_string : "");
  } catch (const std::exception&) {
    r = {500, "{\"error\":\"internal\"}\n"};
  }
  Send(conn, r.status, r.body, "application/json");
  return r.status;
}

int HandleMetrics(mg_connection* conn, void* cbdata) {
  const auto* server = static_cast<const Server*>(cbdata);
  Send(conn, 200, server->metrics->Render(), poolscope::MetricsHandler::ContentType());
  return 200;
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poolscope seed product API (benchmark server)"};
  std::string mode_text;
  std::string dsn;
  std::string redis = "127.0.0.1:6379";
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  int threads = 68;
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  app.add_option("--mode", mode_text, "before | after | connect")->required();
  app.add_option("--pg-dsn", dsn, "libpq connection string of the database with seed_products")
      ->required();
  app.add_option("--redis", redis, "Redis host:port for the L2 cache (after mode)");
  app.add_option("--listen", listen, "host:port to listen on (port 0: any free port)");
  app.add_option("--threads", threads, "CivetWeb worker threads")->check(CLI::Range(1, 4096));
  app.add_option("--cpus", cpus, "CPUs for the seed's max_connections = CPUs * 4")
      ->check(CLI::Range(1, 1024));
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  CLI11_PARSE(app, argc, argv);

  auto mode = poolscope::seed::ParseSeedMode(mode_text);
  if (!mode) {
    fmt::print(stderr, "poolscope_bench_seed_server: --mode: {}\n", mode.error().message);
    return 2;
  }
  auto redis_addr = poolscope::ParseHostPort(redis);
  if (!redis_addr) {
    fmt::print(stderr, "poolscope_bench_seed_server: --redis: {}\n", redis_addr.error().message);
    return 2;
  }
  auto listen_addr = poolscope::ParseHostPort(listen);
  if (!listen_addr) {
    fmt::print(stderr, "poolscope_bench_seed_server: --listen: {}\n", listen_addr.error().message);
    return 2;
  }

  // SIGTERM/SIGINT are taken by sigwait below; block them before any thread
  // starts so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  poolscope::seed::ProductApiOptions options;
  options.mode = *mode;
  options.dsn = poolscope::Dsn(dsn);
  options.redis_host = redis_addr->host;
  options.redis_port = redis_addr->port;
  options.cpus = cpus;
  auto book = std::make_shared<poolscope::MetricsBook>();
  auto api = ProductApi::Create(options, book);
  if (!api) {
    fmt::print(stderr, "poolscope_bench_seed_server: {}\n", api.error().message);
    return 1;
  }
  poolscope::MetricsHandler metrics({book});
  Server server{api->get(), &metrics};

  mg_init_library(0);
  const std::string ports = listen_addr->ToString();
  const std::string nthreads = std::to_string(threads);
  const char* civet_options[] = {"listening_ports",
                                 ports.c_str(),
                                 "num_threads",
                                 nthreads.c_str(),
                                 "enable_keep_alive",
                                 "yes",
                                 "keep_alive_timeout_ms",
                                 "30000",
                                 "request_timeout_ms",
                                 "30000",
                                 "tcp_nodelay",
                                 "1",
                                 "listen_backlog",
                                 "1024",
                                 nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char* message) {
    fmt::print(stderr, "civetweb: {}\n", message);
    return 1;
  };
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.configuration_options = civet_options;
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data err{&code, text, sizeof text};
  mg_context* ctx = mg_start2(&init, &err);
  if (ctx == nullptr) {
    fmt::print(stderr, "poolscope_bench_seed_server: cannot listen on {}: {}\n", ports, text);
    return 2;
  }
  mg_set_request_handler(ctx, "/products", HandleProducts, &server);
  mg_set_request_handler(ctx, "/metrics$", HandleMetrics, &server);
  mg_server_port bound[2];
  int port = mg_get_server_ports(ctx, 2, bound) > 0 ? bound[0].port : listen_addr->port;
  fmt::print(stderr, "poolscope_bench_seed_server: mode {} listening on {}:{} ({} threads)\n",
             poolscope::seed::SeedModeName(*mode), listen_addr->host, port, threads);
  if (!port_file.empty() && !WritePortFile(port_file, port)) {
    fmt::print(stderr, "poolscope_bench_seed_server: cannot write {}\n", port_file);
    mg_stop(ctx);
    return 1;
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
