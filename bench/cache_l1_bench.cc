// L1Cache figures: hit latency and hit ratio against a plain LRU.
//
//   1. Hit latency: a cache warmed with 10,000 keys (all resident, each with
//      its own 100-byte value), random Gets that all hit; the caller reads
//      the value's size. Timed in batches of 1,000 Gets (one clock read per
//      batch, so the clock's own cost vanishes); the figure is the median
//      per-Get time over all batches, at 1 and at 2 threads sharing the cache.
//      The batches come from --reps repetitions that alternate 1 and 2
//      threads; the best repetition's median is printed too, as the figure
//      for a machine that nothing else is using.
//      Each thread's key strings are laid out in request order, so reading
//      the caller's key is not itself a cache miss (a caller has just built
//      its key); the cache's own lines are as cold as random access makes them.
//   2. Hit ratio on a Zipf(0.99) stream over 100,000 keys, capacity 10,000
//      entries (10% of the key space), L1 (default 16 shards) vs LruBaseline
//      (one unsharded LRU of the same capacity). Each request is a Get and, on
//      a miss, a Put (cache-aside).
//   3. The same with scans: every 50,000 Zipf requests, a sequential scan of
//      20,000 cold keys (the same range each time, outside the Zipf key space,
//      twice the capacity) — a periodic batch job reading a table.
// Hit ratios count the requests after the first 500,000 (warm-up); scan
// requests count too (they miss for both caches). Streams use fixed seeds, so
// the ratios are deterministic.
//
//   poolscope_bench_cache_l1 [--requests 3000000] [--batches 500] [--reps 7]
//                            [--shards 16] [--doorkeeper]
//
// Prints a table to stderr, then name=value lines to stdout:
//   l1_hit_ns_p50, l1_hit_ns_p50_t2, l1_hit_ns_p50_best_rep,
//   l1_hit_ns_p50_t2_best_rep, hit_ratio_zipf, hit_ratio_lru_zipf,
//   hit_ratio_vs_lru_zipf, hit_ratio_scan, hit_ratio_lru_scan, hit_ratio_vs_lru_scan
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lru_baseline.h"
#include "poolscope/cache/l1_cache.h"

namespace {

using poolscope::L1Cache;
using poolscope::L1Options;
using poolscope::L1Result;
using poolscope::bench::LruBaseline;
using SteadyClock = std::chrono::steady_clock;

constexpr std::uint64_t kSeed = 20240611;
constexpr std::size_t kLatencyKeys = 10000;
constexpr int kBatchGets = 1000;
constexpr std::size_t kZipfKeys = 100000;
constexpr double kZipfSkew = 0.99;
constexpr std::size_t kCapacity = kZipfKeys / 10;
constexpr std::size_t kScanEvery = 50000;
constexpr std::size_t kScanLength = 20000;
constexpr std::size_t kScanFirstKey = 10000000;
constexpr std::size_t kWarmup = 500000;

struct Flags {
  std::size_t requests = 3000000;
  int batches = 500;
  int reps = 7;
  int shards = 16;
  bool doorkeeper = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "error: %s\nusage: poolscope_bench_cache_l1 [--requests N] [--batches N] "
               "[--reps N] [--shards N] [--doorkeeper]\n",
               why);
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> long {
      if (i + 1 >= argc) Usage("missing value");
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0) Usage("bad number");
      return v;
    };
    if (arg == "--requests") {
      f.requests = static_cast<std::size_t>(value());
    } else if (arg == "--batches") {
      f.batches = static_cast<int>(value());
    } else if (arg == "--reps") {
      f.reps = static_cast<int>(value());
    } else if (arg == "--shards") {
      f.shards = static_cast<int>(value());
    } else if (arg == "--doorkeeper") {
      f.doorkeeper = true;
    } else {
      Usage("unknown flag");
    }
  }
  if (f.requests <= kWarmup) Usage("--requests must exceed the 500000 warm-up requests");
  return f;
}

