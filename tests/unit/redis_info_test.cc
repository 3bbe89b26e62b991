#include "poolscope/samplers/redis_info.h"

#include <cmath>

#include <gtest/gtest.h>

namespace poolscope {
namespace {

TEST(RedisInfoTest, ReadsFieldsAndKeyspace) {
  const RedisInfo info = ParseRedisInfo(
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n"
      "maxclients:10000\r\n# Stats\r\nkeyspace_hits:42\r\nkeyspace_misses:7\r\n"
      "# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb5:keys=1,expires=0,avg_ttl=0\r\n");
  EXPECT_EQ(info.Number("connected_clients"), 3);
  EXPECT_EQ(info.Number("maxclients"), 10000);
  EXPECT_EQ(info.Number("keyspace_hits"), 42);
  EXPECT_EQ(info.Number("keyspace_misses"), 7);
  ASSERT_EQ(info.keyspace.size(), 2u);
  EXPECT_EQ(info.keyspace.at("db0").keys, 12);
  EXPECT_EQ(info.keyspace.at("db0").expires, 3);
  EXPECT_EQ(info.keyspace.at("db5").keys, 1);
  EXPECT_TRUE(std::isnan(info.Number("redis_version"))) << "text is not a number";
  EXPECT_TRUE(std::isnan(info.Number("absent")));
}

TEST(RedisInfoTest, SkipsMalformedLinesAndBoundsTheFields) {
  std::string text = "no colon here\n:leading colon\ndbx:keys=1\ndb1:keys=abc\nok:1\n";
  for (int i = 0; i < 5000; ++i) text += "f" + std::to_string(i) + ":1\n";
  const RedisInfo info = ParseRedisInfo(text);
  EXPECT_EQ(info.Number("ok"), 1);
  EXPECT_EQ(info.keyspace.count("db1"), 0u) << "a db line without numbers is left out";
  EXPECT_LE(info.fields.size(), kMaxRedisInfoFields);
  EXPECT_EQ(ParseRedisInfo("").fields.size(), 0u);
}

}  // namespace
}  // namespace poolscope
