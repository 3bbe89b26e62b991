#include "poolscope/probes/offcpu_collector.h"

#include <limits>

#include "poolscope/probes/offcpu_model.h"
#include "poolscope/probes/offcpu_probe.h"

namespace poolscope {

OffcpuCollector::OffcpuCollector(std::shared_ptr<const OffcpuProbe> probe)
    : probe_(std::move(probe)) {}

std::vector<prometheus::MetricFamily> OffcpuCollector::Collect() const {
  const std::vector<OffcpuSeries> series = probe_->Histograms();
  const OffcpuDrops drops = probe_->Drops();
  const bool up = probe_->up();

  prometheus::MetricFamily hist{"poolscope_offcpu_seconds",
                                "Off-CPU intervals of the watched processes' threads, by why "
                                "they left the CPU; _sum is the total time off CPU",
                                prometheus::MetricType::Histogram,
                                {}};
  const auto& bounds = OffcpuBucketBounds();
  std::uint64_t events = 0;
  for (const auto& s : series) {
    prometheus::ClientMetric m;
    m.label = {{"process", s.process}, {"thread", s.thread}, {"reason", s.reason}};
    std::uint64_t cumulative = 0;
    for (int b = 0; b < kOffcpuBuckets; ++b) {
      cumulative += s.buckets[b];
      prometheus::ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound =
          b < kOffcpuFiniteBuckets ? bounds[b] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(bucket);
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(s.sum_ns) * 1e-9;
    events += cumulative;
    hist.metric.push_back(std::move(m));
  }

  const prometheus::ClientMetric::Label probe_label{"probe", "offcpu"};
  prometheus::MetricFamily up_family{"poolscope_probe_up",
                                     "1 while the eBPF probe is loaded and attached",
                                     prometheus::MetricType::Gauge,
                                     {}};
  up_family.metric.emplace_back();
  up_family.metric.back().label = {probe_label};
  up_family.metric.back().gauge.value = up ? 1 : 0;

  prometheus::MetricFamily events_family{"poolscope_probe_events_total",
                                         "Events the eBPF probe recorded (off-CPU intervals)",
                                         prometheus::MetricType::Counter,
                                         {}};
  events_family.metric.emplace_back();
  events_family.metric.back().label = {probe_label};
  events_family.metric.back().counter.value = static_cast<double>(events);

  prometheus::MetricFamily dropped_family{
      "poolscope_probe_dropped_total",
      "Events the eBPF probe could not record (a full map, a lost stack)",
      prometheus::MetricType::Counter,
      {}};
  dropped_family.metric.emplace_back();
  dropped_family.metric.back().label = {probe_label};
  dropped_family.metric.back().counter.value = static_cast<double>(drops.Total());

  std::vector<prometheus::MetricFamily> out;
  out.push_back(std::move(hist));
  out.push_back(std::move(dropped_family));
  out.push_back(std::move(events_family));
  out.push_back(std::move(up_family));
  return out;
}

}  // namespace poolscope
