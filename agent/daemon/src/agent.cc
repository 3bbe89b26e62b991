#include "poolscope/agent/agent.h"

#include <spdlog/spdlog.h>

#include <prometheus/gauge.h>

#include "poolscope/core/version.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"
#include "poolscope/pool/pool.h"
#include "poolscope/probes/offcpu_collector.h"
#include "poolscope/probes/offcpu_probe.h"
#include "poolscope/samplers/pg_probe.h"
#include "poolscope/samplers/redis_probe.h"
#include "poolscope/samplers/up_sampler.h"

namespace poolscope {
namespace {

constexpr const char* kIndexPage =
    "poolscope-agent\n\n"
    "/metrics     Prometheus metrics\n"
    "/healthz     liveness (200 while the agent runs)\n"
    "/debug/pool  who holds the embedded pools' connections now (JSON; when http.debug is on)\n"
    "/debug/offcpu?seconds=N  folded off-CPU stacks for N seconds (when http.debug and\n"
    "             probes.offcpu.stacks are on)\n";

OffcpuOptions OffcpuOptionsFrom(const OffcpuConfig& c) {
  OffcpuOptions o;
  for (const auto& t : c.targets) o.targets.push_back({t.process, t.pid, t.name});
  o.rescan_interval = c.rescan_interval;
  o.thread_labels = c.thread_labels;
  o.stacks = c.stacks;
  o.stack_probability = c.stack_probability;
  o.stack_min_duration = c.stack_min_duration;
  return o;
}

// DebugOffcpu serves /debug/offcpu?seconds=N (1-60, default 5): folded stacks.
HttpResponse DebugOffcpu(OffcpuProbe* probe, const std::string& query) {
  if (probe == nullptr) {
    return HttpResponse{404, "the off-CPU probe is off (probes.offcpu.enabled: false)\n"};
  }
  int seconds = 5;
  for (std::size_t at = 0; at <= query.size();) {
    std::size_t end = query.find('&', at);
    if (end == std::string::npos) end = query.size();
    const std::string part = query.substr(at, end - at);
    if (part.rfind("seconds=", 0) == 0) {
      const std::string v = part.substr(8);
      if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 60) {
        return HttpResponse{400, "seconds must be a whole number from 1 to 60\n"};
      }
      seconds = std::stoi(v);
    }
    at = end + 1;
  }
  auto folded = probe->CollectFolded(std::chrono::seconds(seconds));
  if (folded) return HttpResponse{200, std::move(*folded)};
  int status = 503;
  if (folded.error().code == ErrorCode::kInvalidArgument) status = 409;
  if (folded.error().code == ErrorCode::kResourceExhausted) status = 429;
  return HttpResponse{status, folded.error().message + "\n"};
}

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
  std::vector<std::shared_ptr<prometheus::Collectable>> sources{
      registry_, book_, std::make_shared<ProcessCollector>()};
  if (config_.probes.offcpu.enabled) {
    offcpu_ = std::make_shared<OffcpuProbe>(OffcpuOptionsFrom(config_.probes.offcpu));
    sources.push_back(std::make_shared<OffcpuCollector>(offcpu_));
  }
  metrics_ = std::make_unique<MetricsHandler>(std::move(sources));
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
    http_->Handle("/debug/offcpu",
                  [this](const HttpRequest& req) { return DebugOffcpu(offcpu_.get(), req.query); });
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
  // Pools start connecting (and logging) only once the agent is sure to run.
  for (const auto& t : config_.postgres) {
    // The pool is the target's: its name and DSN. Validated with the config,
    // so Create only fails on a config built by hand.
    PoolConfig pc = t.pool;
    pc.name = t.name;
    pc.dsn = t.dsn;
    auto pool = Pool::Create(std::move(pc), book_);
    if (!pool) {
      spdlog::error("postgres target {}: embedded pool not created: {}", t.name,
                    pool.error().message);
      continue;
    }
    std::lock_guard lock(pools_mu_);
    pools_.push_back(std::move(*pool));
  }
  for (auto& s : samplers_) s->Start();
  // No BPF rights or no BTF: one warning, probe_up 0, the agent runs on.
  if (offcpu_) (void)offcpu_->Start();
  return OkStatus();
}

void Agent::Stop() {
  for (auto& s : samplers_) s->Stop();
  if (offcpu_) offcpu_->Stop();  // also ends a running /debug/offcpu
  if (http_) http_->Stop();
}

std::string Agent::DebugPoolJson() const {
  std::lock_guard lock(pools_mu_);
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
