// HttpServer: the agent's HTTP endpoint (/metrics, /healthz, debug pages),
// served by CivetWeb. CivetWeb stays private to this module: this header only
// names the opaque context.
//
//   HttpServer server;
//   server.Handle("/healthz", [](const HttpRequest&) { return HttpResponse{200, "ok\n"}; });
//   Status s = server.Start({"127.0.0.1", 0});   // port 0: any free port
//   uint16_t port = server.port();
//
// Thread-safety: register handlers before Start(); handlers run on CivetWeb's
// worker threads and must be thread-safe. Start/Stop from one owning thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "poolscope/core/host_port.h"
#include "poolscope/core/result.h"

struct mg_context;

namespace poolscope {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;  // without the '?'
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Handle serves exactly `path` (no prefix matching) with `handler`.
  void Handle(std::string path, HttpHandler handler);

  // Start listens on `address`. Fails with a message naming the address when
  // it cannot bind (in use, not a local address, no permission).
  Status Start(const HostPort& address);

  // Stop closes the listener and waits for in-flight requests.
  void Stop();

  // port is the bound port (useful after listening on port 0).
  std::uint16_t port() const { return port_; }

  struct Route {
    std::string path;
    HttpHandler handler;
  };

 private:
  std::vector<std::unique_ptr<Route>> routes_;  // stable addresses for CivetWeb
  mg_context* ctx_ = nullptr;
  std::string host_;  // where Stop() connects to wake the listener
  std::uint16_t port_ = 0;
};

}  // namespace poolscope
