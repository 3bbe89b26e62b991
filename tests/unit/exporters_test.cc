#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "http_get.h"
#include "poolscope/exporters/http_response.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"

namespace poolscope {
namespace {

using ::poolscope::testing::ConnectLoopback;
using ::poolscope::testing::HttpGet;
using ::testing::HasSubstr;

TEST(HttpServerTest, ServesExactPathsOnAFreePort) {
  HttpServer server;
  server.Handle("/hello", [](const HttpRequest& r) { return HttpResponse{200, "hi " + r.query}; });
  ASSERT_TRUE(server.Start({"127.0.0.1", 0}).ok());
  ASSERT_NE(server.port(), 0);
  auto ok = HttpGet(server.port(), "/hello?x=1");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "hi x=1");
  EXPECT_EQ(HttpGet(server.port(), "/hello/more").status, 404);
  EXPECT_EQ(HttpGet(server.port(), "/nothing").status, 404);
}

TEST(HttpServerTest, PortInUseIsAClearError) {
  HttpServer first;
  ASSERT_TRUE(first.Start({"127.0.0.1", 0}).ok());
  HttpServer second;
  Status s = second.Start({"127.0.0.1", first.port()});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message,
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
  EXPECT_THAT(s.error().message, HasSubstr("choose another http.listen port"));
}

TEST(HttpResponseTest, KeepAliveFollowsVersionAndConnectionHeader) {
  EXPECT_TRUE(KeepAliveWanted("1.1", ""));
  EXPECT_FALSE(KeepAliveWanted("1.0", ""));
  EXPECT_FALSE(KeepAliveWanted("1.1", "close"));
  EXPECT_FALSE(KeepAliveWanted("1.1", " Close "));
  EXPECT_TRUE(KeepAliveWanted("1.0", "Keep-Alive"));
  EXPECT_TRUE(KeepAliveWanted("1.0", "TE, keep-alive"));
  EXPECT_FALSE(KeepAliveWanted("1.1", "keep-alive, close"));
  EXPECT_FALSE(KeepAliveWanted("1.1", "upgrade"));
}

TEST(HttpResponseTest, FormatsTheWholeResponseInOneBuffer) {
  const HttpHeader extra[] = {{"Retry-After", "1"}};
  HttpResponseParts parts{.status = 429, .content_type = "text/plain", .body = "busy\n"};
  parts.headers = extra;
  // 784111777: Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date).
  EXPECT_EQ(FormatHttpResponse("1.1", parts, /*keep_alive=*/true, 784111777),
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\nRetry-After: 1\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Connection: keep-alive\r\n\r\nbusy\n");
  parts.head = true;  // HEAD: the body's length, no body
  EXPECT_EQ(FormatHttpResponse("1.0", parts, /*keep_alive=*/false, 784111777),
            "HTTP/1.0 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\nRetry-After: 1\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Connection: close\r\n\r\n");
}

// RawHttp sends `request` on `fd` and reads one response (head and
// Content-Length bytes of body, none for HEAD); empty when the peer closed first.
std::string RawHttp(int fd, const std::string& request) {
  const bool head = request.starts_with("HEAD ");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string got;
  char buf[4096];
  while (true) {
    const std::size_t end = got.find("\r\n\r\n");
    if (end != std::string::npos) {
      const std::size_t cl = got.find("Content-Length: ");
      const std::size_t len = cl == std::string::npos || head ? 0 : std::stoul(got.substr(cl + 16));
      if (got.size() >= end + 4 + len) return got;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    got.append(buf, static_cast<std::size_t>(n));
  }
}

TEST(HttpServerTest, KeepsHttp11ConnectionsOpenAndClosesWhenAsked) {
  HttpServer server;
  server.Handle("/a", [](const HttpRequest&) { return HttpResponse{200, "alpha\n"}; });
  ASSERT_TRUE(server.Start({"127.0.0.1", 0}).ok());
  int fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 3; ++i) {  // three requests on one connection
    std::string r = RawHttp(fd, req);
    EXPECT_THAT(r, ::testing::StartsWith("HTTP/1.1 200 OK\r\n")) << "request " << i;
    EXPECT_THAT(r, HasSubstr("\r\nConnection: keep-alive\r\n"));
    EXPECT_THAT(r, HasSubstr("\r\nCache-Control: no-store\r\n"));
    EXPECT_THAT(r, ::testing::EndsWith("\r\n\r\nalpha\n"));
  }
  std::string last = RawHttp(fd, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(last, HasSubstr("\r\nConnection: close\r\n"));
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "the server keeps a connection it said it would close";
  close(fd);

  fd = ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  std::string head = RawHttp(fd, "HEAD /a HTTP/1.0\r\n\r\n");
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nContent-Length: 6\r\n"));
  EXPECT_THAT(head, ::testing::EndsWith("\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);
  close(fd);
}

TEST(ProcessCollectorTest, ReportsThisProcess) {
  ProcessCollector c;
  auto fams = c.Collect();
  std::map<std::string, double> v;
  for (const auto& f : fams) {
    v[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                          : f.metric[0].gauge.value;
  }
  EXPECT_GT(v["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(v["process_start_time_seconds"], 1.6e9);
  EXPECT_GE(v["process_cpu_seconds_total"], 0);
  double before = v["process_open_fds"];
  int fd = ::dup(0);
  for (const auto& f : c.Collect()) {
    if (f.name == "process_open_fds") {
      EXPECT_EQ(f.metric[0].gauge.value, before + 1);
    }
  }
  ::close(fd);
}

TEST(MetricsHandlerTest, RendersTextFormat) {
  auto reg = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("t_events_total")
      .Help("h")
      .Register(*reg)
      .Add({{"a", "b"}})
      .Increment(3);
  MetricsHandler h({reg, std::make_shared<ProcessCollector>()});
  std::string text = h.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE t_events_total counter"));
  EXPECT_THAT(text, HasSubstr("t_events_total{a=\"b\"} 3"));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
}

}  // namespace
}  // namespace poolscope
