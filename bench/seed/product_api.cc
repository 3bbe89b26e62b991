#include "product_api.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "poolscope/cache/redis_l2.h"
#include "poolscope/pool/rows.h"

namespace poolscope::seed {
namespace {

// The columns every mode reads, in ProductJson's order.
constexpr const char* kSelectOne =
    "SELECT id, name, price, stock, description FROM seed_products WHERE id = $1";
constexpr const char* kSelectMany =
    "SELECT id, name, price, stock, description FROM seed_products WHERE id = ANY($1)";

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnCloser>;

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out->append(fmt::format("\\u{:04x}", static_cast<unsigned>(c)));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// ProductJson renders row `row` of `rows` (kSelectOne's columns).
std::string ProductJson(const Rows& rows, int row) {
  std::string out;
  out.reserve(256);
  out.append("{\"id\":");
  out.append(rows.Get(row, 0));
  out.append(",\"name\":");
  AppendJsonString(&out, rows.Get(row, 1));
  out.append(",\"price\":");
  out.append(rows.Get(row, 2));
  out.append(",\"stock\":");
  out.append(rows.Get(row, 3));
  out.append(",\"description\":");
  AppendJsonString(&out, rows.Get(row, 4));
  out.push_back('}');
  return out;
}

std::optional<std::int64_t> ParseId(std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// ParseIds reads the `ids` parameter of a query string ("ids=1,2,3").
Result<std::vector<std::int64_t>> ParseIds(std::string_view query) {
  std::string_view list;
  bool found = false;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.starts_with("ids=")) {
      list = param.substr(4);
      found = true;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (!found || list.empty()) return Error(ErrorCode::kInvalidArgument, "missing ids");
  std::vector<std::int64_t> ids;
  while (true) {
    std::size_t comma = list.find(',');
    auto id = ParseId(list.substr(0, comma));
    if (!id) return Error(ErrorCode::kInvalidArgument, "ids must be positive integers");
    ids.push_back(*id);
    if (ids.size() > kMaxIds) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("at most {} ids", kMaxIds));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return ids;
}

ApiResponse ErrorResponse(const Error& e) {
  int status = 500;
  if (e.code == ErrorCode::kInvalidArgument) status = 400;
  if (e.code == ErrorCode::kTimeout || e.code == ErrorCode::kResourceExhausted ||
      e.code == ErrorCode::kUnavailable) {
    status = 503;
  }
  // The message never holds SQL or a DSN (pool and cache errors name the
  // pool, the cache or the SQLSTATE only).
  return {status, fmt::format("{{\"error\":\"{}\"}}\n", ErrorCodeName(e.code))};
}

}  // namespace

Result<SeedMode> ParseSeedMode(std::string_view text) {
  if (text == "before") return SeedMode::kBefore;
  if (text == "after") return SeedMode::kAfter;
  if (text == "connect") return SeedMode::kConnect;
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("unknown mode \"{}\" (before, after or connect)", text));
}

const char* SeedModeName(SeedMode mode) {
  switch (mode) {
    case SeedMode::kBefore:
      return "before";
    case SeedMode::kAfter:
      return "after";
    case SeedMode::kConnect:
      return "connect";
  }
  return "?";
}

PoolConfig DefaultPoolConfig(const Dsn& dsn) {
  PoolConfig c;
  c.name = "seed_before";
  c.dsn = dsn;
  c.application_name = "poolscope-seed-before";
  return c;
}

PoolConfig TunedPoolConfig(const Dsn& dsn, int cpus) {
  PoolConfig c;
  c.name = "seed_after";
  c.dsn = dsn;
  c.application_name = "poolscope-seed-after";
  c.max_size = std::clamp(cpus * 4, 1, 1024);
  c.min_idle = std::min(32, c.max_size);
  c.acquire_timeout = std::chrono::seconds(3);
  c.max_lifetime = std::chrono::minutes(30);
  c.idle_timeout = std::chrono::minutes(10);
  c.validate_after_idle = Duration::zero();
  return c;
}

CacheConfig SeedCacheConfig() {
  CacheConfig c;
  c.name = "seed_products";
  c.l1.max_entries = 100000;
  c.l1.max_bytes = std::size_t{256} << 20;  // entries, not bytes, are the bound
  c.l1.time_to_idle = std::chrono::seconds(60);
  c.ttl = std::chrono::minutes(5);
  c.l1_ttl = std::chrono::minutes(5);
  return c;
}

ProductApi::ProductApi(ProductApiOptions options, std::shared_ptr<MetricsBook> book)
    : options_(std::move(options)), book_(std::move(book)) {
  db_queries_ = &book_->Counter("seed_db_queries_total",
                                "SELECT statements sent to PostgreSQL by the seed product API",
                                {{"mode", SeedModeName(options_.mode)}});
}

ProductApi::~ProductApi() = default;

Result<std::unique_ptr<ProductApi>> ProductApi::Create(ProductApiOptions options,
                                                       std::shared_ptr<MetricsBook> book) {
  if (!book) book = std::make_shared<MetricsBook>();
  std::unique_ptr<ProductApi> api(new ProductApi(std::move(options), std::move(book)));
  const auto& o = api->options_;
  if (o.mode == SeedMode::kConnect) return api;
  PoolConfig pc =
      o.mode == SeedMode::kBefore ? DefaultPoolConfig(o.dsn) : TunedPoolConfig(o.dsn, o.cpus);
  auto pool = Pool::Create(std::move(pc), api->book_);
  if (!pool) return pool.error();
  api->pool_ = std::move(*pool);
  if (o.mode == SeedMode::kAfter) {
    RedisL2Options ro;
    ro.host = o.redis_host;
    ro.port = o.redis_port;
    ro.pool_size = o.redis_connections;
    api->cache_ = std::make_unique<ByteCache>(SeedCacheConfig(),
                                              std::make_shared<RedisL2>(std::move(ro)), api->book_);
  }
  return api;
}

ApiResponse ProductApi::Handle(std::string_view path, std::string_view query) {
  if (path == "/products") {
    auto ids = ParseIds(query);
    if (!ids) return ErrorResponse(ids.error());
    auto found = Many(*ids);
    if (!found) return ErrorResponse(found.error());
    std::string body = "[";
    for (const Json& j : *found) {
      if (!j) continue;
      if (body.size() > 1) body.push_back(',');
      body.append(*j);
    }
    body.append("]\n");
    return {200, std::move(body)};
  }
  constexpr std::string_view kPrefix = "/products/";
  if (path.starts_with(kPrefix)) {
    auto id = ParseId(path.substr(kPrefix.size()));
    if (!id) return {400, "{\"error\":\"bad id\"}\n"};
    auto found = One(*id);
    if (!found) return ErrorResponse(found.error());
    if (!found->has_value()) return {404, "{\"error\":\"not found\"}\n"};
    return {200, **found + "\n"};
  }
  return {404, "{\"error\":\"no such resource\"}\n"};
}

Result<ProductApi::Json> ProductApi::One(std::int64_t id) {
  switch (options_.mode) {
    case SeedMode::kBefore:
      return QueryOne(id, /*prepared=*/false);
    case SeedMode::kAfter:
      return cache_->Get(std::to_string(id),
                         [&](const std::string&) { return QueryOne(id, /*prepared=*/true); });
    case SeedMode::kConnect: {
      auto v = ConnectAndQuery({id});
      if (!v) return v.error();
      return std::move(v->front());
    }
  }
  return Error(ErrorCode::kInternal, "unknown mode");
}

Result<std::vector<ProductApi::Json>> ProductApi::Many(const std::vector<std::int64_t>& ids) {
  switch (options_.mode) {
    case SeedMode::kBefore:
      return QueryEach(ids);
    case SeedMode::kAfter: {
      std::vector<std::string> keys;
      keys.reserve(ids.size());
      for (std::int64_t id : ids) keys.push_back(std::to_string(id));
      return cache_->GetMany(keys,
                             [&](const std::vector<std::string>& k) { return QueryBatch(k); });
    }
    case SeedMode::kConnect:
      return ConnectAndQuery(ids);
  }
  return Error(ErrorCode::kInternal, "unknown mode");
}

Result<ProductApi::Json> ProductApi::QueryOne(std::int64_t id, bool prepared) {
  auto lease = pool_->Acquire();
  if (!lease) return Error(lease.error().code, lease.error().message);
  db_queries_->Inc();
  auto rows = prepared ? lease->QueryPrepared(kSelectOne, {id}) : lease->Query(kSelectOne, {id});
  if (!rows) return rows.error();
  if (rows->empty()) return Json();
  return Json(ProductJson(*rows, 0));
}

Result<std::vector<ProductApi::Json>> ProductApi::QueryEach(const std::vector<std::int64_t>& ids) {
  // The seed's "before" batch: one lookup (and one pool round) per id.
  std::vector<Json> out;
  out.reserve(ids.size());
  for (std::int64_t id : ids) {
    auto one = QueryOne(id, /*prepared=*/false);
    if (!one) return one.error();
    out.push_back(std::move(*one));
  }
  return out;
}

Result<std::map<std::string, std::string>> ProductApi::QueryBatch(
    const std::vector<std::string>& keys) {
  std::vector<std::int64_t> ids;
  ids.reserve(keys.size());
  for (const auto& k : keys) {
    auto id = ParseId(k);
    if (!id) return Error(ErrorCode::kInternal, "cache key is not an id");
    ids.push_back(*id);
  }
  auto lease = pool_->Acquire();
  if (!lease) return Error(lease.error().code, lease.error().message);
  db_queries_->Inc();
  auto rows = lease->QueryPrepared(kSelectMany, {Param::Array(ids)});
  if (!rows) return rows.error();
  std::map<std::string, std::string> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.emplace(std::string(rows->Get(i, 0)), ProductJson(*rows, i));
  }
  return out;
}

Result<std::vector<ProductApi::Json>> ProductApi::ConnectAndQuery(
    const std::vector<std::int64_t>& ids) {
  PgConnPtr conn(PQconnectdb(options_.dsn.Expose().c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return Error(ErrorCode::kUnavailable, "could not connect to PostgreSQL");
  }
  std::vector<Json> out;
  out.reserve(ids.size());
  for (std::int64_t id : ids) {
    std::string text = std::to_string(id);
    const char* values[1] = {text.c_str()};
    db_queries_->Inc();
    PGresult* res = PQexecParams(conn.get(), kSelectOne, 1, nullptr, values, nullptr, nullptr, 0);
    Rows rows(res);  // owns res from here on
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      return Error(ErrorCode::kQueryFailed, "query failed",
                   PQresultErrorField(res, PG_DIAG_SQLSTATE) != nullptr
                       ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                       : "");
    }
    out.push_back(rows.empty() ? Json() : Json(ProductJson(rows, 0)));
  }
  return out;
}

}  // namespace poolscope::seed
