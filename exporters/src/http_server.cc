#include "poolscope/exporters/http_server.h"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace poolscope {
namespace {

int Dispatch(mg_connection* conn, void* cbdata) {
  const auto* route = static_cast<const HttpServer::Route*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method != nullptr ? info->request_method : "";
  req.path = info->local_uri != nullptr ? info->local_uri : "";
  req.query = info->query_string != nullptr ? info->query_string : "";
  HttpResponse resp;
  if (req.method != "GET" && req.method != "HEAD") {
    resp = {405, "only GET and HEAD are served here\n"};
  } else {
    try {
      resp = route->handler(req);
    } catch (const std::exception& e) {
      resp = {500, "internal error\n"};
    }
  }
  mg_response_header_start(conn, resp.status);
  mg_response_header_add(conn, "Content-Type", resp.content_type.c_str(), -1);
  std::string len = std::to_string(resp.body.size());
  mg_response_header_add(conn, "Content-Length", len.c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  if (req.method != "HEAD") mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

// Connect opens a TCP connection to host:port (numeric or name); -1 on failure.
int Connect(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

// WhyCannotBind binds a socket to `address` itself to learn the errno that
// CivetWeb only reports as "Failed to setup server ports".
std::string WhyCannotBind(const HostPort& address) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(), &hints, &res);
  if (gai != 0)
    return fmt::format("cannot resolve host \"{}\": {}", address.host, gai_strerror(gai));
  std::string why;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0) {
    why = std::strerror(errno);
  } else if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    why = std::strerror(err);
    if (err == EADDRINUSE) {
      why += " (another process listens there: stop it or choose another http.listen port)";
    } else if (err == EADDRNOTAVAIL) {
      why += " (not an address of this machine)";
    } else if (err == EACCES) {
      why += " (ports below 1024 need privileges)";
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  return why;
}

}  // namespace

HttpServer::HttpServer() {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, HttpHandler handler) {
  routes_.push_back(std::make_unique<Route>(Route{std::move(path), std::move(handler)}));
}

Status HttpServer::Start(const HostPort& address) {
  const std::string ports = address.ToString();
  const char* options[] = {"listening_ports",
                           ports.c_str(),
                           "num_threads",
                           "4",
                           "request_timeout_ms",
                           "10000",
                           "enable_keep_alive",
                           "yes",
                           "keep_alive_timeout_ms",
                           "10000",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };  // we report
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.configuration_options = options;
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data err{&code, text, sizeof text};
  ctx_ = mg_start2(&init, &err);
  if (ctx_ == nullptr) {
    std::string why = WhyCannotBind(address);
    if (why.empty()) why = text[0] != '\0' ? text : "unknown error";
    return Error{ErrorCode::kUnavailable, fmt::format("cannot listen on {}: {}", ports, why)};
  }
  for (const auto& route : routes_) {
    mg_set_request_handler(ctx_, (route->path + "$").c_str(), Dispatch, route.get());
  }
  mg_server_port bound[4];
  int n = mg_get_server_ports(ctx_, 4, bound);
  port_ = n > 0 ? static_cast<std::uint16_t>(bound[0].port) : address.port;
  host_ = address.host;
  if (host_ == "0.0.0.0" || host_.empty()) host_ = "127.0.0.1";
  if (host_ == "::") host_ = "::1";
  return OkStatus();
}

void HttpServer::Stop() {
  if (ctx_ == nullptr) return;
  // CivetWeb's listener polls with a 2 s timeout and only then sees the stop
  // flag (civetweb issue #1163). Wake it with connections so that shutdown
  // takes milliseconds, not seconds.
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    for (int i = 0; i < 150 && !stopped.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      int fd = Connect(host_, port_);
      if (fd >= 0) close(fd);
    }
  });
  mg_stop(ctx_);
  stopped.store(true);
  waker.join();
  ctx_ = nullptr;
}

}  // namespace poolscope
