#include "poolscope/agent/agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "canary_probe.h"
#include "poolscope/core/logging.h"

#include "poolscope/core/version.h"
#include "poolscope/exporters/basic_auth.h"
#include "poolscope/exporters/http_query.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"
#include "poolscope/exporters/snapshot_collector.h"
#include "poolscope/pool/pool.h"
#include "poolscope/probes/offcpu_collector.h"
#include "poolscope/probes/offcpu_probe.h"
#include "poolscope/samplers/pg_probe.h"
#include "poolscope/samplers/pgbouncer_probe.h"
#include "poolscope/samplers/redis_probe.h"
#include "poolscope/samplers/up_sampler.h"

namespace poolscope {
namespace {

constexpr const char* kIndexPage =
    "poolscope-agent\n\n"
    "/metrics     Prometheus metrics\n"
    "/healthz     liveness (200 while the agent runs)\n"
    "/readyz      readiness (200 when every target answered its last check, else 503)\n"
    "/health/db   the embedded pools: size, idle, active, waiting, max (JSON)\n"
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
  Result<int> seconds = QueryIntParam(query, "seconds", 5, 1, 60);
  if (!seconds) return HttpResponse{400, seconds.error().message + "\n"};
  auto folded = probe->CollectFolded(std::chrono::seconds(*seconds));
  if (folded) return HttpResponse{200, std::move(*folded)};
  int status = 503;
  if (folded.error().code == ErrorCode::kInvalidArgument) status = 409;
  if (folded.error().code == ErrorCode::kResourceExhausted) status = 429;
  return HttpResponse{status, folded.error().message + "\n"};
}

// CanaryBuckets cover a local round trip (sub-millisecond) to a stuck pool.
const prometheus::Histogram::BucketBoundaries& CanaryBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return kBuckets;
}

// SameHttp says whether two http sections would serve the same way.
bool SameHttp(const HttpConfig& a, const HttpConfig& b) {
  const auto& x = a.basic_auth;
  const auto& y = b.basic_auth;
  bool same_users = x.users.size() == y.users.size();
  for (std::size_t i = 0; same_users && i < x.users.size(); ++i) {
    same_users = x.users[i].name == y.users[i].name && x.users[i].hash == y.users[i].hash;
  }
  return a.listen.host == b.listen.host && a.listen.port == b.listen.port && a.debug == b.debug &&
         x.users_file == y.users_file && x.realm == y.realm &&
         x.healthz_without_auth == y.healthz_without_auth && same_users &&
         a.tls.cert_file == b.tls.cert_file && a.tls.key_file == b.tls.key_file;
}

// HttpOptions turns the http section into the server's options.
HttpServerOptions HttpOptions(const HttpConfig& c) {
  HttpServerOptions o;
  o.listen = c.listen;
  o.tls = {c.tls.cert_file, c.tls.key_file};
  if (!c.basic_auth.users_file.empty()) {
    o.auth = std::make_shared<BasicAuth>(c.basic_auth.users,
                                         BasicAuthOptions{.realm = c.basic_auth.realm});
    if (c.basic_auth.healthz_without_auth) o.public_paths.push_back("/healthz");
  }
  return o;
}

}  // namespace

// Targets is everything one configuration's targets run: the embedded pools
// (by PostgreSQL target name) and the samplers. Immutable once started, and
// replaced whole by Reload.
struct Agent::Targets {
  struct PoolEntry {
    std::string target;
    std::shared_ptr<Pool> pool;
  };
  std::vector<PoolEntry> pools;
  struct SamplerEntry {
    std::string kind;  // "pg", "redis", "pgbouncer", "canary"
    std::string target;
    std::unique_ptr<UpSampler> sampler;
    prometheus::Gauge* up = nullptr;  // the target's *_up gauge; null for canaries
  };
  std::vector<SamplerEntry> samplers;

  void Start() {
    for (auto& s : samplers) s.sampler->Start();
  }
  void Stop() {
    for (auto& s : samplers) s.sampler->request_stop();
    for (auto& s : samplers) s.sampler->Stop();
  }
  std::shared_ptr<Pool> FindPool(const std::string& target) const {
    for (const auto& p : pools) {
      if (p.target == target) return p.pool;
    }
    return nullptr;
  }
};

