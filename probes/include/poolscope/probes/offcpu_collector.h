// OffcpuCollector exports an OffcpuProbe's readings in Prometheus form at
// scrape time:
//
//   poolscope_offcpu_seconds{process,thread,reason}   histogram (log2 buckets, 1 us .. 16.8 s)
//   poolscope_probe_up{probe="offcpu"}                 gauge, 1 while attached
//   poolscope_probe_events_total{probe="offcpu"}       off-CPU intervals recorded
//   poolscope_probe_dropped_total{probe="offcpu"}      intervals or stacks lost
//
//   auto probe = std::make_shared<OffcpuProbe>(options);
//   MetricsHandler handler({registry, std::make_shared<OffcpuCollector>(probe)});
//
// A scrape reads the kernel maps directly (a few hundred entries at most);
// it never waits on anything slower.
//
// Thread-safety: Collect is safe from any thread.
#pragma once

#include <memory>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace poolscope {

class OffcpuProbe;

class OffcpuCollector final : public prometheus::Collectable {
 public:
  explicit OffcpuCollector(std::shared_ptr<const OffcpuProbe> probe);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::shared_ptr<const OffcpuProbe> probe_;
};

}  // namespace poolscope
