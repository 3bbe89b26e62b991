#include "poolscope/cache/cache.h"

#include <condition_variable>
#include <random>
#include <set>

#include <fmt/format.h>

#include "poolscope/core/fast_clock.h"

namespace poolscope {
namespace {

// L2 values carry a tag so that "absent" can be cached too.
constexpr char kValueTag = 'v';
constexpr char kAbsentTag = 'n';

std::string Encode(const std::optional<std::string>& v) {
  if (!v) return std::string(1, kAbsentTag);
  std::string out;
  out.reserve(v->size() + 1);
  out += kValueTag;
  out += *v;
  return out;
}

const std::vector<double>& LoadBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}

std::string InstanceId() {
  std::random_device rd;
  return fmt::format("{:016x}", (static_cast<std::uint64_t>(rd()) << 32) ^ rd());
}

}  // namespace

Status ValidateCacheConfig(const CacheConfig& c) {
  auto bad = [](const char* key, const char* why) -> Status {
    return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", key, why));
  };
  if (c.name.empty()) return bad("name", "must not be empty");
  if (c.l1.max_entries < 1) return bad("l1.max_entries", "must be at least 1");
  if (c.l1.max_bytes < 1024) return bad("l1.max_bytes", "must be at least 1024");
  if (c.l1.shards < 1 || c.l1.shards > 1024) return bad("l1.shards", "must be from 1 to 1024");
  if (c.l1.time_to_idle < std::chrono::nanoseconds::zero()) {
    return bad("l1.time_to_idle", "must not be negative");
  }
  if (c.ttl <= Duration::zero()) return bad("ttl", "must be more than 0");
  if (c.l1_ttl <= Duration::zero()) return bad("l1_ttl", "must be more than 0");
  if (c.negative_ttl <= Duration::zero()) return bad("negative_ttl", "must be more than 0");
  if (c.jitter < 0 || c.jitter > 0.9) return bad("jitter", "must be from 0 to 0.9");
  if (c.load_timeout <= Duration::zero()) return bad("load_timeout", "must be more than 0");
  return OkStatus();
}

struct ByteCache::Flight {
  std::mutex mu;  // guards done, result
  std::condition_variable cv;
  bool done = false;
  Result<std::optional<std::string>> result = std::optional<std::string>();
};

struct ByteCache::Metrics {
  FastCounter* l1_hit;
  FastCounter* l1_miss;
  FastCounter* l1_negative;
  FastCounter* l2_hit;
  FastCounter* l2_miss;
  FastCounter* l2_negative;
  FastCounter* load_ok;
  FastCounter* load_absent;
  FastCounter* load_error;
  FastHistogram* load_duration;
  FastCounter* coalesced;
  FastCounter* l2_errors;
  FastCounter* evicted[4];
  std::string instance = InstanceId();
};

ByteCache::ByteCache(CacheConfig config, std::shared_ptr<L2Store> l2,
                     std::shared_ptr<MetricsBook> book)
    : config_(std::move(config)),
      prefix_("poolscope:" + config_.name + ":"),
      book_(book ? std::move(book) : std::make_shared<MetricsBook>()),
      m_(std::make_unique<Metrics>()),
      l1_([this] {
        L1Options o = config_.l1;
        auto user = o.on_evict;
        o.on_evict = [this, user](EvictionCause cause) {
          m_->evicted[static_cast<int>(cause)]->Inc();
          if (user) user(cause);
        };
        return o;
      }()),
      l2_(std::move(l2)) {
  MetricsBook& b = *book_;
  const std::string& n = config_.name;
  const char* req = "poolscope_cache_requests_total";
  const char* req_help = "Cache lookups by level and result";
  auto r = [&](const char* level, const char* result) {
    return &b.Counter(req, req_help, {{"cache", n}, {"level", level}, {"result", result}});
  };
  m_->l1_hit = r("l1", "hit");
  m_->l1_miss = r("l1", "miss");
  m_->l1_negative = r("l1", "negative_hit");
  m_->l2_hit = r("l2", "hit");
  m_->l2_miss = r("l2", "miss");
  m_->l2_negative = r("l2", "negative_hit");
  const char* loads = "poolscope_cache_loads_total";
  const char* loads_help = "Loader calls by outcome (ok, absent, error), per key";
  m_->load_ok = &b.Counter(loads, loads_help, {{"cache", n}, {"outcome", "ok"}});
  m_->load_absent = &b.Counter(loads, loads_help, {{"cache", n}, {"outcome", "absent"}});
  m_->load_error = &b.Counter(loads, loads_help, {{"cache", n}, {"outcome", "error"}});
  m_->load_duration =
      &b.Histogram("poolscope_cache_load_duration_seconds",
                   "Time one loader call took (single or batched)", {{"cache", n}}, LoadBuckets());
  m_->coalesced =
      &b.Counter("poolscope_cache_coalesced_total",
                 "Lookups that waited for another caller's load of the same key", {{"cache", n}});
  m_->l2_errors =
      &b.Counter("poolscope_cache_l2_errors_total",
                 "Redis operations that failed or were refused by the breaker", {{"cache", n}});
  for (EvictionCause c : {EvictionCause::kSize, EvictionCause::kExpired, EvictionCause::kIdle,
                          EvictionCause::kInvalidated}) {
    m_->evicted[static_cast<int>(c)] =
        &b.Counter("poolscope_cache_evictions_total", "L1 entries removed, by cause",
                   {{"cache", n}, {"level", "l1"}, {"cause", EvictionCauseName(c)}});
  }
  b.GaugeFn(
      "poolscope_cache_entries", "Entries held now", {{"cache", n}, {"level", "l1"}},
      [this] { return static_cast<double>(l1_.entries()); }, this);
  b.GaugeFn(
      "poolscope_cache_bytes", "Bytes held now (keys, values, overhead)",
      {{"cache", n}, {"level", "l1"}}, [this] { return static_cast<double>(l1_.bytes()); }, this);
  if (l2_) {
    const std::string self = m_->instance;
    l2_->Subscribe(
        Channel(),
        [this, self](const std::string& msg) {
          // "<instance> <key>": our own messages were applied already.
          auto space = msg.find(' ');
          if (space == std::string::npos || msg.compare(0, space, self) == 0) return;
          l1_.Erase(msg.substr(space + 1));
        },
        [this] { l1_.Clear(); });
  }
}

