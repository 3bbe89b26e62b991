// ProcessCollector exports the standard process_* metrics of this process
// (CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time), read from /proc at scrape time.
//
// Thread-safety: Collect() is stateless and safe from any thread.
#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace poolscope {

class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector();
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  double start_time_seconds_;  // fixed for the life of the process
};

}  // namespace poolscope
