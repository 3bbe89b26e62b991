// RedisInfo parses the text a Redis server answers to INFO: `# Section`
// headers, `field:value` lines, and the keyspace lines
// `db0:keys=12,expires=3,avg_ttl=0`. Unknown fields are kept as text, so a
// newer server's extra fields cost nothing; malformed lines are skipped.
//
//   RedisInfo info = ParseRedisInfo(reply);
//   double hits = info.Number("keyspace_hits");   // NaN when absent
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace poolscope {

// RedisKeyspace is one `dbN:` line.
struct RedisKeyspace {
  double keys = 0;
  double expires = 0;
};

struct RedisInfo {
  std::map<std::string, std::string, std::less<>> fields;  // field -> value text
  std::map<std::string, RedisKeyspace> keyspace;           // "db0" -> counts

  // Number returns a field as a number, or NaN when it is absent or not a number.
  double Number(std::string_view field) const;
};

// ParseRedisInfo parses an INFO reply. It never fails: what it cannot read
// is left out. At most kMaxRedisInfoFields fields are kept.
RedisInfo ParseRedisInfo(std::string_view text);

inline constexpr std::size_t kMaxRedisInfoFields = 1024;

}  // namespace poolscope
