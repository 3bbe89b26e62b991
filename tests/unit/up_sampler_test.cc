#include "poolscope/samplers/up_sampler.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using ::testing::HasSubstr;

// ScriptedProbe returns the queued results in order, then the last one.
class ScriptedProbe : public Probe {
 public:
  explicit ScriptedProbe(std::deque<bool> script) : script_(std::move(script)) {}
  Status Check(Clock::time_point, std::stop_token) override {
    bool up = script_.front();
    if (script_.size() > 1) script_.pop_front();
    if (up) return OkStatus();
    return Error{ErrorCode::kUnavailable, "connection refused"};
  }

 private:
  std::deque<bool> script_;
};

class UpSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  void TearDown() override {
    spdlog::set_default_logger(spdlog::stderr_color_mt("restored-" + std::to_string(++restored_)));
  }

  int Count(const std::string& needle) const {
    std::string s = log_.str();
    int n = 0;
    for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
    return n;
  }

  static inline int restored_ = 0;
  std::ostringstream log_;
  prometheus::Registry registry_;
  SamplerMetrics metrics_{registry_};
};

TEST_F(UpSamplerTest, PublishesStateAndLogsOnlyTransitions) {
  auto& up = metrics_.pg_up.Add({{"target", "main"}});
  UpSampler s(
      {"pg_up", "main", std::chrono::seconds(1), std::chrono::seconds(1)},
      std::make_unique<ScriptedProbe>(std::deque<bool>{true, false, false, false, true, true}), up,
      metrics_);
  std::stop_source stop;
  ASSERT_TRUE(s.RunOnce(stop.get_token()));
  EXPECT_EQ(up.Value(), 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.RunOnce(stop.get_token()));
  EXPECT_EQ(up.Value(), 0);
  auto& success = metrics_.success.Add({{"sampler", "pg_up"}, {"target", "main"}});
  auto& errors = metrics_.errors.Add({{"sampler", "pg_up"}, {"target", "main"}});
  EXPECT_EQ(success.Value(), 0);
  EXPECT_EQ(errors.Value(), 3);
  ASSERT_TRUE(s.RunOnce(stop.get_token()));
  ASSERT_TRUE(s.RunOnce(stop.get_token()));
  EXPECT_EQ(up.Value(), 1);
  EXPECT_EQ(success.Value(), 1);
  EXPECT_EQ(Count("down: connection refused"), 1) << log_.str();
  EXPECT_EQ(Count("up again after"), 1) << log_.str();
  EXPECT_THAT(log_.str(), HasSubstr("[warning] pg_up target main: down"));
}

TEST_F(UpSamplerTest, DownAtStartIsLoggedOnce) {
  auto& up = metrics_.redis_up.Add({{"target", "cache"}});
  up.Set(1);
  UpSampler s({"redis_up", "cache", std::chrono::seconds(1), std::chrono::seconds(1)},
              std::make_unique<ScriptedProbe>(std::deque<bool>{false}), up, metrics_);
  std::stop_source stop;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.RunOnce(stop.get_token()));
  EXPECT_EQ(up.Value(), 0);
  EXPECT_EQ(Count("down:"), 1);
}

// CancelledProbe blocks until stopped, like a check against a frozen server.
class CancelledProbe : public Probe {
 public:
  Status Check(Clock::time_point deadline, std::stop_token stop) override {
    while (!stop.stop_requested() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Error{ErrorCode::kCancelled, "stopped"};
  }
};

TEST_F(UpSamplerTest, StopInterruptsAHangingCheckQuickly) {
  auto& up = metrics_.pg_up.Add({{"target", "frozen"}});
  UpSampler s({"pg_up", "frozen", std::chrono::seconds(30), std::chrono::seconds(30)},
              std::make_unique<CancelledProbe>(), up, metrics_);
  s.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t0 = Clock::now();
  s.Stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
  auto& errors = metrics_.errors.Add({{"sampler", "pg_up"}, {"target", "frozen"}});
  EXPECT_EQ(errors.Value(), 0) << "a cancelled check is not a failure of the target";
}

}  // namespace
}  // namespace poolscope