Agent::Agent(Config config)
    : config_(std::move(config)),
      registry_(std::make_shared<prometheus::Registry>()),
      book_(std::make_shared<MetricsBook>()),
      views_(std::make_shared<SnapshotCollector>()) {
  prometheus::BuildGauge()
      .Name("poolscope_build_info")
      .Help("Always 1; the labels say which poolscope build this is")
      .Register(*registry_)
      .Add({{"version", Version()}, {"revision", Revision()}})
      .Set(1);
  sampler_metrics_ = std::make_unique<SamplerMetrics>(*registry_);
  std::vector<std::shared_ptr<prometheus::Collectable>> sources{
      registry_, book_, views_, std::make_shared<ProcessCollector>()};
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
  http_->Handle("/readyz", [this](const HttpRequest&) { return Readiness(); });
  http_->Handle("/health/db", [this](const HttpRequest&) {
    return HttpResponse{200, HealthDbJson(), "application/json"};
  });
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

std::shared_ptr<Agent::Targets> Agent::BuildTargets(const Config& config, const Targets* previous) {
  auto t = std::make_shared<Targets>();
  SamplerMetrics& m = *sampler_metrics_;
  auto& canary = prometheus::BuildHistogram()
                     .Name("poolscope_canary_seconds")
                     .Help(
                         "The canary's time to acquire a connection from the embedded pool "
                         "(phase=acquire) and to run its query (phase=query)")
                     .Register(*registry_);
  for (const auto& pg : config.postgres) {
    // The pool is the target's: its name and DSN. Validated with the config,
    // so Create only fails on a config built by hand.
    PoolConfig pc = pg.pool;
    pc.name = pg.name;
    pc.dsn = pg.dsn;
    std::shared_ptr<Pool> pool = previous ? previous->FindPool(pg.name) : nullptr;
    if (pool && !(pool->config() == pc)) pool.reset();
    if (!pool) {
      auto created = Pool::Create(std::move(pc), book_);
      if (!created) {
        spdlog::error("postgres target {}: embedded pool not created: {}", pg.name,
                      created.error().message);
      } else {
        pool = std::move(*created);
      }
    }
    PgViewOptions view;
    view.target = pg.name;
    view.long_query_threshold = pg.long_query_threshold;
    view.application_labels = pg.application_labels;
    view.statements_top = pg.statements_top;
    view.sink = views_;
    auto& up = m.pg_up.Add({{"target", pg.name}});
    t->samplers.push_back(
        {"pg", pg.name,
         std::make_unique<UpSampler>(UpSamplerOptions{"pg", pg.name, pg.interval, pg.timeout},
                                     std::make_unique<PgProbe>(pg.dsn, std::move(view)), &up, m),
         &up});
    if (pool && pg.canary.enabled) {
      auto probe = std::make_unique<CanaryProbe>(
          pool, pg.canary.query,
          canary.Add({{"target", pg.name}, {"phase", "acquire"}}, CanaryBuckets()),
          canary.Add({{"target", pg.name}, {"phase", "query"}}, CanaryBuckets()));
      // A config built by hand may leave the canary's interval at zero.
      const Duration every =
          pg.canary.interval > Duration::zero() ? pg.canary.interval : pg.interval;
      const Duration timeout = std::min(pg.timeout, every);
      t->samplers.push_back({"canary", pg.name,
                             std::make_unique<UpSampler>(
                                 UpSamplerOptions{"canary", pg.name, every, timeout},
                                 std::move(probe), static_cast<prometheus::Gauge*>(nullptr), m),
                             nullptr});
    }
    if (pool) t->pools.push_back({pg.name, std::move(pool)});
  }
  for (const auto& r : config.redis) {
    auto& up = m.redis_up.Add({{"target", r.name}});
    t->samplers.push_back({"redis", r.name,
                           std::make_unique<UpSampler>(
                               UpSamplerOptions{"redis", r.name, r.interval, r.timeout},
                               std::make_unique<RedisProbe>(r.address.host, r.address.port,
                                                            RedisViewOptions{r.name, views_},
                                                            RedisAuth{r.username, r.password}),
                               &up, m),
                           &up});
  }
  for (const auto& b : config.pgbouncer) {
    auto& up = m.pgbouncer_up.Add({{"target", b.name}});
    t->samplers.push_back({"pgbouncer", b.name,
                           std::make_unique<UpSampler>(
                               UpSamplerOptions{"pgbouncer", b.name, b.interval, b.timeout},
                               std::make_unique<PgBouncerProbe>(
                                   b.dsn, PgBouncerViewOptions{b.name, b.database_labels, views_}),
                               &up, m),
                           &up});
  }
  return t;
}

Status Agent::Start() {
  if (Status s = http_->Start(HttpOptions(config_.http)); !s) {
    const bool tls = s.error().message.find("TLS") != std::string::npos ||
                     s.error().message.find("HTTPS") != std::string::npos ||
                     s.error().message.find("private key") != std::string::npos;
    return Error{s.error().code, (tls ? "http.tls: " : "http.listen: ") + s.error().message};
  }
  spdlog::info(
      "poolscope-agent {} ({}) serving {}://{}/metrics{}; watching {} postgres, {} redis and {} "
      "pgbouncer targets",
      Version(), Revision(), config_.http.tls.cert_file.empty() ? "http" : "https",
      HostPort{config_.http.listen.host, http_->port()}.ToString(),
      config_.http.basic_auth.users_file.empty() ? "" : " (basic auth)", config_.postgres.size(),
      config_.redis.size(), config_.pgbouncer.size());
  for (const auto& w : config_.warnings) spdlog::warn("{}", w);
  // Pools start connecting (and logging) only once the agent is sure to run.
  auto targets = BuildTargets(config_, nullptr);
  {
    std::lock_guard lock(targets_mu_);
    targets_ = targets;
  }
  targets->Start();
  // No BPF rights or no BTF: one warning, probe_up 0, the agent runs on.
  if (offcpu_) (void)offcpu_->Start();
  return OkStatus();
}

void Agent::Reload(Config next) {
  if (!SameHttp(next.http, config_.http)) {
    spdlog::warn("{}: the http section changed; it is read at start only, restart to apply it",
                 next.source);
    next.http = config_.http;
  }
  if (next.probes.offcpu.enabled != config_.probes.offcpu.enabled ||
      next.probes.offcpu.targets.size() != config_.probes.offcpu.targets.size()) {
    spdlog::warn("{}: the probes section changed; it is read at start only, restart to apply it",
                 next.source);
  }
  next.probes = config_.probes;
  SetupLogging(next.log.level, next.log.format);
  for (const auto& w : next.warnings) spdlog::warn("{}", w);

  std::shared_ptr<Targets> old = current() ? std::const_pointer_cast<Targets>(current()) : nullptr;
  // Stop the old samplers first (the canaries hold no lease once stopped),
  // then build the new set, keeping the pools whose settings are unchanged.
  if (old) old->Stop();
  auto fresh = BuildTargets(next, old.get());
  // Series of targets that are gone must go too.
  if (old) {
    std::set<std::pair<std::string, std::string>> kept;
    for (const auto& s : fresh->samplers) kept.insert({s.kind, s.target});
    for (auto& s : old->samplers) {
      if (kept.count({s.kind, s.target}) != 0) continue;
      s.sampler->RemoveMetrics(*sampler_metrics_);
      if (s.up != nullptr) {
        if (s.kind == "pg") sampler_metrics_->pg_up.Remove(s.up);
        if (s.kind == "redis") sampler_metrics_->redis_up.Remove(s.up);
        if (s.kind == "pgbouncer") sampler_metrics_->pgbouncer_up.Remove(s.up);
        views_->Clear(s.kind + "/" + s.target);
      }
    }
  }
  {
    std::lock_guard lock(targets_mu_);
    targets_ = fresh;
  }
  fresh->Start();
  spdlog::info("{}: configuration reloaded: {} postgres, {} redis and {} pgbouncer targets",
               next.source, next.postgres.size(), next.redis.size(), next.pgbouncer.size());
  config_ = std::move(next);
  // `old` is dropped here: pools that were not kept close once no request
  // holds them.
}

void Agent::Stop() {
  std::shared_ptr<Targets> t;
  {
    std::lock_guard lock(targets_mu_);
    t = std::move(targets_);
  }
  if (t) t->Stop();
  if (offcpu_) offcpu_->Stop();  // also ends a running /debug/offcpu
  if (http_) http_->Stop();
  // The pools close when `t` goes (their connections are returned by now).
}

std::shared_ptr<const Agent::Targets> Agent::current() const {
  std::lock_guard lock(targets_mu_);
  return targets_;
}

std::shared_ptr<Pool> Agent::pool(const std::string& target) const {
  auto t = current();
  return t ? t->FindPool(target) : nullptr;
}

std::string Agent::DebugPoolJson() const {
  auto t = current();
  std::string out = "{\"pools\":[";
  if (t) {
    for (std::size_t i = 0; i < t->pools.size(); ++i) {
      if (i > 0) out += ',';
      out += t->pools[i].pool->HoldersJson();
    }
  }
  out += "]}\n";
  return out;
}

std::string Agent::HealthDbJson() const {
  auto t = current();
  std::string out = "{\"pools\":[";
  if (t) {
    bool first = true;
    for (const auto& p : t->pools) {
      const PoolState st = p.pool->State();
      bool reachable = false;
      for (const auto& s : t->samplers) {
        if (s.kind == "pg" && s.target == p.target) reachable = s.sampler->ok();
      }
      out += fmt::format(
          "{}{{\"target\":\"{}\",\"size\":{},\"idle\":{},\"active\":{},\"waiting\":{},"
          "\"max\":{},\"min_idle\":{},\"reachable\":{}}}",
          first ? "" : ",", JsonEscape(p.target), st.open, st.idle, st.active, st.waiting,
          st.max_size, p.pool->config().min_idle, reachable ? "true" : "false");
      first = false;
    }
  }
  out += "]}\n";
  return out;
}

HttpResponse Agent::Readiness() const {
  auto t = current();
  if (!t) return HttpResponse{503, "starting\n"};
  std::string down;
  for (const auto& s : t->samplers) {
    if (s.kind == "canary" || s.sampler->ok()) continue;
    std::string why = s.sampler->last_error();
    down +=
        fmt::format("{} target {}: {}\n", s.kind, s.target, why.empty() ? "no answer yet" : why);
  }
  if (down.empty()) return HttpResponse{200, "ready\n"};
  return HttpResponse{503, "not ready:\n" + down};
}

std::uint16_t Agent::http_port() const { return http_->port(); }

}  // namespace poolscope
