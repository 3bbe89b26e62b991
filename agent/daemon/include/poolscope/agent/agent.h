// Agent wires the daemon together: the metrics registry; per configured
// target an embedded pool, a canary and a sampler (PostgreSQL server view,
// Redis INFO, PgBouncer SHOW POOLS/STATS), each on its own thread with a hard
// timeout; the off-CPU probe; and the HTTP server (/metrics, /healthz,
// /readyz, /health/db, debug pages). A scrape only reads what the samplers
// last published and never waits on a server.
//
// poolscope-agent's main() only parses flags, loads the config and runs an
// Agent until a signal arrives (SIGHUP: Reload); tests run one in-process.
//
//   Agent agent(config);
//   if (Status s = agent.Start(); !s) { ...s.error().message... }
//   agent.Reload(new_config);   // targets, pools, samplers, log level
//   agent.Stop();
//
// Thread-safety: Start, Reload and Stop from one owning thread. The HTTP
// handlers and the samplers run on their own threads; they read the current
// target set through a snapshot, so a reload never pulls a pool from under
// a request.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/registry.h>

#include "poolscope/config/config.h"
#include "poolscope/core/result.h"

namespace poolscope {

class HttpServer;
class MetricsBook;
class MetricsHandler;
class OffcpuProbe;
class Pool;
class SnapshotCollector;
class UpSampler;
struct SamplerMetrics;
struct HttpResponse;

class Agent {
 public:
  explicit Agent(Config config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Start binds the HTTP listener (failing with a clear error when it cannot)
  // and then starts every pool, canary and sampler. A target that is down
  // does not fail Start.
  Status Start();

  // Reload applies `next`: targets added, removed or changed, the log level
  // and format. Pools whose settings did not change are kept (with their
  // connections and leases). The `http` and `probes` sections are read at
  // start only: a change there is logged and ignored until a restart.
  void Reload(Config next);

  // Stop stops the samplers, the canaries, the probe and the HTTP server, and
  // closes the pools; returns within about a second.
  void Stop();

  // http_port is the bound HTTP port (after Start).
  std::uint16_t http_port() const;

  // registry holds the agent's own and the samplers' metrics.
  prometheus::Registry& registry() { return *registry_; }

  // pool returns the embedded pool of PostgreSQL target `target`, or null.
  std::shared_ptr<Pool> pool(const std::string& target) const;

  // DebugPoolJson renders every embedded pool's state and holders.
  std::string DebugPoolJson() const;

  // HealthDbJson renders each embedded pool's size, idle, active, waiting and
  // max, with its target's reachability (/health/db).
  std::string HealthDbJson() const;

  // Readiness is /readyz: 200 when every target answered its last check,
  // else 503 naming the ones that did not.
  HttpResponse Readiness() const;

  // offcpu_probe is the off-CPU probe, or null when probes.offcpu is off.
  const std::shared_ptr<OffcpuProbe>& offcpu_probe() const { return offcpu_; }

 private:
  struct Targets;

  std::shared_ptr<Targets> BuildTargets(const Config& config, const Targets* previous);
  std::shared_ptr<const Targets> current() const;

  Config config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<MetricsBook> book_;         // pool metrics (lock-free cells)
  std::shared_ptr<SnapshotCollector> views_;  // server views the samplers publish
  std::unique_ptr<SamplerMetrics> sampler_metrics_;
  mutable std::mutex targets_mu_;        // guards targets_
  std::shared_ptr<Targets> targets_;     // null before Start
  std::shared_ptr<OffcpuProbe> offcpu_;  // probes.offcpu; null when off
  std::unique_ptr<MetricsHandler> metrics_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace poolscope