ByteCache::~ByteCache() {
  book_->RemoveFns(this);
  l2_.reset();  // stops the subscriber before L1 goes away
}

Duration ByteCache::Jitter(Duration d) {
  if (config_.jitter <= 0) return d;
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(-config_.jitter, config_.jitter);
  return std::chrono::duration_cast<Duration>(d * (1.0 + u(rng)));
}

void ByteCache::Store(const std::string& key, const std::optional<std::string>& value, bool l2) {
  if (value) {
    l1_.Put(key, std::make_shared<const std::string>(*value), Jitter(config_.l1_ttl));
  } else {
    l1_.Put(key, nullptr, Jitter(config_.negative_ttl));
  }
  if (l2 && l2_) {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
        Jitter(value ? config_.ttl : config_.negative_ttl));
    if (!l2_->Set(L2Key(key), Encode(value), ttl)) m_->l2_errors->Inc();
  }
}

void ByteCache::Finish(const std::string& key, const Result<std::optional<std::string>>& result) {
  std::shared_ptr<Flight> f;
  {
    std::lock_guard lock(flights_mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) return;
    f = std::move(it->second);
    flights_.erase(it);
  }
  {
    std::lock_guard lock(f->mu);
    f->result = result;
    f->done = true;
  }
  f->cv.notify_all();
}

Result<std::optional<std::string>> ByteCache::Await(const std::shared_ptr<Flight>& f) {
  m_->coalesced->Inc();
  std::unique_lock lock(f->mu);
  if (!f->cv.wait_for(lock, config_.load_timeout, [&] { return f->done; })) {
    return Error(ErrorCode::kTimeout,
                 fmt::format("cache {}: another caller's load of this key took longer than "
                             "load_timeout ({})",
                             config_.name, FormatDuration(config_.load_timeout)));
  }
  return f->result;
}

void ByteCache::Lead(const std::vector<std::string>& keys, const BatchLoader& load,
                     std::vector<Result<std::optional<std::string>>>* out) {
  out->assign(keys.size(), std::optional<std::string>());
  std::vector<std::size_t> to_load;
  bool l2_ok = false;
  if (l2_) {
    std::vector<std::string> l2_keys;
    l2_keys.reserve(keys.size());
    for (const auto& k : keys) l2_keys.push_back(L2Key(k));
    auto got = l2_->MGet(l2_keys);
    if (got) {
      l2_ok = true;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto& v = (*got)[i];
        if (v && !v->empty() && (*v)[0] == kValueTag) {
          m_->l2_hit->Inc();
          (*out)[i] = std::optional<std::string>(v->substr(1));
          Store(keys[i], v->substr(1), false);
        } else if (v && *v == std::string(1, kAbsentTag)) {
          m_->l2_negative->Inc();
          Store(keys[i], std::nullopt, false);
        } else {
          m_->l2_miss->Inc();
          to_load.push_back(i);
        }
      }
    } else {
      m_->l2_errors->Inc();  // fail open: the loader answers
    }
  }
  if (!l2_ok) {
    for (std::size_t i = 0; i < keys.size(); ++i) to_load.push_back(i);
  }
  if (!to_load.empty()) {
    std::vector<std::string> load_keys;
    for (std::size_t i : to_load) load_keys.push_back(keys[i]);
    const std::int64_t t0 = FastClock::Now();
    auto loaded = load(load_keys);
    m_->load_duration->ObserveNanos(FastClock::ToNanos(FastClock::Now() - t0));
    for (std::size_t i : to_load) {
      if (!loaded) {
        m_->load_error->Inc();
        (*out)[i] = loaded.error();
        continue;
      }
      auto it = loaded->find(keys[i]);
      if (it != loaded->end()) {
        m_->load_ok->Inc();
        Store(keys[i], it->second, true);
        (*out)[i] = std::optional<std::string>(it->second);
      } else {
        m_->load_absent->Inc();
        Store(keys[i], std::nullopt, true);
      }
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) Finish(keys[i], (*out)[i]);
}

