// HostPort: a parsed "host:port" address ("[::1]:9640" for IPv6).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "poolscope/core/result.h"

namespace poolscope {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  // ToString writes the address back in the form ParseHostPort reads.
  std::string ToString() const;
};

// ParseHostPort parses "host:port"; port 0 means "any free port".
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace poolscope
