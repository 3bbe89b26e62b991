#include "canary_probe.h"

#include <fmt/format.h>

#include "poolscope/core/duration.h"
#include "poolscope/pool/pool.h"

namespace poolscope {

CanaryProbe::CanaryProbe(std::shared_ptr<Pool> pool, std::string query,
                         prometheus::Histogram& acquire, prometheus::Histogram& query_seconds)
    : pool_(std::move(pool)),
      query_(std::move(query)),
      acquire_(acquire),
      query_seconds_(query_seconds) {}

Status CanaryProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  if (stop.stop_requested()) return Error{ErrorCode::kCancelled, "stopping"};
  const auto start = Clock::now();
  auto lease = pool_->AcquireUntil(deadline);
  acquire_.Observe(ToSeconds(Clock::now() - start));
  if (!lease) {
    return Error{lease.error().code, fmt::format("acquire: {}", lease.error().message)};
  }
  const auto query_start = Clock::now();
  auto rows = lease->Query(query_);
  query_seconds_.Observe(ToSeconds(Clock::now() - query_start));
  if (!rows) return Error{rows.error().code, fmt::format("query: {}", rows.error().message)};
  return OkStatus();
}

}  // namespace poolscope
