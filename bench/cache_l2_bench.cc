// L2 hit throughput of the two-level cache against raw hiredis GET on the
// same Redis, and the stampede check (N concurrent misses, loads counted).
//
//   poolscope_bench_cache_l2 --redis 127.0.0.1:6379 [--seconds 2] [--rounds 3]
//
// Prints tables to stderr and name=value lines last on stdout.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "poolscope/cache/cache.h"
#include "poolscope/cache/redis_l2.h"
#include "poolscope/core/host_port.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// RawHiredis counts GETs per second on one blocking connection.
double RawHiredis(const poolscope::HostPort& at, const std::string& key, double seconds) {
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout(at.host.c_str(), at.port, tv);
  if (c == nullptr || c->err != 0) {
    std::fprintf(stderr, "cannot connect to redis\n");
    std::exit(1);
  }
  std::uint64_t n = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (int i = 0; i < 100; ++i) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
      if (r == nullptr || r->type != REDIS_REPLY_STRING) std::exit(1);
      freeReplyObject(r);
      ++n;
    }
  }
  redisFree(c);
  return static_cast<double>(n) / seconds;
}

// CacheL2Hits counts ByteCache::Get per second when every lookup is an L2 hit
// (the L1 entry expires at once).
double CacheL2Hits(poolscope::ByteCache& cache, const std::string& key, double seconds) {
  std::uint64_t n = 0;
  auto never = [](const std::string&) -> poolscope::Result<std::optional<std::string>> {
    std::fprintf(stderr, "unexpected load\n");
    std::exit(1);
  };
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (int i = 0; i < 100; ++i) {
      auto r = cache.Get(key, never);
      if (!r || !r->has_value()) std::exit(1);
      ++n;
    }
  }
  return static_cast<double>(n) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string redis = "127.0.0.1:6379";
  double seconds = 2;
  int rounds = 3;
  int stampede_threads = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--redis")) redis = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::stod(argv[i + 1]);
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--stampede-threads")) stampede_threads = std::stoi(argv[i + 1]);
  }
  auto at = poolscope::ParseHostPort(redis);
  if (!at) {
    std::fprintf(stderr, "--redis: %s\n", at.error().message.c_str());
    return 2;
  }
  poolscope::RedisL2Options ro;
  ro.host = at->host;
  ro.port = at->port;
  poolscope::CacheConfig cfg;
  cfg.name = "bench";
  cfg.jitter = 0;
  cfg.l1_ttl = std::chrono::nanoseconds(1);  // every lookup goes to L2
  auto l2 = std::make_shared<poolscope::RedisL2>(ro);
  poolscope::ByteCache cache(cfg, l2);
  const std::string value(100, 'v');
  if (!cache.Put("product:1", value)) return 1;
  const std::string raw_key = "poolscope:bench:product:1";  // the same entry, read raw

  std::vector<double> raw, ours;
  for (int r = 0; r < rounds; ++r) {  // alternate so drift hits both alike
    raw.push_back(RawHiredis(*at, raw_key, seconds));
    ours.push_back(CacheL2Hits(cache, "product:1", seconds));
    std::fprintf(stderr, "round %d: raw hiredis GET %.0f/s, cache L2 hit %.0f/s\n", r + 1,
                 raw.back(), ours.back());
  }

  // Stampede: N threads miss the same key at once; the loader counts.
  poolscope::CacheConfig scfg;
  scfg.name = "bench-stampede-" + std::to_string(::getpid());
  poolscope::ByteCache stampede(scfg, l2);
  std::atomic<int> loads{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < stampede_threads; ++i) {
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      auto r = stampede.Get(
          "hot", [&](const std::string&) -> poolscope::Result<std::optional<std::string>> {
            ++loads;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return std::optional<std::string>("v");
          });
      if (!r) std::exit(1);
    });
  }
  go = true;
  for (auto& t : threads) t.join();

  const double raw_qps = Median(raw);
  const double our_qps = Median(ours);
  std::printf("l2_hits_per_second=%.0f\n", our_qps);
  std::printf("hiredis_gets_per_second=%.0f\n", raw_qps);
  std::printf("l2_ratio_vs_hiredis=%.3f\n", our_qps / raw_qps);
  std::printf("stampede_threads=%d\n", stampede_threads);
  std::printf("stampede_loads=%d\n", loads.load());
  return 0;
}
