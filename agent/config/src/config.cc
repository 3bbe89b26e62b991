#include "poolscope/config/config.h"

#include "poolscope/exporters/http_server.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace poolscope {
namespace {

// Invalid is thrown inside this file only, to unwind the walk over the tree;
// LoadConfig turns it into an Error value.
struct Invalid {
  std::string message;
};

// OneLine escapes control bytes (a key or value quoted from the file may hold
// a line break), so that an error message stays one log line.
std::string OneLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// Walker validates one YAML document and knows where each node came from.
class Walker {
 public:
  explicit Walker(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& key,
                         const std::string& what) const {
    const YAML::Mark m = node.Mark();
    if (m.line >= 0) {
      throw Invalid{fmt::format("{}:{}:{}: {}: {}", source_, m.line + 1, m.column + 1, key, what)};
    }
    throw Invalid{fmt::format("{}: {}: {}", source_, key, what)};
  }

  static const char* KindName(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map:
        return "a map";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Scalar:
        return "a scalar";
      case YAML::NodeType::Null:
        return "nothing";
      default:
        return "an undefined value";
    }
  }

  // Keys checks that `node` is a map holding only `allowed` keys.
  void Keys(const YAML::Node& node, const std::string& key, const std::set<std::string>& allowed) {
    if (!node.IsMap()) Fail(node, key, fmt::format("expected a map, got {}", KindName(node)));
    for (const auto& kv : node) {
      const std::string name = kv.first.Scalar();
      if (allowed.count(name) == 0) {
        std::string known;
        for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
        Fail(kv.first, Join(key, name), fmt::format("unknown key (known keys here: {})", known));
      }
    }
  }

