#include "poolscope/samplers/redis_info.h"

#include <cmath>
#include <cstdlib>

namespace poolscope {
namespace {

// ParseNumber reads all of `s` as a number, or NaN.
double ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nan("");
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() ? v : std::nan("");
}

bool IsDbName(std::string_view name) {
  if (name.size() < 3 || name.size() > 6 || name.substr(0, 2) != "db") return false;
  return name.substr(2).find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

double RedisInfo::Number(std::string_view field) const {
  auto it = fields.find(field);
  return it == fields.end() ? std::nan("") : ParseNumber(it->second);
}

RedisInfo ParseRedisInfo(std::string_view text) {
  RedisInfo info;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    if (IsDbName(name)) {
      RedisKeyspace ks;
      bool any = false;
      for (std::string_view rest = value; !rest.empty();) {
        std::size_t comma = rest.find(',');
        std::string_view kv = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        double v = ParseNumber(kv.substr(eq + 1));
        if (std::isnan(v)) continue;
        if (kv.substr(0, eq) == "keys") ks.keys = v, any = true;
        if (kv.substr(0, eq) == "expires") ks.expires = v, any = true;
      }
      if (any && info.keyspace.size() < kMaxRedisInfoFields) info.keyspace[std::string(name)] = ks;
      continue;
    }
    if (info.fields.size() < kMaxRedisInfoFields) {
      info.fields.insert_or_assign(std::string(name), std::string(value));
    }
  }
  return info;
}

}  // namespace poolscope
