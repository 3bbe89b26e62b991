#include "poolscope/agent/agent.h"

#include <spdlog/spdlog.h>

#include <prometheus/gauge.h>

#include "poolscope/core/version.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"
#include "poolscope/pool/pool.h"
#include "poolscope/samplers/pg_probe.h"
#include "poolscope/samplers/redis_probe.h"
#include "poolscope/samplers/up_sampler.h"

namespace poolscope {
namespace {

constexpr const char* kIndexPage =
    "poolscope-agent\n\n"
    "/metrics     Prometheus metrics\n"
    "/healthz     liveness (200 while the agent runs)\n"
    "/debug/pool  who holds the embedded pools' connections now (JSON; when http.debug is on)\n";

}  // namespace

Agent::Agent(Config config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      book_(std::make_shared<MetricsBook>()) {
  prometheus::BuildGauge()
      .Name("poolscope_build_info")
      .Help("Always 1; the labels say which poolscope build this is")
      .Register(*registry_)
      .Add({{"version", Version()}, {"revision", Revision()}})
      .Set(1);
  sampler_metrics_ = std::make_unique<SamplerMetrics>(*registry_);
  for (const auto& t : config_.postgres) {
    // The pool is the target's: its name and DSN. Validated with the config,
    // so Create only fails on a config built by hand.
    PoolConfig pc = t.pool;
    pc.name = t.name;
    pc.dsn = t.dsn;
    auto pool = Pool::Create(std::move(pc), book_);
    if (pool) {
      pools_.push_back(std::move(*pool));
    } else {
      spdlog::error("postgres target {}: embedded pool not created: {}", t.name,
                    pool.error().message);
    }
    samplers_.push_back(std::make_unique<UpSampler>(
        UpSamplerOptions{"pg_up", t.name, t.interval, t.timeout}, std::make_unique<PgProbe>(t.dsn),
        sampler_metrics_->pg_up.Add({{"target", t.name}}), *sampler_metrics_));
  }
  for (const auto& t : config_.redis) {
    samplers_.push_back(std::make_unique<UpSampler>(
        UpSamplerOptions{"redis_up", t.name, t.interval, t.timeout},
        std::make_unique<RedisProbe>(t.address.host, t.address.port),
        sampler_metrics_->redis_up.Add({{"target", t.name}}), *sampler_metrics_));
  }
  metrics_ = std::make_unique<MetricsHandler>(std::vector<std::shared_ptr<prometheus::Collectable>>{
      registry_, book_, std::make_shared<ProcessCollector>()});
  http_ = std::make_unique<HttpServer>();
  http_->Handle("/metrics", [this](const HttpRequest&) {
    return HttpResponse{200, metrics_->Render(), MetricsHandler::ContentType()};
  });
  http_->Handle("/healthz", [](const HttpRequest&) { return HttpResponse{200, "ok\n"}; });
  http_->Handle("/", [](const HttpRequest&) { return HttpResponse{200, kIndexPage}; });
  if (config_.http.debug) {
    http_->Handle("/debug/pool", [this](const HttpRequest&) {
      return HttpResponse{200, DebugPoolJson(), "application/json"};
    });
  }
}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  if (Status s = http_->Start(config_.http.listen); !s) return s;
  spdlog::info(
      "poolscope-agent {} ({}) serving http://{}/metrics; watching {} postgres and {} "
      "redis targets",
      Version(), Revision(), HostPort{config_.http.listen.host, http_->port()}.ToString(),
      config_.postgres.size(), config_.redis.size());
  for (auto& s : samplers_) s->Start();
  return OkStatus();
}

void Agent::Stop() {
  for (auto& s : samplers_) s->Stop();
  if (http_) http_->Stop();
}

std::string Agent::DebugPoolJson() const {
  std::string out = "{\"pools\":[";
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (i > 0) out += ',';
    out += pools_[i]->HoldersJson();
  }
  out += "]}\n";
  return out;
}

std::uint16_t Agent::http_port() const { return http_->port(); }

}  // namespace poolscope