  std::string String(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) Fail(node, key, fmt::format("expected a string, got {}", KindName(node)));
    return node.Scalar();
  }

  Duration Dur(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    auto d = ParseDuration(text);
    if (!d) {
      Fail(
          node, key,
          fmt::format("bad duration \"{}\" (write a number with a unit: 500ms, 5s, 2m, 1h)", text));
    }
    return *d;
  }

  std::string OneOf(const YAML::Node& node, const std::string& key,
                    const std::vector<std::string>& choices) {
    std::string text = String(node, key);
    for (const auto& c : choices) {
      if (text == c) return text;
    }
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
    Fail(node, key, fmt::format("\"{}\" is not one of {}", text, list));
  }

  int Int(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v < -1'000'000'000 || v > 1'000'000'000) {
      Fail(node, key, fmt::format("\"{}\" is not a whole number", text));
    }
    return static_cast<int>(v);
  }

  double Double(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') Fail(node, key, fmt::format("\"{}\" is not a number", text));
    return v;
  }

  bool Bool(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    Fail(node, key, fmt::format("\"{}\" is not true or false", text));
  }

  HostPort Address(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    auto hp = ParseHostPort(text);
    if (!hp) Fail(node, key, hp.error().message);
    return *hp;
  }

  static std::string Join(const std::string& a, const std::string& b) {
    return a.empty() ? b : a + "." + b;
  }

  Config Walk(const YAML::Node& root) {
    Config cfg;
    cfg.source = source_;
    if (root.IsNull()) return cfg;
    Keys(root, "", {"http", "log", "targets", "caches", "probes"});
    if (auto http = root["http"]; http && !http.IsNull()) {
      Keys(http, "http", {"listen", "debug", "basic_auth", "tls"});
      if (auto l = http["listen"]) cfg.http.listen = Address(l, "http.listen");
      if (auto d = http["debug"]) cfg.http.debug = Bool(d, "http.debug");
      if (auto a = http["basic_auth"]; a && !a.IsNull()) BasicAuthSection(a, &cfg);
      if (auto t = http["tls"]; t && !t.IsNull()) TlsSection(t, &cfg.http.tls);
    }
    if (auto log = root["log"]; log && !log.IsNull()) {
      Keys(log, "log", {"level", "format"});
      if (auto l = log["level"]) {
        cfg.log.level = OneOf(l, "log.level", {"debug", "info", "warn", "error"});
      }
      if (auto f = log["format"]) {
        cfg.log.format = OneOf(f, "log.format", {"text", "json"}) == "json" ? LogFormat::kJson
                                                                            : LogFormat::kText;
      }
    }
    if (auto targets = root["targets"]; targets && !targets.IsNull()) {
      Keys(targets, "targets", {"postgres", "redis", "pgbouncer"});
      if (auto pg = targets["postgres"]; pg && !pg.IsNull()) {
        List(pg, "targets.postgres", [&](const YAML::Node& n, const std::string& key) {
          cfg.postgres.push_back(Postgres(n, key));
        });
      }
      if (auto rd = targets["redis"]; rd && !rd.IsNull()) {
        List(rd, "targets.redis", [&](const YAML::Node& n, const std::string& key) {
          cfg.redis.push_back(Redis(n, key));
        });
      }
      if (auto pb = targets["pgbouncer"]; pb && !pb.IsNull()) {
        List(pb, "targets.pgbouncer", [&](const YAML::Node& n, const std::string& key) {
          cfg.pgbouncer.push_back(PgBouncer(n, key));
        });
      }
    }
    if (auto caches = root["caches"]; caches && !caches.IsNull()) {
      List(caches, "caches", [&](const YAML::Node& n, const std::string& key) {
        cfg.caches.push_back(Cache(n, key, cfg));
      });
    }
    if (auto probes = root["probes"]; probes && !probes.IsNull()) Probes(probes, &cfg.probes);
    return cfg;
  }

 private:
  std::size_t Bytes(const YAML::Node& node, const std::string& key) {
    std::string text = String(node, key);
    std::size_t mult = 1;
    std::string digits = text;
    for (auto [suffix, m] : {std::pair<const char*, std::size_t>{"KiB", 1024},
                             {"MiB", 1024 * 1024},
                             {"GiB", 1024UL * 1024 * 1024}}) {
      std::string_view sv(text);
      if (sv.size() > 3 && sv.substr(sv.size() - 3) == suffix) {
        mult = m;
        digits = text.substr(0, text.size() - 3);
      }
    }
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 12) {
      Fail(node, key, fmt::format("\"{}\" is not a size (write bytes, or KiB, MiB, GiB)", text));
    }
    return std::stoull(digits) * mult;
  }

  CacheSpec Cache(const YAML::Node& node, const std::string& key, const Config& cfg) {
    Keys(node, key,
         {"name", "redis", "redis_timeout", "ttl", "l1_ttl", "negative_ttl", "jitter",
          "load_timeout", "l1"});
    CacheSpec spec;
    spec.cache.name = Name(node, key);
    auto k = [&](const char* name) { return key + "." + name; };
    if (auto r = node["redis"]) {
      spec.redis = String(r, k("redis"));
      const RedisTarget* target = cfg.FindRedis(spec.redis);
      if (target == nullptr) {
        Fail(r, k("redis"), fmt::format("no targets.redis entry is named \"{}\"", spec.redis));
      }
      if (!target->password.empty()) {
        // RedisL2 connects without AUTH: refuse rather than fail every call.
        Fail(r, k("redis"),
             fmt::format("targets.redis \"{}\" has a password, and the cache's Redis client "
                         "does not authenticate; give the cache a Redis without a password",
                         spec.redis));
      }
    }
    if (auto v = node["redis_timeout"]) spec.redis_timeout = Dur(v, k("redis_timeout"));
    if (auto v = node["ttl"]) spec.cache.ttl = Dur(v, k("ttl"));
    if (auto v = node["l1_ttl"]) spec.cache.l1_ttl = Dur(v, k("l1_ttl"));
    if (auto v = node["negative_ttl"]) spec.cache.negative_ttl = Dur(v, k("negative_ttl"));
    if (auto v = node["jitter"]) spec.cache.jitter = Double(v, k("jitter"));
    if (auto v = node["load_timeout"]) spec.cache.load_timeout = Dur(v, k("load_timeout"));
    if (auto l1 = node["l1"]; l1 && !l1.IsNull()) {
      Keys(l1, k("l1"), {"max_entries", "max_bytes", "shards", "time_to_idle"});
      if (auto v = l1["max_entries"]) {
        int n = Int(v, k("l1.max_entries"));
        if (n < 1) Fail(v, k("l1.max_entries"), "must be at least 1");
        spec.cache.l1.max_entries = static_cast<std::size_t>(n);
      }
      if (auto v = l1["max_bytes"]) spec.cache.l1.max_bytes = Bytes(v, k("l1.max_bytes"));
      if (auto v = l1["shards"]) spec.cache.l1.shards = Int(v, k("l1.shards"));
      if (auto v = l1["time_to_idle"]) spec.cache.l1.time_to_idle = Dur(v, k("l1.time_to_idle"));
    }
    if (spec.redis_timeout <= Duration::zero()) {
      Fail(node["redis_timeout"], k("redis_timeout"), "must be more than 0");
    }
    if (Status s = ValidateCacheConfig(spec.cache); !s) {
      const std::string& msg = s.error().message;
      const std::string knob = msg.substr(0, msg.find(':'));
      YAML::Node at = node;
      if (knob.rfind("l1.", 0) == 0) {
        if (auto l1 = node["l1"]; l1 && l1.IsMap() && l1[knob.substr(3)]) at = l1[knob.substr(3)];
      } else if (node[knob]) {
        at = node[knob];
      }
      Fail(at, key + "." + knob, msg.substr(msg.find(':') + 2));
    }
    return spec;
  }

  template <typename Fn>
  void List(const YAML::Node& node, const std::string& key, Fn&& each) {
    if (!node.IsSequence()) {
      Fail(node, key, fmt::format("expected a list of targets, got {}", KindName(node)));
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      each(node[i], fmt::format("{}[{}]", key, i));
    }
  }

  // Name reads and checks a target name: required, unique, label-safe.
  std::string Name(const YAML::Node& node, const std::string& key) {
    auto n = node["name"];
    if (!n) Fail(node, key + ".name", "missing (every target needs a name)");
    std::string name = String(n, key + ".name");
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string::npos) {
      Fail(n, key + ".name", "use 1-64 letters, digits, '_', '.' or '-'");
    }
    if (!names_.insert(name).second)
      Fail(n, key + ".name", fmt::format("\"{}\" is used twice", name));
    return name;
  }

  void Timing(const YAML::Node& node, const std::string& key, Duration* interval,
              Duration* timeout) {
    if (auto i = node["interval"]) {
      *interval = Dur(i, key + ".interval");
      if (*interval < std::chrono::milliseconds(100)) {
        Fail(i, key + ".interval", "must be at least 100ms");
      }
    }
    bool timeout_set = false;
    if (auto t = node["timeout"]) {
      *timeout = Dur(t, key + ".timeout");
      timeout_set = true;
      if (*timeout <= Duration::zero()) Fail(t, key + ".timeout", "must be more than 0");
      if (*timeout > *interval) {
        Fail(t, key + ".timeout",
             fmt::format("must not exceed the interval ({})", FormatDuration(*interval)));
      }
    }
    if (!timeout_set && *timeout > *interval) *timeout = *interval;
  }

  // DsnFrom reads exactly one of dsn, dsn_env (a variable holding it) or
  // dsn_file into `dsn`, and says where it came from in `source`.
  void DsnFrom(const YAML::Node& node, const std::string& key, Dsn* dsn, std::string* source) {
    int sources = (node["dsn"] ? 1 : 0) + (node["dsn_env"] ? 1 : 0) + (node["dsn_file"] ? 1 : 0);
    if (sources != 1) {
      Fail(node, key, "give exactly one of dsn, dsn_env (a variable holding it) or dsn_file");
    }
    std::string text;
    std::string where;
    if (auto d = node["dsn"]) {
      where = key + ".dsn";
      text = String(d, where);
      *source = "dsn";
    } else if (auto e = node["dsn_env"]) {
      where = key + ".dsn_env";
      std::string var = String(e, where);
      const char* v = std::getenv(var.c_str());
      if (v == nullptr) Fail(e, where, fmt::format("environment variable {} is not set", var));
      text = v;
      *source = "dsn_env " + var;
    } else {
      auto f = node["dsn_file"];
      where = key + ".dsn_file";
      std::string path = String(f, where);
      std::ifstream in(path);
      if (!in) Fail(f, where, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.pop_back();
      }
      *source = "dsn_file " + path;
    }
    std::string problem;
    if (!ValidateDsn(text, &problem)) {
      Fail(node[where.substr(where.rfind('.') + 1)], where,
           "invalid connection string: " + problem);
    }
    *dsn = Dsn(std::move(text));
  }

  int Count(const YAML::Node& node, const std::string& key, int lo, int hi) {
    int n = Int(node, key);
    if (n < lo || n > hi) Fail(node, key, fmt::format("must be from {} to {}", lo, hi));
    return n;
  }

  PgBouncerTarget PgBouncer(const YAML::Node& node, const std::string& key) {
    Keys(node, key,
         {"name", "dsn", "dsn_env", "dsn_file", "interval", "timeout", "database_labels"});
    PgBouncerTarget t;
    t.name = Name(node, key);
    DsnFrom(node, key, &t.dsn, &t.dsn_source);
    Timing(node, key, &t.interval, &t.timeout);
    if (auto v = node["database_labels"]) {
      t.database_labels = Count(v, key + ".database_labels", 1, 1000);
    }
    return t;
  }

  PostgresTarget Postgres(const YAML::Node& node, const std::string& key) {
    Keys(node, key,
         {"name", "dsn", "dsn_env", "dsn_file", "interval", "timeout", "pool", "canary",
          "long_query_threshold", "application_labels", "statements_top"});
    PostgresTarget t;
    t.name = Name(node, key);
    DsnFrom(node, key, &t.dsn, &t.dsn_source);
    Timing(node, key, &t.interval, &t.timeout);
    t.pool.name = t.name;
    if (auto v = node["long_query_threshold"]) {
      t.long_query_threshold = Dur(v, key + ".long_query_threshold");
      if (t.long_query_threshold <= Duration::zero()) {
        Fail(v, key + ".long_query_threshold", "must be more than 0");
      }
    }
    if (auto v = node["application_labels"]) {
      t.application_labels = Count(v, key + ".application_labels", 1, 1000);
    }
    if (auto v = node["statements_top"]) {
      t.statements_top = Count(v, key + ".statements_top", 0, 1000);
    }
    if (auto c = node["canary"]; c && !c.IsNull()) {
      const std::string ck = key + ".canary";
      Keys(c, ck, {"enabled", "query", "interval"});
      if (auto v = c["enabled"]) t.canary.enabled = Bool(v, ck + ".enabled");
      if (auto v = c["query"]) {
        t.canary.query = String(v, ck + ".query");
        if (t.canary.query.empty()) Fail(v, ck + ".query", "must not be empty");
      }
      if (auto v = c["interval"]) {
        t.canary.interval = Dur(v, ck + ".interval");
        if (t.canary.interval < std::chrono::milliseconds(100)) {
          Fail(v, ck + ".interval", "must be at least 100ms");
        }
      }
    }
    if (t.canary.interval == Duration::zero()) t.canary.interval = t.interval;
    if (auto p = node["pool"]; p && !p.IsNull()) Pool(p, key + ".pool", &t.pool);
    if (Status s = ValidatePoolConfig(t.pool); !s) {
      // The message starts with the knob's name: point at that key if given.
      const std::string& msg = s.error().message;
      const std::string knob = msg.substr(0, msg.find(':'));
      auto p = node["pool"];
      YAML::Node at = p && p.IsMap() && p[knob] ? p[knob] : node;
      Fail(at, key + ".pool." + knob, msg.substr(msg.find(':') + 2));
    }
    return t;
  }

  void Pool(const YAML::Node& node, const std::string& key, PoolConfig* c) {
    Keys(node, key,
         {"max_size",
          "min_idle",
          "acquire_timeout",
          "connect_timeout",
          "max_lifetime",
          "max_lifetime_jitter",
          "idle_timeout",
          "keepalive_interval",
          "validate_after_idle",
          "validation_timeout",
          "max_waiters",
          "leak_threshold",
          "capture_backtrace",
          "slow_query_threshold",
          "statement_timeout",
          "cancel_grace",
          "reset_timeout",
          "prepared_cache_size",
          "statement_labels",
          "application_name"});
    auto k = [&](const char* name) { return key + "." + name; };
    for (const auto& kv : node) {
      const std::string name = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (name == "max_size") c->max_size = Int(v, k("max_size"));
      if (name == "min_idle") c->min_idle = Int(v, k("min_idle"));
      if (name == "max_waiters") c->max_waiters = Int(v, k("max_waiters"));
      if (name == "prepared_cache_size") c->prepared_cache_size = Int(v, k("prepared_cache_size"));
      if (name == "statement_labels") c->statement_labels = Int(v, k("statement_labels"));
      if (name == "max_lifetime_jitter") {
        c->max_lifetime_jitter = Double(v, k("max_lifetime_jitter"));
      }
      if (name == "capture_backtrace") c->capture_backtrace = Bool(v, k("capture_backtrace"));
      if (name == "application_name") c->application_name = String(v, k("application_name"));
      if (name == "acquire_timeout") c->acquire_timeout = Dur(v, k("acquire_timeout"));
      if (name == "connect_timeout") c->connect_timeout = Dur(v, k("connect_timeout"));
      if (name == "max_lifetime") c->max_lifetime = Dur(v, k("max_lifetime"));
      if (name == "idle_timeout") c->idle_timeout = Dur(v, k("idle_timeout"));
      if (name == "keepalive_interval") c->keepalive_interval = Dur(v, k("keepalive_interval"));
      if (name == "validate_after_idle") c->validate_after_idle = Dur(v, k("validate_after_idle"));
      if (name == "validation_timeout") c->validation_timeout = Dur(v, k("validation_timeout"));
      if (name == "leak_threshold") c->leak_threshold = Dur(v, k("leak_threshold"));
      if (name == "slow_query_threshold") {
        c->slow_query_threshold = Dur(v, k("slow_query_threshold"));
      }
      if (name == "statement_timeout") c->statement_timeout = Dur(v, k("statement_timeout"));
      if (name == "cancel_grace") c->cancel_grace = Dur(v, k("cancel_grace"));
      if (name == "reset_timeout") c->reset_timeout = Dur(v, k("reset_timeout"));
    }
  }

  RedisTarget Redis(const YAML::Node& node, const std::string& key) {
    Keys(node, key,
         {"name", "address", "interval", "timeout", "username", "password", "password_env"});
    RedisTarget t;
    t.name = Name(node, key);
    if (node["password"] && node["password_env"]) {
      Fail(node, key, "give at most one of password or password_env (a variable holding it)");
    }
    if (auto p = node["password"]) {
      t.password = Secret(String(p, key + ".password"));
      t.password_source = "password";
    } else if (auto e = node["password_env"]) {
      const std::string var = String(e, key + ".password_env");
      const char* v = std::getenv(var.c_str());
      if (v == nullptr) {
        Fail(e, key + ".password_env", fmt::format("environment variable {} is not set", var));
      }
      t.password = Secret(v);
      t.password_source = "password_env " + var;
    }
    if (auto u = node["username"]) {
      t.username = String(u, key + ".username");
      if (t.password.empty()) Fail(u, key + ".username", "a username needs a password");
    }
    auto a = node["address"];
    if (!a) Fail(node, key + ".address", "missing (host:port of the Redis server)");
    t.address = Address(a, key + ".address");
    if (t.address.port == 0) Fail(a, key + ".address", "port 0 is not a server port");
    Timing(node, key, &t.interval, &t.timeout);
    return t;
  }

  // BasicAuthSection reads `http.basic_auth` and loads its users file.
  void BasicAuthSection(const YAML::Node& node, Config* cfg) {
    const std::string key = "http.basic_auth";
    Keys(node, key, {"users_file", "realm", "healthz_without_auth"});
    BasicAuthConfig& a = cfg->http.basic_auth;
    auto f = node["users_file"];
    if (!f) Fail(node, key + ".users_file", "missing (a file of user:hash lines)");
    a.users_file = String(f, key + ".users_file");
    if (auto r = node["realm"]) {
      a.realm = String(r, key + ".realm");
      if (!ValidRealm(a.realm)) {
        Fail(r, key + ".realm", "use 1-64 printable ASCII characters without '\"' or '\\'");
      }
    }
    if (auto v = node["healthz_without_auth"]) {
      a.healthz_without_auth = Bool(v, key + ".healthz_without_auth");
    }
    auto users = LoadUsersFile(a.users_file);
    if (!users) Fail(f, key + ".users_file", users.error().message);
    a.users = std::move(users->users);
    if (!users->warning.empty()) cfg->warnings.push_back(users->warning);
  }

  // TlsSection reads `http.tls` and checks that the files load and match.
  void TlsSection(const YAML::Node& node, HttpTlsConfig* t) {
    const std::string key = "http.tls";
    Keys(node, key, {"cert_file", "key_file"});
    auto c = node["cert_file"];
    auto k = node["key_file"];
    if (!c) Fail(node, key + ".cert_file", "missing (the PEM certificate, then any intermediates)");
    if (!k) Fail(node, key + ".key_file", "missing (the PEM private key, unencrypted)");
    t->cert_file = String(c, key + ".cert_file");
    t->key_file = String(k, key + ".key_file");
    if (Status s = CheckTlsFiles({t->cert_file, t->key_file}); !s) {
      // Say which key is at fault: the key file (unreadable, not a key, or
      // not the certificate's key) or else the certificate file.
      const std::string& m = s.error().message;
      const bool key_problem =
          m.find("TLS key file") != std::string::npos || m.rfind("the private key in", 0) == 0;
      Fail(key_problem ? k : c, key_problem ? key + ".key_file" : key + ".cert_file",
           s.error().message);
    }
  }

  // Probes reads `probes:` (the eBPF probes).
  void Probes(const YAML::Node& node, ProbesConfig* p) {
    Keys(node, "probes", {"offcpu"});
    auto o = node["offcpu"];
    if (!o || o.IsNull()) return;
    const std::string key = "probes.offcpu";
    OffcpuConfig& c = p->offcpu;
    Keys(o, key, {"enabled", "targets", "rescan_interval", "thread_labels", "stacks"});
    if (auto v = o["enabled"]) c.enabled = Bool(v, key + ".enabled");
    if (auto t = o["targets"]; t && !t.IsNull()) {
      List(t, key + ".targets", [&](const YAML::Node& n, const std::string& k) {
        c.targets.push_back(OffcpuTarget(n, k));
      });
      if (c.targets.size() > 127) Fail(t, key + ".targets", "at most 127 targets");
    }
    if (c.enabled && c.targets.empty()) {
      Fail(o["targets"] ? o["targets"] : o, key + ".targets",
           "list at least one target ({process: NAME} or {pid: N}) when enabled");
    }
    if (auto v = o["rescan_interval"]) {
      c.rescan_interval = Dur(v, key + ".rescan_interval");
      if (c.rescan_interval < std::chrono::milliseconds(100)) {
        Fail(v, key + ".rescan_interval", "must be at least 100ms");
      }
    }
    if (auto v = o["thread_labels"]) {
      c.thread_labels = Int(v, key + ".thread_labels");
      if (c.thread_labels < 1 || c.thread_labels > 1024) {
        Fail(v, key + ".thread_labels", "must be from 1 to 1024");
      }
    }
    if (auto st = o["stacks"]; st && !st.IsNull()) {
      const std::string sk = key + ".stacks";
      Keys(st, sk, {"enabled", "probability", "min_duration"});
      if (auto v = st["enabled"]) c.stacks = Bool(v, sk + ".enabled");
      if (auto v = st["probability"]) {
        c.stack_probability = Double(v, sk + ".probability");
        if (!(c.stack_probability > 0 && c.stack_probability <= 1)) {
          Fail(v, sk + ".probability", "must be more than 0 and at most 1");
        }
      }
      if (auto v = st["min_duration"]) c.stack_min_duration = Dur(v, sk + ".min_duration");
    }
  }

  OffcpuTargetConfig OffcpuTarget(const YAML::Node& node, const std::string& key) {
    Keys(node, key, {"process", "pid", "name"});
    OffcpuTargetConfig t;
    if ((node["process"] ? 1 : 0) + (node["pid"] ? 1 : 0) != 1) {
      Fail(node, key, "give exactly one of process (a process name) or pid");
    }
    if (auto v = node["process"]) {
      t.process = String(v, key + ".process");
      if (t.process.empty() || t.process.size() > 255 || t.process.find('/') != std::string::npos) {
        Fail(v, key + ".process", "use a process name or an executable's base name (no '/')");
      }
    }
    if (auto v = node["pid"]) {
      t.pid = Int(v, key + ".pid");
      if (t.pid < 1) Fail(v, key + ".pid", "must be a process id (1 or more)");
    }
    if (auto v = node["name"]) {
      t.name = String(v, key + ".name");
      if (t.name.empty() || t.name.size() > 64 ||
          t.name.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
              std::string::npos) {
        Fail(v, key + ".name", "use 1-64 letters, digits, '_', '.' or '-'");
      }
    }
    return t;
  }

  std::string source_;
  std::set<std::string> names_;
};

}  // namespace

