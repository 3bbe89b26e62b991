// The HTTP surface under attack, with curl and raw sockets against a real
// HttpServer: basic auth enforced, HTTPS with a throw-away self-signed
// certificate, a slow client that must not stall /metrics, oversized
// headers, path traversal attempts, no server banner.
#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "http_get.h"
#include "poolscope/exporters/basic_auth.h"
#include "poolscope/exporters/http_server.h"

namespace poolscope {
namespace {

using ::poolscope::testing::Eventually;
using ::poolscope::testing::HttpGet;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kDebugBody = "DEBUG-PAGE-BODY\n";
constexpr const char* kMetricsBody = "METRICS-BODY\n";

bool HaveCurl() { return ::poolscope::testing::Run("command -v curl >/dev/null 2>&1") == 0; }

// Connect opens a TCP connection to 127.0.0.1:port; -1 on failure.
int Connect(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Raw sends `request` as is and returns what the server answers before it
// closes the connection (or 5 s pass).
std::string Raw(std::uint16_t port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string Curl(const std::string& args) {
  std::string out;
  ::poolscope::testing::Run("curl -s --max-time 5 " + args + " 2>&1", &out);
  return out;
}

std::string Hash(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  crypt_gensalt_rn("$6$", 0, nullptr, 0, setting, sizeof setting);
  crypt_data data{};
  return crypt_rn(password.c_str(), setting, &data, sizeof data);
}

class HttpSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Handle("/metrics", [](const HttpRequest&) { return HttpResponse{200, kMetricsBody}; });
    server_.Handle("/healthz", [](const HttpRequest&) { return HttpResponse{200, "ok\n"}; });
    server_.Handle("/debug/pool", [](const HttpRequest&) { return HttpResponse{200, kDebugBody}; });
  }

  HttpServer server_;
};

TEST_F(HttpSecurityTest, BasicAuthIsEnforcedOnEveryPath) {
  if (!HaveCurl()) GTEST_SKIP() << "curl is not installed";
  HttpServerOptions o;
  o.auth =
      std::make_shared<BasicAuth>(std::vector<BasicAuthUser>{{"prometheus", Hash("right-pass")}},
                                  BasicAuthOptions{.realm = "poolscope test"});
  ASSERT_TRUE(server_.Start(o).ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(server_.port());
  const std::string code = " -o /dev/null -w '%{http_code}' ";
  for (const char* path : {"/metrics", "/healthz", "/debug/pool", "/nope", "/"}) {
    EXPECT_EQ(Curl(code + url + path), "401") << path;
    EXPECT_EQ(Curl(code + "-u prometheus:wrong-pass " + url + path), "401") << path;
    EXPECT_EQ(Curl(code + "-u someone:right-pass " + url + path), "401") << path;
  }
  EXPECT_EQ(Curl(code + "-u prometheus:right-pass " + url + "/metrics"), "200");
  EXPECT_EQ(Curl("-u prometheus:right-pass " + url + "/metrics"), "METRICS-BODY");
  EXPECT_EQ(Curl(code + "-u prometheus:right-pass " + url + "/nope"), "404");
  const std::string denied = Curl("-i " + url + "/metrics");
  EXPECT_THAT(denied, HasSubstr("WWW-Authenticate: Basic realm=\"poolscope test\""));
  EXPECT_THAT(denied, Not(HasSubstr(kMetricsBody)));
  // Many scrapes cost one hash.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Curl(code + "-u prometheus:right-pass " + url + "/metrics"), "200");
  }
  EXPECT_LE(o.auth->hashes_computed(), 2u + 15u) << "wrong passwords are hashed, good ones cached";
}

TEST_F(HttpSecurityTest, HealthzCanBeLeftOpen) {
  if (!HaveCurl()) GTEST_SKIP() << "curl is not installed";
  HttpServerOptions o;
  o.auth =
      std::make_shared<BasicAuth>(std::vector<BasicAuthUser>{{"p", Hash("x")}}, BasicAuthOptions{});
  o.public_paths = {"/healthz"};
  ASSERT_TRUE(server_.Start(o).ok());
  EXPECT_EQ(HttpGet(server_.port(), "/healthz").status, 200);
  EXPECT_EQ(HttpGet(server_.port(), "/metrics").status, 401);
  EXPECT_EQ(HttpGet(server_.port(), "/debug/pool").status, 401);
}

class TlsTest : public HttpSecurityTest {
 protected:
  void SetUp() override {
    HttpSecurityTest::SetUp();
    if (!HaveCurl() || ::poolscope::testing::Run("command -v openssl >/dev/null") != 0) {
      GTEST_SKIP() << "curl or openssl is not installed";
    }
    char tmpl[] = "/tmp/poolscope-tls.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* name : {"a", "b"}) {
      ASSERT_EQ(::poolscope::testing::Run(
                    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                    "-days 1 -subj /CN=localhost "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                    dir_ + "/" + name + ".key -out " + dir_ + "/" + name + ".crt 2>/dev/null"),
                0);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) ::poolscope::testing::Run("rm -rf '" + dir_ + "'");
  }
  std::string dir_;
};

TEST_F(TlsTest, ServesHttpsWithTheGivenCertificate) {
  HttpServerOptions o;
  o.tls = {dir_ + "/a.crt", dir_ + "/a.key"};
  o.auth = std::make_shared<BasicAuth>(std::vector<BasicAuthUser>{{"p", Hash("pw")}},
                                       BasicAuthOptions{});
  Status s = server_.Start(o);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const std::string url = "https://127.0.0.1:" + std::to_string(server_.port());
  EXPECT_EQ(Curl("--cacert " + dir_ + "/a.crt -u p:pw " + url + "/metrics"), "METRICS-BODY");
  EXPECT_EQ(Curl("--cacert " + dir_ + "/a.crt -o /dev/null -w '%{http_code}' " + url + "/metrics"),
            "401");
  // Another certificate authority is not trusted; plain HTTP gets nothing.
  EXPECT_THAT(Curl("--cacert " + dir_ + "/b.crt " + url + "/metrics"), Not(HasSubstr("METRICS")));
  EXPECT_EQ(HttpGet(server_.port(), "/metrics").status, 0);
  // TLS below 1.2 is refused.
  EXPECT_THAT(Curl("--tls-max 1.1 --cacert " + dir_ + "/a.crt -u p:pw " + url + "/metrics"),
              Not(HasSubstr("METRICS")));
}

TEST_F(TlsTest, BadCertificateOrKeyIsAClearStartError) {
  struct Case {
    HttpTls tls;
    std::string says;
  } cases[] = {
      {{dir_ + "/none.crt", dir_ + "/a.key"},
       "cannot read the TLS certificate file " + dir_ + "/none.crt: No such file or directory"},
      {{dir_ + "/a.crt", dir_ + "/none.key"},
       "cannot read the TLS key file " + dir_ + "/none.key: No such file or directory"},
      {{dir_ + "/a.crt", dir_ + "/b.key"},
       "the private key in " + dir_ + "/b.key does not match the certificate in " + dir_ +
           "/a.crt"},
      {{dir_ + "/a.key", dir_ + "/a.key"}, "holds no usable PEM certificate"},
      {{dir_ + "/a.crt", dir_ + "/a.crt"}, "holds no usable unencrypted PEM private key"},
  };
  for (const auto& c : cases) {
    HttpServer server;
    HttpServerOptions o;
    o.tls = c.tls;
    Status s = server.Start(o);
    ASSERT_FALSE(s.ok()) << c.says;
    EXPECT_THAT(s.error().message, HasSubstr(c.says));
  }
}

TEST_F(HttpSecurityTest, SlowClientsDoNotStallTheScrapePath) {
  HttpServerOptions o;
  o.request_timeout = 1500ms;
  ASSERT_TRUE(server_.Start(o).ok());
  // Slowloris: several connections that send half a request head and stop,
  // and several that send nothing at all.
  std::vector<int> slow;
  for (int i = 0; i < 6; ++i) {
    int fd = Connect(server_.port());
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) {
      const std::string part = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
      ::send(fd, part.data(), part.size(), MSG_NOSIGNAL);
    }
    slow.push_back(fd);
  }
  // /metrics keeps answering at once meanwhile.
  auto worst = 0ms;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = HttpGet(server_.port(), "/metrics");
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(r.status, 200);
    worst = std::max(worst, took);
  }
  EXPECT_LT(worst, 100ms) << "/metrics waited behind slow clients";
  // The slow clients are cut off once the request timeout passes.
  EXPECT_TRUE(Eventually(6s, [&] {
    for (int fd : slow) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) return false;
      char c;
      if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) continue;  // an error page, then EOF
    }
    return true;
  }));
  for (int fd : slow) ::close(fd);
}

