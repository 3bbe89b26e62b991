#include "poolscope/exporters/metrics_book.h"

#include <cmath>
#include <limits>

namespace poolscope {

FastHistogram::FastHistogram(std::vector<double> bounds_seconds)
    : bounds_(std::move(bounds_seconds)), stripes_(new Stripe[kStripes]) {
  if (bounds_.size() > kMaxBuckets - 1) bounds_.resize(kMaxBuckets - 1);
  for (double b : bounds_) bounds_ns_.push_back(static_cast<std::int64_t>(std::llround(b * 1e9)));
}

std::uint64_t FastHistogram::Count() const {
  std::uint64_t n = 0;
  for (int s = 0; s < kStripes; ++s) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      n += stripes_[s].counts[i].load(std::memory_order_relaxed);
    }
  }
  return n;
}

void FastHistogram::Fill(prometheus::ClientMetric* m) const {
  std::uint64_t cumulative = 0;
  std::uint64_t sum_ns = 0;
  m->histogram.bucket.clear();
  for (int s = 0; s < kStripes; ++s) sum_ns += stripes_[s].sum_ns.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    for (int s = 0; s < kStripes; ++s) {
      cumulative += stripes_[s].counts[i].load(std::memory_order_relaxed);
    }
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    m->histogram.bucket.push_back(b);
  }
  m->histogram.sample_count = cumulative;
  m->histogram.sample_sum = static_cast<double>(sum_ns) * 1e-9;
}

MetricsBook::Family& MetricsBook::FamilyLocked(const std::string& name, const std::string& help,
                                               prometheus::MetricType type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.help = help;
    it->second.type = type;
  }
  return it->second;
}

FastCounter& MetricsBook::Counter(const std::string& name, const std::string& help,
                                  const prometheus::Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = FamilyLocked(name, help, prometheus::MetricType::Counter);
  auto& cell = f.counters[labels];
  if (cell == nullptr) cell = &counter_store_.emplace_back();
  return *cell;
}

FastGauge& MetricsBook::Gauge(const std::string& name, const std::string& help,
                              const prometheus::Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = FamilyLocked(name, help, prometheus::MetricType::Gauge);
  auto& cell = f.gauges[labels];
  if (cell == nullptr) cell = &gauge_store_.emplace_back();
  return *cell;
}

FastHistogram& MetricsBook::Histogram(const std::string& name, const std::string& help,
                                      const prometheus::Labels& labels,
                                      const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& f = FamilyLocked(name, help, prometheus::MetricType::Histogram);
  auto& cell = f.histograms[labels];
  if (cell == nullptr) {
    // One family, one set of buckets: later registrations reuse the first's.
    const std::vector<double>* b = &bounds;
    for (const auto& [other_labels, other] : f.histograms) {
      if (other != nullptr) b = &other->bounds();
    }
    cell = &histogram_store_.emplace_back(*b);
  }
  return *cell;
}

void MetricsBook::GaugeFn(const std::string& name, const std::string& help,
                          const prometheus::Labels& labels, std::function<double()> fn,
                          const void* owner) {
  std::lock_guard lock(mu_);
  auto& f = FamilyLocked(name, help, prometheus::MetricType::Gauge);
  f.fns[labels] = {std::move(fn), owner};
}

void MetricsBook::OnCollect(std::function<void()> fn, const void* owner) {
  std::lock_guard lock(mu_);
  hooks_.emplace_back(std::move(fn), owner);
}

void MetricsBook::RemoveFns(const void* owner) {
  std::lock_guard lock(mu_);
  std::erase_if(hooks_, [owner](const auto& h) { return h.second == owner; });
  for (auto& [name, f] : families_) {
    std::erase_if(f.fns, [owner](const auto& kv) { return kv.second.second == owner; });
  }
}

std::vector<prometheus::MetricFamily> MetricsBook::Collect() const {
  std::lock_guard lock(mu_);
  for (const auto& hook : hooks_) hook.first();
  std::vector<prometheus::MetricFamily> out;
  auto labels_of = [](const prometheus::Labels& labels) {
    std::vector<prometheus::ClientMetric::Label> v;
    for (const auto& [k, val] : labels) v.push_back({k, val});
    return v;
  };
  for (const auto& [name, f] : families_) {
    prometheus::MetricFamily mf{name, f.help, f.type, {}};
    for (const auto& [labels, c] : f.counters) {
      prometheus::ClientMetric m;
      m.label = labels_of(labels);
      m.counter.value = static_cast<double>(c->Value());
      mf.metric.push_back(std::move(m));
    }
    for (const auto& [labels, g] : f.gauges) {
      prometheus::ClientMetric m;
      m.label = labels_of(labels);
      m.gauge.value = static_cast<double>(g->Value());
      mf.metric.push_back(std::move(m));
    }
    for (const auto& [labels, fn] : f.fns) {
      prometheus::ClientMetric m;
      m.label = labels_of(labels);
      m.gauge.value = fn.first();
      mf.metric.push_back(std::move(m));
    }
    for (const auto& [labels, h] : f.histograms) {
      prometheus::ClientMetric m;
      m.label = labels_of(labels);
      h->Fill(&m);
      mf.metric.push_back(std::move(m));
    }
    if (!mf.metric.empty()) out.push_back(std::move(mf));
  }
  return out;
}

}  // namespace poolscope
