// SnapshotCollector serves metric families that a sampler builds whole, once
// per run, from what a server reports about itself (PostgreSQL's
// pg_stat_activity, Redis INFO, PgBouncer SHOW POOLS). Each sampler publishes
// its latest snapshot under its own key; a scrape returns the latest
// snapshots as they are and never waits on a server. Series that vanished
// from the server's view (an application that disconnected) vanish from the
// next snapshot, and a sampler whose server is down clears its key rather
// than serve stale figures.
//
//   FamilyBuilder f;
//   f.Gauge("poolscope_pg_max_connections", "...", {{"target", "main"}}, 100);
//   collector->Publish("pg/main", f.Take());
//
// Thread-safety: Publish, Clear and Collect are safe from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace poolscope {

// Labels are one series' label pairs, in the order they are written out.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// FamilyBuilder collects gauge and counter samples into metric families,
// one family per name (samples of the same name are appended to it).
class FamilyBuilder {
 public:
  // Gauge adds one gauge sample.
  void Gauge(const std::string& name, const std::string& help, const LabelPairs& labels,
             double value);
  // Counter adds one counter sample; `value` is the server's running total.
  void Counter(const std::string& name, const std::string& help, const LabelPairs& labels,
               double value);
  // Take returns the families built so far and starts over.
  std::vector<prometheus::MetricFamily> Take();

 private:
  prometheus::ClientMetric& Add(const std::string& name, const std::string& help,
                                prometheus::MetricType type, const LabelPairs& labels);
  std::vector<prometheus::MetricFamily> families_;
  std::map<std::string, std::size_t> index_;  // name -> position in families_
};

class SnapshotCollector : public prometheus::Collectable {
 public:
  // Publish replaces the snapshot under `key`.
  void Publish(const std::string& key, std::vector<prometheus::MetricFamily> families);
  // Clear drops the snapshot under `key`.
  void Clear(const std::string& key);
  // Collect returns every snapshot, families of one name merged.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<prometheus::MetricFamily>> snapshots_;  // guarded by mu_
};

// MergeFamilies merges families that share a name (the text format wants
// one HELP/TYPE block per name), keeping the order names first appear in.
std::vector<prometheus::MetricFamily> MergeFamilies(std::vector<prometheus::MetricFamily> in);

}  // namespace poolscope
