// Probe: one bounded health check of one server. The boundary tests control:
// unit tests drive UpSampler with a scripted Probe, integration tests with the
// real PgProbe and RedisProbe.
//
// Thread-safety: a Probe is used by one sampler thread at a time.
#pragma once

#include <stop_token>

#include "poolscope/core/io_wait.h"
#include "poolscope/core/result.h"

namespace poolscope {

class Probe {
 public:
  virtual ~Probe() = default;

  // Check returns Ok when the server answered in time. It must return by
  // `deadline`, and soon after `stop` is requested (kCancelled).
  virtual Status Check(Clock::time_point deadline, std::stop_token stop) = 0;
};

}  // namespace poolscope
