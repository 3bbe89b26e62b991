// HTTP query strings: the pure request-handling pieces of the HTTP endpoints,
// apart from CivetWeb so that unit tests and fuzzers can drive them.
//
//   // "/debug/offcpu?seconds=10" -> query "seconds=10"
//   Result<int> s = QueryIntParam(req.query, "seconds", 5, 1, 60);
//   if (!s) return HttpResponse{400, s.error().message + "\n"};
//
// A query is `name=value` pairs joined by `&`; values are taken as written
// (no percent-decoding: the parameters served here are plain numbers).
//
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <string_view>

#include "poolscope/core/result.h"

namespace poolscope {

// QueryIntParam returns the value of the parameter `name` in `query` (the
// last one when it is given several times), `fallback` when it is absent.
// The value must be a whole number of decimal digits from `min` to `max`;
// anything else is a kInvalidArgument Error whose one-line message names the
// parameter and the range and never echoes the query.
Result<int> QueryIntParam(std::string_view query, std::string_view name, int fallback, int min,
                          int max);

}  // namespace poolscope
