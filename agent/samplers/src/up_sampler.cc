#include "poolscope/samplers/up_sampler.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

namespace poolscope {

SamplerMetrics::SamplerMetrics(prometheus::Registry& registry)
    : pg_up(prometheus::BuildGauge()
                .Name("poolscope_pg_up")
                .Help("1 when the PostgreSQL target answered its last check in time, else 0")
                .Register(registry)),
      redis_up(prometheus::BuildGauge()
                   .Name("poolscope_redis_up")
                   .Help("1 when the Redis target answered its last check in time, else 0")
                   .Register(registry)),
      pgbouncer_up(prometheus::BuildGauge()
                       .Name("poolscope_pgbouncer_up")
                       .Help("1 when the PgBouncer target's admin console answered its last "
                             "check in time, else 0")
                       .Register(registry)),
      success(prometheus::BuildGauge()
                  .Name("poolscope_sampler_success")
                  .Help("1 when the sampler's last run succeeded, else 0")
                  .Register(registry)),
      duration(prometheus::BuildHistogram()
                   .Name("poolscope_sampler_duration_seconds")
                   .Help("Time one sampler run took, seconds")
                   .Register(registry)),
      errors(prometheus::BuildCounter()
                 .Name("poolscope_sampler_errors_total")
                 .Help("Sampler runs that failed (server down, refused, timed out)")
                 .Register(registry)) {}

namespace {

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

}  // namespace

UpSampler::UpSampler(UpSamplerOptions options, std::unique_ptr<Probe> probe, prometheus::Gauge* up,
                     SamplerMetrics& metrics)
    : options_(std::move(options)),
      probe_(std::move(probe)),
      up_(up),
      success_(metrics.success.Add({{"sampler", options_.sampler}, {"target", options_.target}})),
      duration_(metrics.duration.Add({{"sampler", options_.sampler}, {"target", options_.target}},
                                     DurationBuckets())),
      errors_(metrics.errors.Add({{"sampler", options_.sampler}, {"target", options_.target}})) {}

UpSampler::~UpSampler() { Stop(); }

void UpSampler::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

void UpSampler::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool UpSampler::RunOnce(std::stop_token stop) {
  const auto start = Clock::now();
  Status s = probe_->Check(start + options_.timeout, stop);
  if (!s && s.error().code == ErrorCode::kCancelled) return false;
  const auto took = Clock::now() - start;
  duration_.Observe(ToSeconds(took));
  ok_.store(static_cast<bool>(s), std::memory_order_relaxed);
  {
    std::lock_guard lock(error_mu_);
    last_error_ = s ? std::string() : s.error().message;
  }
  if (s) {
    if (up_ != nullptr) up_->Set(1);
    success_.Set(1);
    if (state_ == State::kDown) {
      spdlog::info("{} target {}: up again after {:.1f}s down", options_.sampler, options_.target,
                   ToSeconds(start - down_since_));
    } else if (state_ == State::kUnknown) {
      spdlog::info("{} target {}: up", options_.sampler, options_.target);
    }
    state_ = State::kUp;
  } else {
    if (up_ != nullptr) up_->Set(0);
    success_.Set(0);
    errors_.Increment();
    if (state_ != State::kDown) {
      spdlog::warn(
          "{} target {}: down: {} (checking again every {}; logging again when it is back)",
          options_.sampler, options_.target, s.error().message, FormatDuration(options_.interval));
      down_since_ = start;
    }
    state_ = State::kDown;
  }
  return true;
}

void UpSampler::RemoveMetrics(SamplerMetrics& metrics) {
  metrics.success.Remove(&success_);
  metrics.duration.Remove(&duration_);
  metrics.errors.Remove(&errors_);
}

std::string UpSampler::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

void UpSampler::Loop(const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  auto next = Clock::now();
  while (!stop.stop_requested()) {
    if (!RunOnce(stop)) break;
    next += options_.interval;
    const auto now = Clock::now();
    if (next < now) next = now + options_.interval;  // a slow check skips ticks, never bursts
    std::unique_lock lock(mu);
    cv.wait_until(lock, stop, next, [] { return false; });
  }
}

}  // namespace poolscope
