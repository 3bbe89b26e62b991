// CanaryProbe is a PostgreSQL target's canary: it does what a service does,
// through the embedded pool - acquire a connection, run a query - and times
// both phases into `poolscope_canary_seconds{target,phase}`. Run by an
// UpSampler (sampler "canary"), so failures are counted and logged once.
//
// The acquire is bounded by the run's deadline; the query by the pool's
// statement_timeout. The query text is never logged (errors carry the
// server's message and SQLSTATE only).
//
// Thread-safety: not thread-safe; owned by one sampler thread.
#pragma once

#include <memory>
#include <string>

#include <prometheus/histogram.h>

#include "poolscope/samplers/probe.h"

namespace poolscope {

class Pool;

class CanaryProbe final : public Probe {
 public:
  CanaryProbe(std::shared_ptr<Pool> pool, std::string query, prometheus::Histogram& acquire,
              prometheus::Histogram& query_seconds);

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  std::shared_ptr<Pool> pool_;
  std::string query_;
  prometheus::Histogram& acquire_;
  prometheus::Histogram& query_seconds_;
};

}  // namespace poolscope
