#include "poolscope/core/host_port.h"

#include <gtest/gtest.h>

namespace poolscope {
namespace {

TEST(HostPortTest, ParsesAndPrints) {
  auto hp = ParseHostPort("127.0.0.1:9640");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9640);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:0");
}

TEST(HostPortTest, Rejects) {
  for (const char* bad : {"", "host", ":80", "h:", "h:x", "h:123456", "::1:80", "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace poolscope
