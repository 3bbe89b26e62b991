#include "poolscope/exporters/http_server.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "poolscope/exporters/basic_auth.h"
#include "poolscope/exporters/http_response.h"

namespace poolscope {

struct HttpServer::State {
  const std::vector<std::unique_ptr<Route>>* routes = nullptr;
  std::shared_ptr<BasicAuth> auth;
  std::vector<std::string> public_paths;
  HttpTls tls;
  std::string tls_error;  // set by the init_ssl callback when it fails
};

namespace {

// CleanPath reports whether a request path (not percent-decoded) is a plain
// absolute path: no empty, "." or ".." segments, no '%' (the paths served
// here never need encoding), no backslash and no control characters. Anything else
// is answered 400 before routing, so that `/debug/../metrics`, `%2e%2e` or
// `//debug/pool` can never reach a handler by normalisation.
bool CleanPath(const char* path) {
  if (path == nullptr || path[0] != '/') return false;
  const std::string_view p(path);
  if (p.size() > 1024) return false;
  for (unsigned char c : p) {
    if (c < 0x21 || c == 0x7f || c == '%' || c == '\\') return false;
  }
  if (p == "/") return true;
  std::size_t at = 1;
  while (at <= p.size()) {
    std::size_t end = p.find('/', at);
    if (end == std::string_view::npos) end = p.size();
    std::string_view seg = p.substr(at, end - at);
    if (seg == "." || seg == "..") return false;
    if (seg.empty() && end != p.size()) return false;  // "//" (a trailing '/' is fine)
    at = end + 1;
  }
  return true;
}

// Send answers with `resp` in one write (see http_response.h); every answer
// says no-store and nosniff.
void Send(mg_connection* conn, const HttpResponse& resp, bool head,
          std::initializer_list<HttpHeader> extra = {}) {
  std::vector<HttpHeader> headers = {{"Cache-Control", "no-store"},
                                     {"X-Content-Type-Options", "nosniff"}};
  headers.insert(headers.end(), extra);
  SendHttpResponse(conn, {.status = resp.status,
                          .content_type = resp.content_type,
                          .body = resp.body,
                          .headers = headers,
                          .head = head});
}

int Dispatch(mg_connection* conn, void* cbdata) {
  const auto* state = static_cast<const HttpServer::State*>(cbdata);
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method != nullptr ? info->request_method : "";
  const bool head = req.method == "HEAD";
  // local_uri_raw is the path as sent (decode_url is off); local_uri is
  // normalised. They differ when the path had dot segments.
  const char* raw = info->local_uri_raw != nullptr ? info->local_uri_raw : info->local_uri;
  if (!CleanPath(raw) || info->local_uri == nullptr || std::strcmp(raw, info->local_uri) != 0) {
    Send(conn, {400, "bad request path\n"}, head);
    return 400;
  }
  req.path = info->local_uri;
  req.query = info->query_string != nullptr ? info->query_string : "";

  if (state->auth) {
    bool open = false;
    for (const auto& p : state->public_paths) open = open || p == req.path;
    if (!open) {
      const char* authz = mg_get_header(conn, "Authorization");
      switch (state->auth->Check(authz != nullptr ? authz : "")) {
        case AuthResult::kOk:
          break;
        case AuthResult::kDenied:
          Send(conn, {401, "authentication required\n"}, head,
               {{"WWW-Authenticate", state->auth->Challenge()}});
          return 401;
        case AuthResult::kBusy:
          Send(conn, {429, "too many authentication attempts at once; retry\n"}, head,
               {{"Retry-After", "1"}});
          return 429;
      }
    }
  }

  const HttpServer::Route* route = nullptr;
  for (const auto& r : *state->routes) {
    if (r->path == req.path) route = r.get();
  }
  if (route == nullptr) {
    Send(conn, {404, "not found\n"}, head);
    return 404;
  }
  if (req.method != "GET" && !head) {
    Send(conn, {405, "only GET and HEAD are served here\n"}, head, {{"Allow", "GET, HEAD"}});
    return 405;
  }
  HttpResponse resp;
  try {
    resp = route->handler(req);
  } catch (const std::exception&) {
    resp = {500, "internal error\n"};
  }
  Send(conn, resp, head);
  return resp.status;
}

// HttpError replaces CivetWeb's own error pages (for requests that never
// reach Dispatch: malformed, too large, timed out) with a short plain one.
int HttpError(mg_connection* conn, int status, const char* /*errmsg*/) {
  const char* text = mg_get_response_code_text(conn, status);
  HttpResponse resp{status, fmt::format("{}\n", text != nullptr ? text : "error")};
  SendHttpResponse(conn, {.status = status, .content_type = resp.content_type, .body = resp.body},
                   /*close=*/true);
  return 0;
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

// OpensslError pops OpenSSL's error queue into one short reason.
std::string OpensslError() {
  unsigned long e = ERR_get_error();
  std::string why;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    why = reason != nullptr ? reason : fmt::format("OpenSSL error {:x}", e);
  }
  ERR_clear_error();
  return why.empty() ? "not valid PEM" : why;
}

// ReadableFile checks that `path` can be opened for reading.
Status ReadableFile(const char* what, const std::string& path) {
  if (path.empty()) return Error{ErrorCode::kInvalidArgument, fmt::format("no {} given", what)};
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return Error{errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                 fmt::format("cannot read the TLS {} {}: {}", what, path, std::strerror(errno))};
  }
  std::fclose(f);
  return OkStatus();
}

// NoPassphrase refuses to prompt for the passphrase of an encrypted key.
int NoPassphrase(char*, int, int, void*) { return 0; }

// LoadCertAndKey puts the certificate chain and the key into `ctx`.
Status LoadCertAndKey(SSL_CTX* ctx, const HttpTls& tls) {
  if (Status s = ReadableFile("certificate file", tls.cert_file); !s) return s;
  if (Status s = ReadableFile("key file", tls.key_file); !s) return s;
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ctx, NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("TLS certificate file {} holds no usable PEM certificate ({})",
                             tls.cert_file, OpensslError())};
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const std::string why = OpensslError();
    if (why.find("values mismatch") != std::string::npos ||
        why.find("key values mismatch") != std::string::npos) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("the private key in {} does not match the certificate in {}",
                               tls.key_file, tls.cert_file)};
    }
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("TLS key file {} holds no usable unencrypted PEM private key ({})",
                             tls.key_file, why)};
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("the private key in {} does not match the certificate in {}",
                             tls.key_file, tls.cert_file)};
  }
  return OkStatus();
}

