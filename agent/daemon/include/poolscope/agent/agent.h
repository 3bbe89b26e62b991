// Agent wires the daemon together: the metrics registry, one sampler per
// configured target, and the HTTP server with /metrics and /healthz.
// poolscope-agent's main() only parses flags, loads the config and runs an
// Agent until a signal arrives; tests run an Agent in-process.
//
//   Agent agent(config);
//   if (Status s = agent.Start(); !s) { ...s.error().message... }
//   ...
//   agent.Stop();
//
// Thread-safety: Start/Stop from one owning thread. The HTTP handlers and the
// samplers run on their own threads and only touch thread-safe metrics.
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
class UpSampler;
struct SamplerMetrics;

class Agent {
 public:
  explicit Agent(Config config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Start binds the HTTP listener (failing with a clear error when it cannot)
  // and then starts every sampler. A target that is down does not fail Start.
  Status Start();

  // Stop stops the samplers and the HTTP server; returns within about 100 ms.
  void Stop();

  // http_port is the bound HTTP port (after Start).
  std::uint16_t http_port() const;

  // registry holds the agent's own and the samplers' metrics.
  prometheus::Registry& registry() { return *registry_; }

  // pools are the embedded pools, one per PostgreSQL target, in config order
  // (created by Start(); read them from the thread that called Start()).
  const std::vector<std::unique_ptr<Pool>>& pools() const { return pools_; }

  // DebugPoolJson renders every embedded pool's state and holders.
  std::string DebugPoolJson() const;

  // offcpu_probe is the off-CPU probe, or null when probes.offcpu is off.
  const std::shared_ptr<OffcpuProbe>& offcpu_probe() const { return offcpu_; }

 private:
  Config config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<MetricsBook> book_;  // pool metrics (lock-free cells)
  mutable std::mutex pools_mu_;        // guards pools_ (filled by Start)
  std::vector<std::unique_ptr<Pool>> pools_;
  std::unique_ptr<SamplerMetrics> sampler_metrics_;
  std::vector<std::unique_ptr<UpSampler>> samplers_;
  std::shared_ptr<OffcpuProbe> offcpu_;  // probes.offcpu; null when off
  std::unique_ptr<MetricsHandler> metrics_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace poolscope