std::string Key(std::size_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "item:%09zu", id);
  return buf;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0
                   : v[std::min(v.size() - 1,
                                static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// --- 1. Hit latency ---------------------------------------------------------

// HitBench is a warmed cache for the hit-latency runs.
class HitBench {
 public:
  explicit HitBench(const Flags& flags) : cache_(Options(flags)) {
    for (std::size_t i = 0; i < kLatencyKeys; ++i) keys_.push_back(Key(i));
    for (const auto& k : keys_) {
      cache_.Put(k, std::make_shared<const std::string>(100, 'v'), std::chrono::hours(1));
    }
    for (const auto& k : keys_) {
      if (cache_.Get(k).result != L1Result::kHit) {
        std::fprintf(stderr, "error: latency key %s not resident\n", k.c_str());
        std::exit(1);
      }
    }
  }

  // Run has `threads` threads do `batches` timed batches of random hits each
  // and returns every batch's mean ns per Get.
  std::vector<double> Run(int threads, int batches, std::uint64_t seed) {
    std::vector<std::vector<double>> per_thread(threads);
    std::barrier start(threads);
    auto run = [&](int t) {
      std::mt19937_64 rng(seed + t);
      std::vector<std::string> requests(1 << 16);
      for (auto& r : requests) r = keys_[rng() % kLatencyKeys];
      std::size_t next = 0;
      std::size_t sink = 0;
      std::size_t misses = 0;
      std::vector<double>& out = per_thread[t];
      out.reserve(batches);
      start.arrive_and_wait();
      for (int b = 0; b < batches; ++b) {
        const auto t0 = SteadyClock::now();
        for (int i = 0; i < kBatchGets; ++i) {
          const poolscope::L1Entry e = cache_.Get(requests[next]);
          next = (next + 1) & (requests.size() - 1);
          if (e.value) {
            sink += e.value->size();
          } else {
            ++misses;
          }
        }
        const auto t1 = SteadyClock::now();
        out.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kBatchGets);
      }
      if (misses != 0 || sink == 0) {
        std::fprintf(stderr, "error: %zu misses in the hit benchmark\n", misses);
        std::exit(1);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
    run(0);
    for (auto& th : pool) th.join();

    std::vector<double> all;
    for (const auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
    return all;
  }

 private:
  static L1Options Options(const Flags& flags) {
    L1Options options;
    options.max_entries = 2 * kLatencyKeys;
    options.shards = flags.shards;
    options.doorkeeper = flags.doorkeeper;
    return options;
  }

  L1Cache cache_;
  std::vector<std::string> keys_;
};

// Latencies gathers the batches of all repetitions and each one's median.
struct Latencies {
  std::vector<double> batches;
  std::vector<double> rep_medians;

  void Add(const std::vector<double>& rep) {
    batches.insert(batches.end(), rep.begin(), rep.end());
    rep_medians.push_back(Median(rep));
  }
  double best_rep() const { return *std::min_element(rep_medians.begin(), rep_medians.end()); }
};

// --- 2, 3. Hit ratio --------------------------------------------------------

// ZipfSampler draws ranks 0..n-1 with P(k) proportional to 1 / (k + 1)^skew.
class ZipfSampler {
 public:
  ZipfSampler(std::size_t n, double skew) : cdf_(n) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), skew);
      cdf_[k] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }

  std::size_t operator()(std::mt19937_64& rng) {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<std::size_t>(it - cdf_.begin(), cdf_.size() - 1);
  }

 private:
  std::vector<double> cdf_;
};

// Stream returns the key ids of a request stream; with `scans`, a scan of
// cold keys follows every kScanEvery Zipf requests.
std::vector<std::uint32_t> Stream(std::size_t requests, bool scans) {
  ZipfSampler zipf(kZipfKeys, kZipfSkew);
  std::mt19937_64 rng(kSeed);
  std::vector<std::uint32_t> ids;
  ids.reserve(requests);
  std::size_t since_scan = 0;
  while (ids.size() < requests) {
    if (scans && since_scan == kScanEvery) {
      for (std::size_t i = 0; i < kScanLength && ids.size() < requests; ++i) {
        ids.push_back(static_cast<std::uint32_t>(kScanFirstKey + i));
      }
      since_scan = 0;
      continue;
    }
    ids.push_back(static_cast<std::uint32_t>(zipf(rng)));
    ++since_scan;
  }
  return ids;
}

struct Ratios {
  double l1 = 0;
  double lru = 0;
};

Ratios HitRatios(const Flags& flags, const std::vector<std::uint32_t>& ids, int shards) {
  L1Options options;
  options.max_entries = kCapacity;
  options.max_bytes = std::size_t{1} << 30;  // the entry bound decides
  options.shards = shards;
  options.doorkeeper = flags.doorkeeper;
  L1Cache l1(options);
  LruBaseline lru(kCapacity);
  const auto value = std::make_shared<const std::string>(100, 'v');

  std::size_t counted = 0, l1_hits = 0, lru_hits = 0;
  std::string key;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    key = Key(ids[i]);
    const bool count = i >= kWarmup;
    counted += count;
    if (l1.Get(key).result == L1Result::kHit) {
      l1_hits += count;
    } else {
      l1.Put(key, value, std::chrono::hours(1));
    }
    if (lru.Get(key)) {
      lru_hits += count;
    } else {
      lru.Put(key);
    }
  }
  const auto n = static_cast<double>(counted);
  return {static_cast<double>(l1_hits) / n, static_cast<double>(lru_hits) / n};
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::fprintf(stderr, "L1Cache benchmark: shards=%d doorkeeper=%d hw_threads=%u\n", flags.shards,
               flags.doorkeeper ? 1 : 0, std::thread::hardware_concurrency());

  // Repetitions alternate 1 and 2 threads so both see the same machine.
  HitBench hit_bench(flags);
  Latencies t1, t2;
  for (int rep = 0; rep < flags.reps; ++rep) {
    t1.Add(hit_bench.Run(1, flags.batches, kSeed + 10 * rep));
    t2.Add(hit_bench.Run(2, flags.batches, kSeed + 10 * rep + 1));
  }
  std::fprintf(stderr,
               "hit latency (ns/Get; %d reps x %d batches x %d Gets)  p10     p50     p90  "
               "best rep p50\n",
               flags.reps, flags.batches, kBatchGets);
  std::fprintf(stderr, "  1 thread                                     %7.1f %7.1f %7.1f %7.1f\n",
               Percentile(t1.batches, 0.1), Median(t1.batches), Percentile(t1.batches, 0.9),
               t1.best_rep());
  std::fprintf(stderr, "  2 threads                                    %7.1f %7.1f %7.1f %7.1f\n",
               Percentile(t2.batches, 0.1), Median(t2.batches), Percentile(t2.batches, 0.9),
               t2.best_rep());

  const Ratios zipf = HitRatios(flags, Stream(flags.requests, false), flags.shards);
  const Ratios zipf1 = HitRatios(flags, Stream(flags.requests, false), 1);
  const Ratios scan = HitRatios(flags, Stream(flags.requests, true), flags.shards);
  const Ratios scan1 = HitRatios(flags, Stream(flags.requests, true), 1);
  std::fprintf(stderr, "hit ratio (capacity %zu of %zu keys)   L1      L1(1 shard)  LRU\n",
               kCapacity, kZipfKeys);
  std::fprintf(stderr, "  zipf %.2f                        %.4f  %.4f       %.4f\n", kZipfSkew,
               zipf.l1, zipf1.l1, zipf.lru);
  std::fprintf(stderr, "  zipf + scans                     %.4f  %.4f       %.4f\n", scan.l1,
               scan1.l1, scan.lru);

  std::printf("l1_hit_ns_p50=%.1f\n", Median(t1.batches));
  std::printf("l1_hit_ns_p50_t2=%.1f\n", Median(t2.batches));
  std::printf("l1_hit_ns_p50_best_rep=%.1f\n", t1.best_rep());
  std::printf("l1_hit_ns_p50_t2_best_rep=%.1f\n", t2.best_rep());
  std::printf("hit_ratio_zipf=%.4f\n", zipf.l1);
  std::printf("hit_ratio_lru_zipf=%.4f\n", zipf.lru);
  std::printf("hit_ratio_vs_lru_zipf=%.3f\n", zipf.l1 / zipf.lru);
  std::printf("hit_ratio_scan=%.4f\n", scan.l1);
  std::printf("hit_ratio_lru_scan=%.4f\n", scan.lru);
  std::printf("hit_ratio_vs_lru_scan=%.3f\n", scan.l1 / scan.lru);
  return 0;
}