// InitSsl is CivetWeb's init_ssl callback: we load the files ourselves (1:
// done), so that certificate and key can live in separate files.
int InitSsl(void* ssl_ctx, void* user_data) {
  auto* state = static_cast<HttpServer::State*>(user_data);
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (Status s = LoadCertAndKey(ctx, state->tls); !s) {
    state->tls_error = s.error().message;
    return -1;
  }
  return 1;
}

// CivetWeb (Debian's 1.15) loads OpenSSL at run time as "libssl.so" and
// "libcrypto.so" and looks up SSL_get_peer_certificate, which OpenSSL 3 only
// has as a macro; with the symbol missing it calls a null pointer on the
// first HTTPS connection (civetweb issue #1334). Two tiny libraries built
// with this module carry those sonames, depend on the real libssl.so.3 and
// libcrypto.so.3, and add the missing function; loaded first, they are what
// CivetWeb's dlopen finds. See exporters/src/tls_compat/.
Status PrepareCivetwebTls() {
  static std::once_flag once;
  static std::string problem;
  std::call_once(once, [] {
    // Next to the installed executable (<prefix>/bin/../<libdir>/poolscope,
    // wherever the package put it), then the configured install and build
    // folders.
    std::vector<std::string> dirs;
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      std::string e(exe, static_cast<std::size_t>(n));
      dirs.push_back(e.substr(0, e.rfind('/')) + "/../" POOLSCOPE_TLS_COMPAT_LIBDIR "/poolscope");
    }
    dirs.push_back(POOLSCOPE_TLS_COMPAT_INSTALL_DIR);
    dirs.push_back(POOLSCOPE_TLS_COMPAT_BUILD_DIR);
    for (const char* lib :
         {"libpoolscope-civetweb-libcrypto.so", "libpoolscope-civetweb-libssl.so"}) {
      for (const std::string& dir : dirs) {
        const std::string path = fmt::format("{}/{}", dir, lib);
        if (access(path.c_str(), R_OK) == 0 && dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) break;
      }
    }
    void* ssl = dlopen("libssl.so", RTLD_LAZY | RTLD_NOLOAD);
    if (ssl == nullptr) ssl = dlopen("libssl.so", RTLD_LAZY);
    void* crypto = dlopen("libcrypto.so", RTLD_LAZY | RTLD_NOLOAD);
    if (crypto == nullptr) crypto = dlopen("libcrypto.so", RTLD_LAZY);
    if (ssl == nullptr || crypto == nullptr || dlsym(ssl, "SSL_get_peer_certificate") == nullptr) {
      problem = fmt::format(
          "HTTPS is unavailable: CivetWeb needs libssl.so with SSL_get_peer_certificate, and the "
          "compatibility libraries libpoolscope-civetweb-lib{{ssl,crypto}}.so were not found in "
          "{} (reinstall poolscope)",
          fmt::join(dirs, ", "));
    }
  });
  if (!problem.empty()) return Error{ErrorCode::kUnavailable, problem};
  return OkStatus();
}

}  // namespace

