// Unit tests for the decoding of Redis replies in the cache's L2 (MGET
// answers, invalidation messages), fed through hiredis's own reply reader.
#include "redis_reply.h"

#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace poolscope {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// Read parses one RESP reply with hiredis.
ReplyPtr Read(const std::string& resp) {
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(),
                                                                  &redisReaderFree);
  EXPECT_EQ(redisReaderFeed(reader.get(), resp.data(), resp.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  EXPECT_NE(raw, nullptr) << "incomplete reply";
  return ReplyPtr(static_cast<redisReply*>(raw));
}

TEST(RedisReplyTest, MGetKeepsStringsAndNils) {
  ReplyPtr r = Read("*3\r\n$2\r\nvA\r\n$-1\r\n$0\r\n\r\n");
  auto v = DecodeMGet(*r, 3);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0], "vA");
  EXPECT_FALSE((*v)[1].has_value());
  EXPECT_EQ((*v)[2], "");
}

TEST(RedisReplyTest, MGetRejectsOtherShapes) {
  EXPECT_FALSE(DecodeMGet(*Read("*1\r\n$1\r\na\r\n"), 2));  // wrong count
  EXPECT_FALSE(DecodeMGet(*Read("$1\r\na\r\n"), 1));        // not an array
  EXPECT_FALSE(DecodeMGet(*Read("*-1\r\n"), 0));            // nil array
  // Non-string elements (integer, nested array, status) are misses, not values.
  auto v = DecodeMGet(*Read("*3\r\n:7\r\n*1\r\n$1\r\nx\r\n+OK\r\n"), 3);
  ASSERT_TRUE(v);
  for (const auto& e : *v) EXPECT_FALSE(e.has_value());
}

TEST(RedisReplyTest, MessageNeedsThreeStrings) {
  auto m = DecodeMessage(*Read("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\ni1 k1\r\n"));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, "i1 k1");
  EXPECT_FALSE(DecodeMessage(*Read("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n")));
  // Regression: a "message" push whose payload is nil or an integer used to
  // be read through its null string pointer; it is ignored now.
  EXPECT_FALSE(DecodeMessage(*Read("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$-1\r\n")));
  EXPECT_FALSE(DecodeMessage(*Read("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n:5\r\n")));
  EXPECT_FALSE(DecodeMessage(*Read("*3\r\n$-1\r\n$2\r\nch\r\n$1\r\nx\r\n")));
  EXPECT_FALSE(DecodeMessage(*Read("*2\r\n$7\r\nmessage\r\n$2\r\nch\r\n")));
}

}  // namespace
}  // namespace poolscope
