// ProductApi: the handler code of the seed's product-lookup API (the first
// case study in ../shared/seeds/: 5,000 -> 22,000 req/s, P99 450 -> 65 ms),
// reproduced over PostgreSQL for `scripts/bench.sh seed`. The same handler
// runs in three modes, so the only difference between them is how a product
// is fetched:
//
//   before   the seed's starting point: a poolscope::Pool left at its
//            default settings, one-off (unprepared) queries, no cache, and a
//            multi-id request looked up one id at a time;
//   after    the seed's fixes: the pool tuned as the seed tunes it
//            (TunedPoolConfig), prepared statements, the two-level cache
//            (poolscope::ByteCache, Redis L2) with the seed's moka settings,
//            and one `WHERE id = ANY($1)` query for a multi-id request;
//   connect  a new libpq connection per request (for scale).
//
// Requests (GET):
//   /products/<id>          one product as a JSON object, 404 if there is none
//   /products?ids=1,2,3     a JSON array of the products that exist, in order
//                           (at most kMaxIds ids)
//
//   auto api = ProductApi::Create(options, book);
//   ApiResponse r = (*api)->Handle("/products/42", "");
//
// Thread-safety: Handle is thread-safe (called from every HTTP worker).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "poolscope/cache/cache.h"
#include "poolscope/core/dsn.h"
#include "poolscope/core/result.h"
#include "poolscope/exporters/metrics_book.h"
#include "poolscope/pool/pool.h"
#include "poolscope/pool/pool_config.h"

namespace poolscope::seed {

// SeedMode selects how products are fetched (see the file comment).
enum class SeedMode { kBefore, kAfter, kConnect };

// ParseSeedMode reads "before", "after" or "connect".
Result<SeedMode> ParseSeedMode(std::string_view text);
const char* SeedModeName(SeedMode mode);

struct ProductApiOptions {
  SeedMode mode = SeedMode::kBefore;
  Dsn dsn;                               // PostgreSQL holding seed_products
  std::string redis_host = "127.0.0.1";  // L2 (after mode only)
  std::uint16_t redis_port = 6379;
  int redis_connections = 8;  // RedisL2 pool size (after mode only)
  int cpus = 2;               // for the seed's max_connections = CPUs * 4
};

// kMaxIds bounds the ids of one multi-id request.
inline constexpr std::size_t kMaxIds = 100;

struct ApiResponse {
  int status = 200;
  std::string body;
};

// DefaultPoolConfig is the "before" pool: every knob at poolscope's default.
PoolConfig DefaultPoolConfig(const Dsn& dsn);
// TunedPoolConfig maps the seed's PgPoolOptions onto PoolConfig:
// max_connections(CPUs * 4), min_connections(32) (capped at the maximum),
// acquire_timeout(3 s), max_lifetime(30 min), idle_timeout(10 min),
// test_before_acquire(true) (validate_after_idle = 0: ping on every acquire).
PoolConfig TunedPoolConfig(const Dsn& dsn, int cpus);
// SeedCacheConfig maps the seed's moka cache onto CacheConfig:
// max_capacity(100,000), time_to_live(5 min), time_to_idle(60 s).
CacheConfig SeedCacheConfig();

class ProductApi {
 public:
  // Create builds the mode's pool (and cache); it does not wait for the
  // server. `book` receives the pool and cache metrics and
  // seed_db_queries_total{mode}.
  static Result<std::unique_ptr<ProductApi>> Create(ProductApiOptions options,
                                                    std::shared_ptr<MetricsBook> book);
  ~ProductApi();
  ProductApi(const ProductApi&) = delete;
  ProductApi& operator=(const ProductApi&) = delete;

  // Handle answers one GET request (`path` without the query string).
  ApiResponse Handle(std::string_view path, std::string_view query);

  // pool is the mode's pool (null in connect mode).
  Pool* pool() const { return pool_.get(); }

 private:
  ProductApi(ProductApiOptions options, std::shared_ptr<MetricsBook> book);

  using Json = std::optional<std::string>;  // nullopt: no such product
  Result<Json> One(std::int64_t id);
  Result<std::vector<Json>> Many(const std::vector<std::int64_t>& ids);

  // Database reads of each mode.
  Result<Json> QueryOne(std::int64_t id, bool prepared);
  Result<std::vector<Json>> QueryEach(const std::vector<std::int64_t>& ids);
  Result<std::map<std::string, std::string>> QueryBatch(const std::vector<std::string>& keys);
  Result<std::vector<Json>> ConnectAndQuery(const std::vector<std::int64_t>& ids);

  const ProductApiOptions options_;
  std::shared_ptr<MetricsBook> book_;
  FastCounter* db_queries_ = nullptr;  // owned by book_
  std::unique_ptr<Pool> pool_;         // before, after
  std::unique_ptr<ByteCache> cache_;   // after
};

}  // namespace poolscope::seed
