// HttpGet: a minimal blocking HTTP/1.0 GET for tests (no keep-alive, no TLS).
#pragma once

#include <cstdint>
#include <string>

namespace poolscope::testing {

struct HttpResult {
  int status = 0;  // 0 when the request failed (connect refused, timeout)
  std::string body;
};

// ConnectLoopback opens a TCP connection to 127.0.0.1:<port> with 5 s send
// and receive timeouts; -1 when it cannot.
int ConnectLoopback(std::uint16_t port);

// HttpGet fetches http://127.0.0.1:<port><path> with a 5 s timeout.
HttpResult HttpGet(std::uint16_t port, const std::string& path);

}  // namespace poolscope::testing
