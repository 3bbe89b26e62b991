#include "poolscope/exporters/snapshot_collector.h"

#include <unordered_map>
#include <utility>

namespace poolscope {

prometheus::ClientMetric& FamilyBuilder::Add(const std::string& name, const std::string& help,
                                             prometheus::MetricType type,
                                             const LabelPairs& labels) {
  auto [it, inserted] = index_.try_emplace(name, families_.size());
  if (inserted) families_.push_back(prometheus::MetricFamily{name, help, type, {}});
  prometheus::MetricFamily& family = families_[it->second];
  prometheus::ClientMetric& m = family.metric.emplace_back();
  m.label.reserve(labels.size());
  for (const auto& [k, v] : labels) m.label.push_back({k, v});
  return m;
}

void FamilyBuilder::Gauge(const std::string& name, const std::string& help,
                          const LabelPairs& labels, double value) {
  Add(name, help, prometheus::MetricType::Gauge, labels).gauge.value = value;
}

void FamilyBuilder::Counter(const std::string& name, const std::string& help,
                            const LabelPairs& labels, double value) {
  Add(name, help, prometheus::MetricType::Counter, labels).counter.value = value;
}

std::vector<prometheus::MetricFamily> FamilyBuilder::Take() {
  index_.clear();
  return std::exchange(families_, {});
}

void SnapshotCollector::Publish(const std::string& key,
                                std::vector<prometheus::MetricFamily> families) {
  std::lock_guard lock(mu_);
  snapshots_[key] = std::move(families);
}

void SnapshotCollector::Clear(const std::string& key) {
  std::lock_guard lock(mu_);
  snapshots_.erase(key);
}

std::vector<prometheus::MetricFamily> SnapshotCollector::Collect() const {
  std::vector<prometheus::MetricFamily> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, families] : snapshots_) {
      all.insert(all.end(), families.begin(), families.end());
    }
  }
  return MergeFamilies(std::move(all));
}

std::vector<prometheus::MetricFamily> MergeFamilies(std::vector<prometheus::MetricFamily> in) {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(in.size());
  std::unordered_map<std::string, std::size_t> at;
  for (auto& f : in) {
    auto [it, inserted] = at.try_emplace(f.name, out.size());
    if (inserted) {
      out.push_back(std::move(f));
      continue;
    }
    auto& into = out[it->second].metric;
    into.insert(into.end(), std::make_move_iterator(f.metric.begin()),
                std::make_move_iterator(f.metric.end()));
  }
  return out;
}

}  // namespace poolscope
