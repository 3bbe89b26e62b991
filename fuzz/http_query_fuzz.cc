// Fuzz target: the HTTP endpoints' query parsing (QueryIntParam, which
// serves /debug/offcpu?seconds=N).
//
// Properties, for any query bytes: QueryIntParam returns (no exception, no
// crash); a value is within [min, max], and is the fallback when the query
// has no `seconds=` at all; an error has a one-line message that does not
// echo the query.
#include <climits>
#include <string>

#include "fuzz_target.h"
#include "poolscope/exporters/http_query.h"

namespace poolscope::fuzz {

int FuzzHttpQuery(const std::uint8_t* data, std::size_t size) {
  const std::string_view query = AsText(data, size);
  struct Case {
    int fallback, min, max;
  };
  for (const Case& c : {Case{5, 1, 60}, Case{0, 0, INT_MAX}, Case{-1, -5, 5}}) {
    Result<int> v = QueryIntParam(query, "seconds", c.fallback, c.min, c.max);
    if (v) {
      if (query.find("seconds=") == std::string_view::npos) {
        FUZZ_CHECK(*v == c.fallback, "a value without the parameter is not the fallback");
      } else if (*v != c.fallback) {
        FUZZ_CHECK(*v >= c.min && *v <= c.max, "a value outside the range was accepted");
      }
    } else {
      const std::string& msg = v.error().message;
      FUZZ_CHECK(OneLine(msg), "error message spans several lines");
      FUZZ_CHECK(query.size() < 8 || msg.find(query) == std::string::npos,
                 "error message echoes the query");
    }
  }
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzHttpQuery)
