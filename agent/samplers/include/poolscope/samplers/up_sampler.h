// UpSampler runs a Probe every interval on its own thread and publishes the
// outcome: `<kind>_up{target}` (1/0), `poolscope_sampler_success{sampler,target}`,
// `poolscope_sampler_duration_seconds{sampler,target}` and
// `poolscope_sampler_errors_total{sampler,target}`. A scrape only reads these
// gauges; it never waits on the server.
//
// A target going down is logged once at warn, and once at info when it is
// back; nothing is logged at every interval.
//
//   SamplerMetrics metrics(registry);
//   UpSampler s({"pg", "main", 5s, 3s}, std::make_unique<PgProbe>(dsn),
//               metrics.pg_up.Add({{"target", "main"}}), metrics);
//   s.Start();   // ... s.Stop() joins within about 50 ms
//
// Thread-safety: Start/Stop from one owning thread; metrics are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "poolscope/core/duration.h"
#include "poolscope/samplers/probe.h"

namespace poolscope {

// SamplerMetrics registers the sampler families once; samplers keep
// references to their own children.
struct SamplerMetrics {
  explicit SamplerMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Gauge>& pg_up;
  prometheus::Family<prometheus::Gauge>& redis_up;
  prometheus::Family<prometheus::Gauge>& pgbouncer_up;
  prometheus::Family<prometheus::Gauge>& success;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Counter>& errors;
};

struct UpSamplerOptions {
  std::string sampler;  // e.g. "pg_up"; the `sampler` label and the log prefix
  std::string target;   // the target's configured name
  Duration interval;
  Duration timeout;
};

class UpSampler {
 public:
  // `up` is the target's up gauge; it stays owned by the registry.
  UpSampler(UpSamplerOptions options, std::unique_ptr<Probe> probe, prometheus::Gauge& up,
            SamplerMetrics& metrics)
      : UpSampler(std::move(options), std::move(probe), &up, metrics) {}
  // `up` may be null: a sampler without an up gauge of its own (the canary).
  UpSampler(UpSamplerOptions options, std::unique_ptr<Probe> probe, prometheus::Gauge* up,
            SamplerMetrics& metrics);
  ~UpSampler();
  UpSampler(const UpSampler&) = delete;
  UpSampler& operator=(const UpSampler&) = delete;

  // Start begins checking at once, then every interval.
  void Start();
  // Stop asks the thread to finish and joins it; an in-flight check is abandoned.
  void Stop();
  // request_stop asks the thread to finish without waiting (Stop joins), so
  // many samplers can be stopped together.
  void request_stop() { thread_.request_stop(); }

  // RemoveMetrics drops this sampler's success, duration and error series
  // (its target is gone). Call after Stop.
  void RemoveMetrics(SamplerMetrics& metrics);

  // RunOnce runs one check on the calling thread and publishes it. Returns
  // false when the check was abandoned because `stop` was requested.
  bool RunOnce(std::stop_token stop);

  // ok says whether the last run succeeded (false before the first).
  bool ok() const { return ok_.load(std::memory_order_relaxed); }
  // last_error is the last failed run's message ("" after a success).
  std::string last_error() const;

  const UpSamplerOptions& options() const { return options_; }

 private:
  void Loop(const std::stop_token& stop);

  UpSamplerOptions options_;
  std::unique_ptr<Probe> probe_;
  prometheus::Gauge* up_;  // null: no up gauge
  prometheus::Gauge& success_;
  prometheus::Histogram& duration_;
  prometheus::Counter& errors_;
  enum class State { kUnknown, kUp, kDown } state_ = State::kUnknown;  // sampler thread only
  Clock::time_point down_since_{};
  std::atomic<bool> ok_{false};
  mutable std::mutex error_mu_;
  std::string last_error_;  // guarded by error_mu_
  std::jthread thread_;
};

}  // namespace poolscope
