// HttpServer: the agent's HTTP endpoint (/metrics, /healthz, debug pages),
// served by CivetWeb, optionally over TLS and behind basic auth. CivetWeb and
// OpenSSL stay private to this module: this header only names the opaque
// context.
//
//   HttpServer server;
//   server.Handle("/healthz", [](const HttpRequest&) { return HttpResponse{200, "ok\n"}; });
//   Status s = server.Start({"127.0.0.1", 0});   // port 0: any free port
//   uint16_t port = server.port();
//
// Every request goes through one gate before a handler sees it: a request
// target that is not a plain path (dot segments, empty segments, '%' left
// after decoding, control characters) is answered 400; with `auth` set, a
// request without good credentials 401 (except `public_paths`); a path
// nobody handles 404; a method other than GET or HEAD 405. Slow clients are
// cut off after `request_timeout`, oversized request heads get 431/413, and
// no server name or version is sent.
//
// Thread-safety: register handlers before Start(); handlers run on CivetWeb's
// worker threads and must be thread-safe. Start/Stop from one owning thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "poolscope/core/duration.h"
#include "poolscope/core/host_port.h"
#include "poolscope/core/result.h"

struct mg_context;

namespace poolscope {

class BasicAuth;

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

// HttpTls names the PEM files for HTTPS. Both empty: plain HTTP.
struct HttpTls {
  std::string cert_file;  // the certificate, then any intermediates
  std::string key_file;   // the private key, unencrypted
};

struct HttpServerOptions {
  HttpServerOptions() {}  // not an aggregate: Start({"127.0.0.1", 0}) means a HostPort
  HostPort listen{"127.0.0.1", 0};
  HttpTls tls;
  std::shared_ptr<BasicAuth> auth;                        // null: no authentication
  std::vector<std::string> public_paths;                  // served without authentication
  int threads = 16;                                       // concurrent connections served
  Duration request_timeout = std::chrono::seconds(5);     // whole request head, and idle
  Duration keep_alive_timeout = std::chrono::seconds(5);  // between requests
  int max_request_bytes = 16384;                          // request line + headers
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Handle serves exactly `path` (no prefix matching) with `handler`.
  void Handle(std::string path, HttpHandler handler);

  // Start listens as `options` say. Fails with a message naming the address
  // when it cannot bind (in use, not a local address, no permission), or the
  // file when the TLS certificate or key is missing, unreadable, not PEM, or
  // the two do not match.
  Status Start(const HttpServerOptions& options);

  // Start listens on `address` over plain HTTP without authentication.
  Status Start(const HostPort& address);

  // Stop closes the listener and waits for in-flight requests.
  void Stop();

  // port is the bound port (useful after listening on port 0).
  std::uint16_t port() const { return port_; }

  struct Route {
    std::string path;
    HttpHandler handler;
  };

  // State is what CivetWeb's callbacks see (opaque outside the .cc file).
  struct State;

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  std::unique_ptr<State> state_;
  mg_context* ctx_ = nullptr;
  std::string host_;  // where Stop() connects to wake the listener
  std::uint16_t port_ = 0;
};

// CheckTlsFiles loads `tls` into a scratch TLS context: OkStatus, or an error
// naming the file and what is wrong with it (missing, unreadable, not PEM,
// encrypted key, key not matching the certificate).
Status CheckTlsFiles(const HttpTls& tls);

}  // namespace poolscope
