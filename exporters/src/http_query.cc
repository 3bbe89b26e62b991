#include "poolscope/exporters/http_query.h"

#include <fmt/format.h>

namespace poolscope {

Result<int> QueryIntParam(std::string_view query, std::string_view name, int fallback, int min,
                          int max) {
  std::string_view value;
  bool given = false;
  for (std::size_t at = 0; at <= query.size();) {
    std::size_t end = query.find('&', at);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view part = query.substr(at, end - at);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      value = part.substr(name.size() + 1);
      given = true;
    }
    at = end + 1;
  }
  if (!given) return fallback;
  // Digits only, and few enough (at most 9) that the number cannot overflow.
  bool ok = !value.empty() && value.size() <= 9;
  long long n = 0;
  for (std::size_t i = 0; ok && i < value.size(); ++i) {
    const char c = value[i];
    if (c < '0' || c > '9') {
      ok = false;
    } else {
      n = n * 10 + (c - '0');
    }
  }
  if (!ok || n < min || n > max) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{} must be a whole number from {} to {}", name, min, max));
  }
  return static_cast<int>(n);
}

}  // namespace poolscope
