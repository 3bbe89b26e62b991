// Durations as written in configuration files: "250ms", "5s", "2m", "1h",
// "1m30s", "500us". Parsing is strict: a bare number or an unknown unit is
// an error, so a forgotten unit never silently means seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace poolscope {

using Duration = std::chrono::nanoseconds;

// ParseDuration parses `text` ("1m30s", "250ms"); nullopt when malformed or
// negative. Units: ns, us, ms, s, m, h.
std::optional<Duration> ParseDuration(std::string_view text);

// FormatDuration writes `d` in the shortest exact form ParseDuration accepts.
std::string FormatDuration(Duration d);

// ToSeconds converts `d` to floating-point seconds (for metrics).
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace poolscope
