#include "poolscope/demo/catalog_workload.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace poolscope {

CatalogWorkload::CatalogWorkload(CatalogOptions options, Pool& pool, ByteCache& cache)
    : options_(options), pool_(pool), cache_(cache) {}

Status CatalogWorkload::Prepare() {
  auto lease = pool_.Acquire(std::chrono::seconds(10));
  if (!lease) return Error(lease.error().code, lease.error().message);
  auto r = lease->Query(
      "CREATE TABLE IF NOT EXISTS demo_products (id bigint PRIMARY KEY, name text NOT NULL, "
      "price numeric(10,2) NOT NULL)");
  if (!r) return r.error();
  r = lease->Query(
      "INSERT INTO demo_products SELECT g, 'product ' || g, (g % 997) / 10.0 "
      "FROM generate_series(1, $1::int) g ON CONFLICT DO NOTHING",
      {options_.products});
  if (!r) return r.error();
  return OkStatus();
}

Result<std::optional<std::string>> CatalogWorkload::Lookup(std::int64_t id) {
  return cache_.Get(
      std::to_string(id), [this](const std::string& key) -> Result<std::optional<std::string>> {
        auto lease = pool_.Acquire();
        if (!lease) return Error(lease.error().code, lease.error().message);
        auto r = lease->QueryPrepared(
            "SELECT name || ' ' || price FROM demo_products WHERE id = $1::bigint", {key});
        if (!r) return r.error();
        if (r->empty()) return std::optional<std::string>();
        return std::optional<std::string>(std::string(r->Get(0, 0)));
      });
}

void CatalogWorkload::Reader(std::stop_token stop, unsigned seed) {
  std::mt19937 rng(seed);
  // A skewed mix: most lookups hit a few hot products; 5% ask for ids that
  // do not exist (the penetration case the negative cache absorbs).
  std::uniform_real_distribution<double> u(0, 1);
  const double n = options_.products;
  while (!stop.stop_requested()) {
    std::int64_t id;
    if (u(rng) < 0.05) {
      id = options_.products + 1 + static_cast<std::int64_t>(u(rng) * 1000);
    } else {
      id = 1 + static_cast<std::int64_t>(std::pow(u(rng), 3.0) * (n - 1));
    }
    auto r = Lookup(id);
    ++stats_.lookups;
    if (!r) {
      ++stats_.errors;
    } else if (r->has_value()) {
      ++stats_.found;
    } else {
      ++stats_.absent;
    }
    std::this_thread::sleep_for(options_.think_time);
  }
}

void CatalogWorkload::Incidents(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  int next = 0;
  while (true) {
    {
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, stop, options_.misbehave_every, [] { return false; }) ||
          stop.stop_requested()) {
        return;
      }
    }
    ++stats_.incidents;
    switch (next++ % 3) {
      case 0: {
        spdlog::info("demo: running a slow report query");
        auto lease = pool_.Acquire();
        if (lease) {
          (void)lease->Query("SELECT pg_sleep($1::float8), count(*) FROM demo_products",
                             {std::chrono::duration<double>(options_.slow_query).count()});
        }
        break;
      }
      case 1: {
        spdlog::info("demo: a handler forgets its connection for {}",
                     FormatDuration(options_.leak_hold));
        auto lease = pool_.Acquire();
        std::unique_lock lock(mu);
        cv.wait_for(lock, stop, options_.leak_hold, [] { return false; });
        break;
      }
      default: {
        spdlog::info("demo: a burst of slow callers exhausts the pool");
        std::vector<std::jthread> burst;
        for (int i = 0; i < pool_.config().max_size * 3; ++i) {
          burst.emplace_back([this] {
            auto lease = pool_.Acquire(std::chrono::milliseconds(300));
            if (lease) (void)lease->Query("SELECT pg_sleep(0.5)");
          });
        }
        break;
      }
    }
  }
}

void CatalogWorkload::Run(std::stop_token stop) {
  std::vector<std::jthread> threads;
  for (int i = 0; i < options_.threads; ++i) {
    threads.emplace_back([this, stop, i] { Reader(stop, 1234u + static_cast<unsigned>(i)); });
  }
  threads.emplace_back([this, stop] { Incidents(stop); });
}

}  // namespace poolscope
