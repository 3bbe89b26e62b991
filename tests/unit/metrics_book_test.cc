#include "poolscope/exporters/metrics_book.h"

#include <thread>

#include <gtest/gtest.h>

namespace poolscope {
namespace {

TEST(MetricsBookTest, CellsAreRegisteredOnceAndExported) {
  MetricsBook book;
  FastCounter& a = book.Counter("t_total", "help", {{"k", "a"}});
  FastCounter& again = book.Counter("t_total", "help", {{"k", "a"}});
  EXPECT_EQ(&a, &again);
  a.Inc(3);
  book.Gauge("t_level", "help", {}).Set(-2);
  FastHistogram& h = book.Histogram("t_seconds", "help", {}, {0.001, 0.01, 0.1});
  h.ObserveSeconds(0.0005);
  h.ObserveSeconds(0.05);
  h.ObserveSeconds(5);
  int owner;
  book.GaugeFn(
      "t_fn", "help", {}, [] { return 7.0; }, &owner);
  auto families = book.Collect();
  ASSERT_EQ(families.size(), 4u);
  for (const auto& f : families) {
    if (f.name == "t_total") {
      EXPECT_EQ(f.metric[0].counter.value, 3);
    }
    if (f.name == "t_level") {
      EXPECT_EQ(f.metric[0].gauge.value, -2);
    }
    if (f.name == "t_fn") {
      EXPECT_EQ(f.metric[0].gauge.value, 7);
    }
    if (f.name == "t_seconds") {
      const auto& hist = f.metric[0].histogram;
      EXPECT_EQ(hist.sample_count, 3u);
      EXPECT_NEAR(hist.sample_sum, 5.0505, 1e-6);
      ASSERT_EQ(hist.bucket.size(), 4u);
      EXPECT_EQ(hist.bucket[0].cumulative_count, 1u);
      EXPECT_EQ(hist.bucket[1].cumulative_count, 1u);
      EXPECT_EQ(hist.bucket[2].cumulative_count, 2u);
      EXPECT_EQ(hist.bucket[3].cumulative_count, 3u);
    }
  }
  book.RemoveFns(&owner);
  EXPECT_EQ(book.Collect().size(), 3u);
}

TEST(MetricsBookTest, OnCollectHooksFoldOwnCellsInUntilRemoved) {
  MetricsBook book;
  FastHistogram& h = book.Histogram("fold_seconds", "h", {}, {0.001, 0.01});
  int owner = 0;
  int runs = 0;
  book.OnCollect(
      [&] {
        ++runs;
        const std::uint64_t counts[] = {2, 0, 1};
        h.AddCounts(counts, 3, 5'000'000);
      },
      &owner);
  auto find = [](const std::vector<prometheus::MetricFamily>& fams) {
    for (const auto& f : fams) {
      if (f.name == "fold_seconds") return f.metric.at(0).histogram;
    }
    return prometheus::ClientMetric::Histogram{};
  };
  auto hist = find(book.Collect());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(hist.sample_count, 3u);
  EXPECT_DOUBLE_EQ(hist.sample_sum, 0.005);
  ASSERT_EQ(hist.bucket.size(), 3u);
  EXPECT_EQ(hist.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(hist.bucket[1].cumulative_count, 2u);
  EXPECT_EQ(hist.bucket[2].cumulative_count, 3u);
  book.RemoveFns(&owner);
  EXPECT_EQ(find(book.Collect()).sample_count, 3u);
  EXPECT_EQ(runs, 1);
}

TEST(MetricsBookTest, ConcurrentUpdatesAreNotLost) {
  MetricsBook book;
  FastCounter& c = book.Counter("c_total", "h", {});
  FastHistogram& h = book.Histogram("h_seconds", "h", {}, {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.ObserveNanos(1000);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 80000u);
  EXPECT_EQ(h.Count(), 80000u);
}

}  // namespace
}  // namespace poolscope