Result<std::optional<std::string>> ByteCache::Get(const std::string& key, const Loader& load) {
  L1Entry e = l1_.Get(key);
  if (e.result == L1Result::kHit) {
    m_->l1_hit->Inc();
    return std::optional<std::string>(*e.value);
  }
  if (e.result == L1Result::kNegativeHit) {
    m_->l1_negative->Inc();
    return std::optional<std::string>();
  }
  m_->l1_miss->Inc();
  std::shared_ptr<Flight> joined;
  {
    std::lock_guard lock(flights_mu_);
    auto [it, inserted] = flights_.try_emplace(key, nullptr);
    if (inserted) {
      it->second = std::make_shared<Flight>();
    } else {
      joined = it->second;
    }
  }
  if (joined) return Await(joined);
  std::vector<Result<std::optional<std::string>>> out;
  Lead(
      {key},
      [&](const std::vector<std::string>& ks) -> Result<std::map<std::string, std::string>> {
        auto v = load(ks[0]);
        if (!v) return v.error();
        std::map<std::string, std::string> m;
        if (v->has_value()) m.emplace(ks[0], std::move(**v));
        return m;
      },
      &out);
  return out[0];
}

Result<std::vector<std::optional<std::string>>> ByteCache::GetMany(
    const std::vector<std::string>& keys, const BatchLoader& load) {
  std::vector<std::optional<std::string>> out(keys.size());
  std::map<std::string, Result<std::optional<std::string>>> resolved;
  std::vector<std::string> led;
  std::vector<std::pair<std::string, std::shared_ptr<Flight>>> joined;
  std::set<std::string> seen;
  for (const auto& k : keys) {
    if (!seen.insert(k).second) continue;
    L1Entry e = l1_.Get(k);
    if (e.result == L1Result::kHit) {
      m_->l1_hit->Inc();
      resolved.emplace(k, std::optional<std::string>(*e.value));
      continue;
    }
    if (e.result == L1Result::kNegativeHit) {
      m_->l1_negative->Inc();
      resolved.emplace(k, std::optional<std::string>());
      continue;
    }
    m_->l1_miss->Inc();
    std::lock_guard lock(flights_mu_);
    auto [it, inserted] = flights_.try_emplace(k, nullptr);
    if (inserted) {
      it->second = std::make_shared<Flight>();
      led.push_back(k);
    } else {
      joined.emplace_back(k, it->second);
    }
  }
  if (!led.empty()) {
    std::vector<Result<std::optional<std::string>>> got;
    Lead(led, load, &got);
    for (std::size_t i = 0; i < led.size(); ++i) resolved.emplace(led[i], got[i]);
  }
  for (auto& [k, f] : joined) resolved.emplace(k, Await(f));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& r = resolved.at(keys[i]);
    if (!r) return r.error();
    out[i] = *r;
  }
  return out;
}

Status ByteCache::Put(const std::string& key, const std::string& value) {
  l1_.Put(key, std::make_shared<const std::string>(value), Jitter(config_.l1_ttl));
  if (!l2_) return OkStatus();
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(Jitter(config_.ttl));
  Status s = l2_->Set(L2Key(key), Encode(value), ttl);
  if (!s) {
    m_->l2_errors->Inc();
    return s;
  }
  if (Status p = l2_->Publish(Channel(), m_->instance + " " + key); !p) {
    m_->l2_errors->Inc();
    return p;
  }
  return OkStatus();
}

Status ByteCache::Invalidate(const std::string& key) {
  l1_.Erase(key);
  if (!l2_) return OkStatus();
  Status s = l2_->Del(L2Key(key));
  if (s) s = l2_->Publish(Channel(), m_->instance + " " + key);
  if (!s) m_->l2_errors->Inc();
  return s;
}

}  // namespace poolscope
