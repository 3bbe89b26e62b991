// Cache: the two-level cache (in-process L1, Redis L2, a loader behind them,
// typically a query through the pool), with the seed's protections:
//
// - penetration: a key the loader reports absent is cached as "absent" at
//   both levels for negative_ttl, so repeated misses never reach the database;
// - avalanche: every TTL gets random jitter (default ±20%), so keys written
//   together do not expire together;
// - stampede: concurrent misses on one key cause exactly one load; the other
//   callers wait for it, bounded by load_timeout;
// - coherence: Invalidate() removes the key from both levels and publishes it
//   on a Redis channel; every cache instance with the same name drops its L1
//   copy when the message arrives;
// - fail open: with Redis down or slow, reads go on through L1 and the loader,
//   L2 errors are counted, and the L2 circuit breaker stops the hammering.
//
//   ByteCache products(config, std::make_shared<RedisL2>(redis_options), book);
//   auto v = products.Get("42", [&](const std::string& id) -> Result<std::optional<std::string>> {
//     return LoadProductFromPostgres(id);          // nullopt: no such product
//   });
//
// TypedCache<K, V> adds key and value codecs on top.
//
// Thread-safety: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "poolscope/cache/l1_cache.h"
#include "poolscope/cache/l2_store.h"
#include "poolscope/core/duration.h"
#include "poolscope/core/result.h"
#include "poolscope/exporters/metrics_book.h"

namespace poolscope {

struct CacheConfig {
  std::string name = "default";                      // the `cache` label; Redis key namespace
  L1Options l1;                                      // entries, bytes, shards, idle, clock
  Duration ttl = std::chrono::minutes(5);            // L2 time-to-live of a value
  Duration l1_ttl = std::chrono::minutes(1);         // L1 time-to-live (at most ttl)
  Duration negative_ttl = std::chrono::seconds(30);  // both levels, for "absent"
  double jitter = 0.2;                               // ± fraction of every TTL
  Duration load_timeout = std::chrono::seconds(5);   // how long coalesced callers wait
};

// ValidateCacheConfig names the first bad knob, as its YAML key.
Status ValidateCacheConfig(const CacheConfig& config);

class ByteCache {
 public:
  // Loader returns the value, nullopt when the key does not exist, or an error.
  using Loader = std::function<Result<std::optional<std::string>>(const std::string& key)>;
  // BatchLoader returns the values of the keys that exist (absent keys are
  // left out of the map), or an error.
  using BatchLoader =
      std::function<Result<std::map<std::string, std::string>>(const std::vector<std::string>&)>;

  // `l2` may be null (L1 only). `book` receives the metrics (null: own book).
  ByteCache(CacheConfig config, std::shared_ptr<L2Store> l2,
            std::shared_ptr<MetricsBook> book = nullptr);
  ~ByteCache();
  ByteCache(const ByteCache&) = delete;
  ByteCache& operator=(const ByteCache&) = delete;

  // Get returns the value of `key` (nullopt: it does not exist).
  Result<std::optional<std::string>> Get(const std::string& key, const Loader& load);

  // GetMany returns one entry per key: L1 first, one MGET for the rest, one
  // batched load for what L2 lacks.
  Result<std::vector<std::optional<std::string>>> GetMany(const std::vector<std::string>& keys,
                                                          const BatchLoader& load);

  // Put stores `value` at both levels.
  Status Put(const std::string& key, const std::string& value);

  // Invalidate removes `key` from both levels and tells the other instances.
  Status Invalidate(const std::string& key);

  const CacheConfig& config() const { return config_; }
  const std::shared_ptr<MetricsBook>& metrics() const { return book_; }
  // l1 exposes the local level (tests, debugging).
  L1Cache& l1() { return l1_; }

 private:
  struct Flight;
  struct Metrics;
  // Lead loads `keys` (which this call leads) through L2 then the loader.
  void Lead(const std::vector<std::string>& keys, const BatchLoader& load,
            std::vector<Result<std::optional<std::string>>>* out);
  void Finish(const std::string& key, const Result<std::optional<std::string>>& result);
  Result<std::optional<std::string>> Await(const std::shared_ptr<Flight>& flight);
  void Store(const std::string& key, const std::optional<std::string>& value, bool l2);
  Duration Jitter(Duration d);
  std::string L2Key(const std::string& key) const { return prefix_ + key; }
  std::string Channel() const { return "poolscope:invalidate:" + config_.name; }

  const CacheConfig config_;
  const std::string prefix_;
  std::shared_ptr<MetricsBook> book_;
  std::unique_ptr<Metrics> m_;
  L1Cache l1_;
  std::shared_ptr<L2Store> l2_;
  std::mutex flights_mu_;  // guards flights_
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

// Codec<T> turns values into bytes and back; specialise it for your types.
template <typename T>
struct Codec;

template <>
struct Codec<std::string> {
  static std::string Encode(const std::string& v) { return v; }
  static std::optional<std::string> Decode(const std::string& b) { return b; }
};

template <>
struct Codec<std::int64_t> {
  static std::string Encode(std::int64_t v) { return std::to_string(v); }
  static std::optional<std::int64_t> Decode(const std::string& b) {
    try {
      std::size_t used = 0;
      std::int64_t v = std::stoll(b, &used);
      if (used == b.size()) return v;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  }
};

// TypedCache is a ByteCache with typed keys and values.
template <typename K, typename V>
class TypedCache {
 public:
  using Loader = std::function<Result<std::optional<V>>(const K&)>;

  TypedCache(CacheConfig config, std::shared_ptr<L2Store> l2,
             std::shared_ptr<MetricsBook> book = nullptr)
      : bytes_(std::move(config), std::move(l2), std::move(book)) {}

  // Get returns the value of `key`, nullopt when it does not exist. A stored
  // value that does not decode is reported as an error, never as a value.
  Result<std::optional<V>> Get(const K& key, const Loader& load) {
    auto r = bytes_.Get(Codec<K>::Encode(key),
                        [&](const std::string&) -> Result<std::optional<std::string>> {
                          auto v = load(key);
                          if (!v) return v.error();
                          if (!v->has_value()) return std::optional<std::string>();
                          return std::optional<std::string>(Codec<V>::Encode(**v));
                        });
    if (!r) return r.error();
    if (!r->has_value()) return std::optional<V>();
    auto v = Codec<V>::Decode(**r);
    if (!v) return Error(ErrorCode::kInternal, "cached value does not decode");
    return std::optional<V>(std::move(*v));
  }

  Status Put(const K& key, const V& value) {
    return bytes_.Put(Codec<K>::Encode(key), Codec<V>::Encode(value));
  }
  Status Invalidate(const K& key) { return bytes_.Invalidate(Codec<K>::Encode(key)); }
  ByteCache& bytes() { return bytes_; }

 private:
  ByteCache bytes_;
};

}  // namespace poolscope
