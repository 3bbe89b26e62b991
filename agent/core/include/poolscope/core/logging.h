// Logging set-up for poolscope: spdlog to stderr in text or JSON lines.
//
// Thread-safety: call SetupLogging once at start-up, before other threads log.
#pragma once

#include <string>
#include <string_view>

namespace poolscope {

// LogFormat selects the line format.
enum class LogFormat { kText, kJson };

// SetupLogging installs the default logger at `level` (debug|info|warn|error)
// writing `format` lines to stderr. Unknown levels fall back to info.
void SetupLogging(std::string_view level, LogFormat format);

// JsonEscape returns `s` escaped for use inside a JSON string.
std::string JsonEscape(std::string_view s);

}  // namespace poolscope
