#include "poolscope/demo/catalog_workload.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <condition_variable>
#include <map>
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

Result<std::vector<std::optional<std::string>>> CatalogWorkload::LookupMany(
    const std::vector<std::int64_t>& ids) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (std::int64_t id : ids) keys.push_back(std::to_string(id));
  return cache_.GetMany(
      keys,
      [this](
          const std::vector<std::string>& missing) -> Result<std::map<std::string, std::string>> {
        std::vector<std::int64_t> want;
        want.reserve(missing.size());
        for (const auto& k : missing) want.push_back(std::stoll(k));
        auto lease = pool_.Acquire();
        if (!lease) return Error(lease.error().code, lease.error().message);
        auto r = lease->QueryPrepared(
            "SELECT id, name || ' ' || price FROM demo_products WHERE id = ANY($1::bigint[])",
            {Param::Array(want)});
        if (!r) return r.error();
        std::map<std::string, std::string> found;
        for (int i = 0; i < r->size(); ++i) found.emplace(r->Get(i, 0), r->Get(i, 1));
        return found;
      });
}

Status CatalogWorkload::UpdatePrice(std::int64_t id, double price) {
  auto lease = pool_.Acquire();
  if (!lease) return Error(lease.error().code, lease.error().message);
  auto r = lease->QueryPrepared(
      "UPDATE demo_products SET price = $2::numeric WHERE id = $1::bigint", {id, price});
  if (!r) return r.error();
  lease->Release();
  return cache_.Invalidate(std::to_string(id));
}

void CatalogWorkload::Reader(std::stop_token stop, unsigned seed) {
  std::mt19937 rng(seed);
  // A skewed mix: most lookups hit a few hot products; 5% ask for ids that
  // do not exist (the penetration case the negative cache absorbs).
  std::uniform_real_distribution<double> u(0, 1);
  const double n = options_.products;
  auto pick = [&]() -> std::int64_t {
    if (u(rng) < 0.05) return options_.products + 1 + static_cast<std::int64_t>(u(rng) * 1000);
    return 1 + static_cast<std::int64_t>(std::pow(u(rng), 3.0) * (n - 1));
  };
  for (std::uint64_t turn = 1; !stop.stop_requested(); ++turn) {
    if (options_.write_every > 0 && turn % options_.write_every == 0) {
      ++stats_.writes;
      if (!UpdatePrice(pick(), 1 + u(rng) * 99)) ++stats_.errors;
    } else if (options_.batch_every > 0 && turn % options_.batch_every == 0) {
      std::vector<std::int64_t> ids;
      for (int i = 0; i < 8; ++i) ids.push_back(pick());
      ++stats_.batches;
      auto r = LookupMany(ids);
      stats_.lookups += ids.size();
      if (!r) {
        ++stats_.errors;
      } else {
        for (const auto& v : *r) ++(v ? stats_.found : stats_.absent);
      }
    } else {
      auto r = Lookup(pick());
      ++stats_.lookups;
      if (!r) {
        ++stats_.errors;
      } else if (r->has_value()) {
        ++stats_.found;
      } else {
        ++stats_.absent;
      }
    }
    std::this_thread::sleep_for(options_.think_time);
  }
}

void CatalogWorkload::Incident(int kind, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  auto wait = [&](Duration d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, d, [] { return false; });
  };
  switch (kind) {
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
      wait(options_.leak_hold);
      break;
    }
    default: {
      spdlog::info("demo: a burst of slow callers exhausts the pool for {}",
                   FormatDuration(options_.burst_hold));
      const auto until = Clock::now() + options_.burst_hold;
      std::vector<std::jthread> burst;
      for (int i = 0; i < pool_.config().max_size * 3; ++i) {
        burst.emplace_back([this, until, stop] {
          while (!stop.stop_requested() && Clock::now() < until) {
            auto lease = pool_.Acquire(std::chrono::milliseconds(300));
            if (lease) (void)lease->Query("SELECT pg_sleep(0.5)");
          }
        });
      }
      break;
    }
  }
}

void CatalogWorkload::Incidents(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  struct Running {
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
    std::jthread thread;
  };
  std::vector<Running> running;  // joined when done, or when the workload stops
  for (int next = 0;; ++next) {
    {
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, stop, options_.misbehave_every, [] { return false; }) ||
          stop.stop_requested()) {
        return;
      }
    }
    ++stats_.incidents;
    std::erase_if(running, [](const Running& r) { return r.done->load(); });
    Running r;
    r.thread = std::jthread([this, kind = next % 3, stop, done = r.done] {
      Incident(kind, stop);
      done->store(true);
    });
    running.push_back(std::move(r));
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