Status CheckTlsFiles(const HttpTls& tls) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return Error{ErrorCode::kInternal, "cannot create a TLS context: " + OpensslError()};
  return LoadCertAndKey(ctx.get(), tls);
}

HttpServer::HttpServer() : state_(std::make_unique<State>()) {
  static std::once_flag init;
  std::call_once(init, [] { mg_init_library(0); });
  state_->routes = &routes_;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, HttpHandler handler) {
  routes_.push_back(std::make_unique<Route>(Route{std::move(path), std::move(handler)}));
}

Status HttpServer::Start(const HostPort& address) {
  HttpServerOptions o;
  o.listen = address;
  return Start(o);
}

Status HttpServer::Start(const HttpServerOptions& o) {
  const bool tls = !o.tls.cert_file.empty() || !o.tls.key_file.empty();
  if (tls) {
    if (Status s = CheckTlsFiles(o.tls); !s) return s;
    if (Status s = PrepareCivetwebTls(); !s) return s;
  }
  state_->auth = o.auth;
  state_->public_paths = o.public_paths;
  state_->tls = o.tls;
  state_->tls_error.clear();
  const std::string ports = o.listen.ToString() + (tls ? "s" : "");
  const std::string threads = std::to_string(std::max(2, o.threads));
  const std::string request_timeout = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(o.request_timeout).count());
  const std::string keep_alive = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(o.keep_alive_timeout).count());
  const std::string max_request = std::to_string(o.max_request_bytes);
  std::vector<const char*> options = {
      "listening_ports", ports.c_str(), "num_threads", threads.c_str(), "request_timeout_ms",
      request_timeout.c_str(), "enable_keep_alive", "yes", "keep_alive_timeout_ms",
      keep_alive.c_str(), "max_request_size", max_request.c_str(), "enable_directory_listing", "no",
      // Paths stay percent-encoded, so "%00" cannot cut one
      // short; CleanPath refuses any '%'.
      "decode_url", "no"};
  if (tls) {
    options.insert(options.end(), {"ssl_protocol_version", "4"});
  }
  options.push_back(nullptr);
  mg_callbacks callbacks{};
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };  // we report
  callbacks.http_error = HttpError;
  if (tls) callbacks.init_ssl = InitSsl;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = state_.get();
  init.configuration_options = options.data();
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data err{&code, text, sizeof text};
  ctx_ = mg_start2(&init, &err);
  if (ctx_ == nullptr) {
    if (!state_->tls_error.empty()) return Error{ErrorCode::kInvalidArgument, state_->tls_error};
    std::string why = WhyCannotBind(o.listen);
    if (why.empty()) why = text[0] != '\0' ? text : "unknown error";
    return Error{ErrorCode::kUnavailable, fmt::format("cannot listen on {}: {}", ports, why)};
  }
  // One handler for every path: Dispatch checks, authenticates and routes.
  mg_set_request_handler(ctx_, "/", Dispatch, state_.get());
  mg_server_port bound[4];
  int n = mg_get_server_ports(ctx_, 4, bound);
  port_ = n > 0 ? static_cast<std::uint16_t>(bound[0].port) : o.listen.port;
  host_ = o.listen.host;
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