const RedisTarget* Config::FindRedis(const std::string& name) const {
  for (const auto& r : redis) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

PoolConfig PostgresTarget::AgentPoolDefaults() {
  PoolConfig c;
  c.application_name = "poolscope-agent";
  c.max_size = 2;
  c.min_idle = 1;
  c.acquire_timeout = std::chrono::seconds(2);
  c.connect_timeout = std::chrono::seconds(3);
  c.statement_timeout = std::chrono::seconds(10);
  return c;
}

Result<Config> ParseConfig(std::string_view text, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return Walker(source).Walk(root);
  } catch (const Invalid& e) {
    return Error{ErrorCode::kInvalidArgument, OneLine(e.message)};
  } catch (const YAML::ParserException& e) {
    return Error{ErrorCode::kInvalidArgument,
                 OneLine(fmt::format("{}:{}:{}: YAML syntax error: {}", source, e.mark.line + 1,
                                     e.mark.column + 1, e.msg))};
  } catch (const YAML::Exception& e) {
    return Error{ErrorCode::kInvalidArgument, OneLine(fmt::format("{}: {}", source, e.msg))};
  }
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    int err = errno;
    return Error{err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                 fmt::format("{}: cannot read config file: {}", path, std::strerror(err))};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto cfg = ParseConfig(ss.str(), path);
  if (!cfg) return cfg;
  // A password written into the file itself is as safe as the file's mode.
  std::string holder;
  for (std::size_t i = 0; i < cfg->postgres.size() && holder.empty(); ++i) {
    const auto& t = cfg->postgres[i];
    if (t.dsn_source == "dsn" && t.dsn.Redacted().find("password=***") != std::string::npos) {
      holder = fmt::format("targets.postgres[{}].dsn", i);
    }
  }
  for (std::size_t i = 0; i < cfg->pgbouncer.size() && holder.empty(); ++i) {
    const auto& t = cfg->pgbouncer[i];
    if (t.dsn_source == "dsn" && t.dsn.Redacted().find("password=***") != std::string::npos) {
      holder = fmt::format("targets.pgbouncer[{}].dsn", i);
    }
  }
  for (std::size_t i = 0; i < cfg->redis.size() && holder.empty(); ++i) {
    if (cfg->redis[i].password_source == "password") {
      holder = fmt::format("targets.redis[{}].password", i);
    }
  }
  struct stat st {};
  if (!holder.empty() && ::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    cfg->warnings.push_back(fmt::format(
        "{} holds a password ({}) and is readable by every user of this machine (mode {:03o}): "
        "chmod 600 {} (or 640 with the group the agent runs as), or move the secret to an "
        "environment variable or a dsn_file",
        path, holder, st.st_mode & 0777, path));
  }
  return cfg;
}

}  // namespace poolscope
