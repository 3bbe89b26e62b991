#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "http_get.h"
#include "poolscope/exporters/http_server.h"
#include "poolscope/exporters/metrics_handler.h"
#include "poolscope/exporters/process_collector.h"

namespace poolscope {
namespace {

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
