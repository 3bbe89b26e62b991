// MetricsBook: metrics for hot paths, registered once and updated with
// relaxed atomics (no lock, no lookup by name per event), exported to
// Prometheus as a prometheus::Collectable.
//
// prometheus-cpp 1.0's Histogram takes a mutex on every Observe(); the pool
// and the cache observe on every acquire, release and query, so they use
// this book instead. Register with Counter()/Gauge()/Histogram() (takes a
// lock; do it once, keep the reference), update through the returned cell.
//
//   auto book = std::make_shared<MetricsBook>();
//   FastCounter& ok = book->Counter("poolscope_pool_acquires_total", "...",
//                                   {{"pool", "main"}, {"outcome", "ok"}});
//   ok.Inc();
//   exposer.RegisterCollectable(book);   // or MetricsHandler({registry, book})
//
// Cells live as long as the book. Families with the same name must share
// help, type and (for histograms) bounds; the first registration wins.
//
// Thread-safety: everything is thread-safe; cells are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

namespace poolscope {

// kStripes is how many cache lines a hot cell is spread over: threads add to
// their own stripe (no cache-line ping-pong between cores); reads sum them.
inline constexpr int kStripes = 8;

// StripeIndex is this thread's stripe.
inline int StripeIndex() {
  static std::atomic<int> next{0};
  thread_local const int index = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return index;
}

// FastCounter is a monotonically increasing integer count.
class FastCounter {
 public:
  void Inc(std::uint64_t n = 1) {
    stripes_[StripeIndex()].v.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t Value() const {
    std::uint64_t sum = 0;
    for (const auto& s : stripes_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> v{0};
  };
  Stripe stripes_[kStripes];
};

// FastGauge is an integer level that goes up and down.
class FastGauge {
 public:
  void Add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  void Set(std::int64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::int64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// FastHistogram counts observations (in seconds, recorded as nanoseconds)
// into fixed buckets. Bounds are upper bounds in seconds, ascending.
class FastHistogram {
 public:
  explicit FastHistogram(std::vector<double> bounds_seconds);

  // ObserveNanos records one observation of `nanos` nanoseconds.
  void ObserveNanos(std::int64_t nanos) {
    std::size_t i = 0;
    while (i < bounds_ns_.size() && nanos > bounds_ns_[i]) ++i;
    Stripe& s = stripes_[StripeIndex()];
    s.counts[i].fetch_add(1, std::memory_order_relaxed);
    if (nanos > 0) s.sum_ns.fetch_add(static_cast<std::uint64_t>(nanos), std::memory_order_relaxed);
  }

  // AddCounts adds `counts[i]` observations to bucket i (i < n; bucket
  // bounds().size() is +Inf) and `sum_ns` to the sum: for owners that count
  // in their own single-writer cells and fold them in (MetricsBook::OnCollect).
  void AddCounts(const std::uint64_t* counts, std::size_t n, std::uint64_t sum_ns) {
    Stripe& s = stripes_[StripeIndex()];
    for (std::size_t i = 0; i < n && i <= bounds_.size(); ++i) {
      if (counts[i] != 0) s.counts[i].fetch_add(counts[i], std::memory_order_relaxed);
    }
    if (sum_ns != 0) s.sum_ns.fetch_add(sum_ns, std::memory_order_relaxed);
  }

  // ObserveSeconds records one observation of `seconds`.
  void ObserveSeconds(double seconds) { ObserveNanos(static_cast<std::int64_t>(seconds * 1e9)); }

  // Count returns the number of observations so far.
  std::uint64_t Count() const;

  // Fill writes the histogram into `m` (cumulative buckets, +Inf last).
  void Fill(prometheus::ClientMetric* m) const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  static constexpr std::size_t kMaxBuckets = 31;  // bounds + the +Inf bucket
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> counts[kMaxBuckets + 1] = {};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_ns_;
  std::unique_ptr<Stripe[]> stripes_;
};

class MetricsBook final : public prometheus::Collectable {
 public:
  MetricsBook() = default;
  MetricsBook(const MetricsBook&) = delete;
  MetricsBook& operator=(const MetricsBook&) = delete;

  // Counter returns the counter of family `name` with `labels`, creating it.
  FastCounter& Counter(const std::string& name, const std::string& help,
                       const prometheus::Labels& labels);
  // Gauge returns the gauge of family `name` with `labels`, creating it.
  FastGauge& Gauge(const std::string& name, const std::string& help,
                   const prometheus::Labels& labels);
  // Histogram returns the histogram of family `name` with `labels`.
  FastHistogram& Histogram(const std::string& name, const std::string& help,
                           const prometheus::Labels& labels, const std::vector<double>& bounds);
  // GaugeFn registers a gauge whose value `fn` computes at scrape time. `fn`
  // must stay callable until RemoveFns(owner) is called.
  void GaugeFn(const std::string& name, const std::string& help, const prometheus::Labels& labels,
               std::function<double()> fn, const void* owner);
  // OnCollect registers `fn`, run at the start of every Collect() with the
  // book's lock held (so it never runs after RemoveFns(owner) returns): an
  // owner that counts in cells of its own adds them to its cells here. `fn`
  // must not call into the book.
  void OnCollect(std::function<void()> fn, const void* owner);
  // RemoveFns drops every GaugeFn and OnCollect hook registered with `owner`.
  void RemoveFns(const void* owner);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Family {
    std::string help;
    prometheus::MetricType type;
    std::map<prometheus::Labels, FastCounter*> counters;
    std::map<prometheus::Labels, FastGauge*> gauges;
    std::map<prometheus::Labels, FastHistogram*> histograms;
    std::map<prometheus::Labels, std::pair<std::function<double()>, const void*>> fns;
  };
  Family& FamilyLocked(const std::string& name, const std::string& help,
                       prometheus::MetricType type);

  mutable std::mutex mu_;                   // guards families_ and the cell stores
  std::map<std::string, Family> families_;  // by name, exported in name order
  std::vector<std::pair<std::function<void()>, const void*>> hooks_;  // OnCollect
  std::deque<FastCounter> counter_store_;                             // stable addresses
  std::deque<FastGauge> gauge_store_;
  std::deque<FastHistogram> histogram_store_;
};

}  // namespace poolscope
