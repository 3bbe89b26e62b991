#include "poolscope/core/duration.h"

#include <gtest/gtest.h>

namespace poolscope {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesUnitsAndCompounds) {
  EXPECT_EQ(ParseDuration("250ms"), Duration(250ms));
  EXPECT_EQ(ParseDuration("5s"), Duration(5s));
  EXPECT_EQ(ParseDuration("2m"), Duration(2min));
  EXPECT_EQ(ParseDuration("1h"), Duration(1h));
  EXPECT_EQ(ParseDuration("1m30s"), Duration(90s));
  EXPECT_EQ(ParseDuration("1.5s"), Duration(1500ms));
  EXPECT_EQ(ParseDuration("500us"), Duration(500us));
  EXPECT_EQ(ParseDuration("0"), Duration::zero());
}

TEST(DurationTest, RejectsMalformed) {
  for (const char* bad : {"", "5", "s", "5x", "5 s", "-1s", "1s5", "ms", "1.s5"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseDuration("99999999999999999999h").has_value());
}

TEST(DurationTest, FormatsBack) {
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
  EXPECT_EQ(ParseDuration(FormatDuration(3723s + 5ms)), Duration(3723s + 5ms));
}

}  // namespace
}  // namespace poolscope