TEST_F(HttpSecurityTest, OversizedRequestHeadIsRefused) {
  ASSERT_TRUE(server_.Start(HttpServerOptions{}).ok());
  const std::string big =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  const std::string r = Raw(server_.port(), big);
  const int status = StatusOf(r);
  EXPECT_TRUE(status == 400 || status == 413 || status == 431) << r.substr(0, 200);
  EXPECT_THAT(r, Not(HasSubstr(kMetricsBody)));
  std::string many = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": 1\r\n";
  const std::string r2 = Raw(server_.port(), many + "\r\n");
  EXPECT_NE(StatusOf(r2), 200) << r2.substr(0, 200);
  // And the server is fine afterwards.
  EXPECT_EQ(HttpGet(server_.port(), "/metrics").status, 200);
}

TEST_F(HttpSecurityTest, TraversalAttemptsGetACleanErrorAndNothingElse) {
  ASSERT_TRUE(server_.Start(HttpServerOptions{}).ok());
  const char* attempts[] = {
      "/debug/../metrics",
      "/debug/%2e%2e/metrics",
      "/%2e%2e/debug/pool",
      "//debug/pool",
      "/debug//pool",
      "/./debug/pool",
      "/debug/./pool",
      "/debug/pool/..",
      "/debug/pool%00",
      "/debug%2fpool",
      "/debug/pool%2500",
      "/%64ebug/pool",
      "/debug\\pool",
      "/debug/pool/.",
      "/metrics/../debug/pool",
      "/debug/pool/x/../",
      "/DEBUG/POOL",
      "/debug/pool/",
      "/debug",
  };
  for (const char* path : attempts) {
    const std::string r =
        Raw(server_.port(),
            std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const int status = StatusOf(r);
    EXPECT_TRUE(status == 400 || status == 404) << path << " -> " << r.substr(0, 120);
    EXPECT_THAT(r, Not(HasSubstr("DEBUG-PAGE-BODY"))) << path;
    EXPECT_THAT(r, Not(HasSubstr("METRICS-BODY"))) << path;
  }
  // Methods other than GET/HEAD are refused; HEAD has no body.
  EXPECT_EQ(StatusOf(Raw(server_.port(),
                         "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         "0\r\nConnection: close\r\n\r\n")),
            405);
  const std::string head =
      Raw(server_.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_THAT(head, Not(HasSubstr(kMetricsBody)));
  // Garbage instead of a request line.
  EXPECT_NE(StatusOf(Raw(server_.port(), "\x01\x02 garbage\r\n\r\n")), 200);
}

TEST_F(HttpSecurityTest, NoServerBanner) {
  ASSERT_TRUE(server_.Start(HttpServerOptions{}).ok());
  for (const char* path : {"/metrics", "/nope", "/../x"}) {
    const std::string r =
        Raw(server_.port(),
            std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_NE(StatusOf(r), 0) << path;
    const std::string head = r.substr(0, r.find("\r\n\r\n"));
    EXPECT_THAT(head, Not(HasSubstr("Server:"))) << head;
    EXPECT_THAT(r, Not(HasSubstr("CivetWeb"))) << r;
    EXPECT_THAT(r, Not(HasSubstr("civetweb"))) << r;
  }
}

}  // namespace
}  // namespace poolscope
