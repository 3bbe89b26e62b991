// CatalogWorkload: the demo's product-catalog service. It reads products
// through the two-level cache (L1, Redis, then PostgreSQL through the pool)
// with a skewed id mix, and on a schedule misbehaves the way real services
// do, so every pool and cache metric has something to show:
//
// - lookups of ids that do not exist (negative caching);
// - batched lookups (one MGET, one `WHERE id = ANY($1)` for what is missing)
//   and price updates that invalidate the cached product;
// - now and then a slow report query (the slow-query timer fires mid-query);
// - now and then a handler that "forgets" its lease past leak_threshold;
// - now and then a burst of callers that exhausts the pool (waiters, then
//   acquire timeouts) for `burst_hold`.
// Incidents start in turn every `misbehave_every` and run on their own
// threads, so a long leak and a long burst can overlap.
//
//   CatalogWorkload w(options, pool, cache);
//   w.Prepare();          // creates and fills the products table
//   w.Run(stop_token);    // until stopped
//
// Thread-safety: Run() is called once; it starts and joins its own threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <stop_token>

#include "poolscope/cache/cache.h"
#include "poolscope/core/duration.h"
#include "poolscope/core/result.h"
#include "poolscope/pool/pool.h"

namespace poolscope {

struct CatalogOptions {
  int products = 100000;                                // rows in the table
  int threads = 4;                                      // steady readers
  Duration think_time = std::chrono::milliseconds(2);   // pause between a reader's lookups
  int batch_every = 10;                                 // every Nth lookup asks for 8 ids at once
  int write_every = 50;                                 // every Nth lookup updates a price
  Duration misbehave_every = std::chrono::seconds(15);  // one incident starts per period
  Duration leak_hold = std::chrono::seconds(12);        // how long a "leaked" lease is held
  Duration slow_query = std::chrono::seconds(2);        // how long the slow report runs
  Duration burst_hold = std::chrono::seconds(3);        // how long a burst keeps the pool full
};

// CatalogStats counts what the workload did.
struct CatalogStats {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> found{0};
  std::atomic<std::uint64_t> absent{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> incidents{0};
};

class CatalogWorkload {
 public:
  CatalogWorkload(CatalogOptions options, Pool& pool, ByteCache& cache);

  // Prepare creates the products table and fills it (idempotent).
  Status Prepare();

  // Run serves lookups and incidents until `stop` is requested.
  void Run(std::stop_token stop);

  // Lookup reads one product by id through the cache (nullopt: no such id).
  Result<std::optional<std::string>> Lookup(std::int64_t id);

  // LookupMany reads several products: L1, one MGET, one batched query.
  Result<std::vector<std::optional<std::string>>> LookupMany(const std::vector<std::int64_t>& ids);

  // UpdatePrice writes a product's price and invalidates its cache entry.
  Status UpdatePrice(std::int64_t id, double price);

  const CatalogStats& stats() const { return stats_; }

 private:
  void Reader(std::stop_token stop, unsigned seed);
  void Incidents(std::stop_token stop);
  void Incident(int kind, std::stop_token stop);

  const CatalogOptions options_;
  Pool& pool_;
  ByteCache& cache_;
  CatalogStats stats_;
};

}  // namespace poolscope
