#include "poolscope/core/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace poolscope {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t nanos;
};

// Longest suffixes first so "ms" is not read as "m" followed by "s".
constexpr std::array<Unit, 6> kUnits{{{"ns", 1},
                                      {"us", 1'000},
                                      {"ms", 1'000'000},
                                      {"s", 1'000'000'000},
                                      {"m", 60'000'000'000},
                                      {"h", 3'600'000'000'000}}};

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return Duration::zero();
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t whole = 0;
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (whole > std::numeric_limits<std::int64_t>::max() / 10 - 10) return std::nullopt;
      whole = whole * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (frac_scale < 1'000'000'000) {
          frac = frac * 10 + (text[i] - '0');
          frac_scale *= 10;
        }
        ++i;
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    i += unit->suffix.size();
    if (whole > std::numeric_limits<std::int64_t>::max() / unit->nanos) return std::nullopt;
    std::int64_t part = whole * unit->nanos + frac * unit->nanos / frac_scale;
    if (total > std::numeric_limits<std::int64_t>::max() - part) return std::nullopt;
    total += part;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  std::int64_t n = d.count();
  if (n == 0) return "0s";
  std::string out;
  if (n < 0) {
    out = "-";
    n = -n;
  }
  for (const Unit& u : {kUnits[5], kUnits[4], kUnits[3], kUnits[2], kUnits[1], kUnits[0]}) {
    if (n >= u.nanos) {
      out += std::to_string(n / u.nanos);
      out += u.suffix;
      n %= u.nanos;
    }
  }
  return out;
}

}  // namespace poolscope
