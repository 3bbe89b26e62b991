// Fuzz target: the Redis sampler's INFO parser (poolscope::ParseRedisInfo).
//
// Properties, for any reply text: parsing returns (no exception, no crash);
// at most kMaxRedisInfoFields fields and keyspace lines are kept; a field
// name is non-empty and holds no ':' or '\n', a value no '\n' (lines are
// split there; a stray '\r' inside a line is kept as text, harmlessly);
// Number() answers for every kept field without failing.
#include <string>

#include "fuzz_target.h"
#include "poolscope/samplers/redis_info.h"

namespace poolscope::fuzz {

int FuzzRedisInfo(const std::uint8_t* data, std::size_t size) {
  const RedisInfo info = ParseRedisInfo(AsText(data, size));
  FUZZ_CHECK(info.fields.size() <= kMaxRedisInfoFields, "too many INFO fields kept");
  FUZZ_CHECK(info.keyspace.size() <= kMaxRedisInfoFields, "too many keyspace lines kept");
  for (const auto& [name, value] : info.fields) {
    FUZZ_CHECK(!name.empty() && name.find_first_of(":\n") == std::string::npos,
               "malformed INFO field name kept");
    FUZZ_CHECK(value.find('\n') == std::string::npos, "INFO value holds a line break");
    (void)info.Number(name);
  }
  for (const auto& [db, ks] : info.keyspace) {
    FUZZ_CHECK(db.rfind("db", 0) == 0, "keyspace line not named dbN");
  }
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzRedisInfo)
