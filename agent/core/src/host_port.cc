#include "poolscope/core/host_port.h"

#include <cstdlib>

#include <fmt/format.h>

namespace poolscope {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error{ErrorCode::kInvalidArgument, fmt::format("bad address \"{}\": {}", text, why)};
  };
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("write [ipv6]:port");
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("write host:port");
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) return bad("put an IPv6 host in brackets");
  }
  if (hp.host.empty()) return bad("the host is empty");
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return bad("the port must be a number from 0 to 65535");
  }
  int p = std::atoi(std::string(port).c_str());
  if (p > 65535) return bad("the port must be a number from 0 to 65535");
  hp.port = static_cast<std::uint16_t>(p);
  return hp;
}

}  // namespace poolscope
