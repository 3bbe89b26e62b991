// Fuzz target: Redis replies as the cache's L2 decodes them.
//
// The input is raw RESP bytes, as a hostile or broken server could send;
// hiredis's reader (the same one RedisL2 reads with) turns them into replies,
// and each reply goes through DecodeMGet (for its own element count and for
// one more) and DecodeMessage.
// Properties: nothing crashes or leaks; DecodeMGet succeeds exactly for an
// array of the asked size and returns one value per key, each a copy of a
// bulk-string element; DecodeMessage answers only for a 3-element array
// starting with "message".
#include <hiredis/hiredis.h>

#include <memory>
#include <string_view>

#include "fuzz_target.h"
#include "redis_reply.h"

namespace poolscope::fuzz {
namespace {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

void CheckReply(const redisReply& r) {
  for (std::size_t keys : {r.elements, r.elements + 1}) {
    auto v = DecodeMGet(r, keys);
    const bool array = r.type == REDIS_REPLY_ARRAY && r.elements == keys;
    FUZZ_CHECK(static_cast<bool>(v) == array, "DecodeMGet accepted a reply of the wrong shape");
    if (!v) continue;
    FUZZ_CHECK(v->size() == keys, "DecodeMGet returned the wrong number of values");
    for (std::size_t i = 0; i < keys; ++i) {
      const redisReply* e = r.element[i];
      if ((*v)[i]) {
        FUZZ_CHECK(e->type == REDIS_REPLY_STRING, "DecodeMGet made a value of a non-string");
        FUZZ_CHECK(*(*v)[i] == std::string_view(e->str, e->len), "DecodeMGet changed a value");
      }
    }
  }
  auto m = DecodeMessage(r);
  if (m) {
    FUZZ_CHECK(r.type == REDIS_REPLY_ARRAY && r.elements == 3 &&
                   std::string_view(r.element[0]->str, r.element[0]->len) == "message",
               "DecodeMessage accepted something that is not a message push");
  }
}

}  // namespace

// DeclaresHugeAggregate: hiredis 0.14's reader allocates an aggregate's
// element array from the count in its header before any element arrives, so
// "*100000000\r\n" costs gigabytes inside hiredis (it has no maxelements
// knob before 1.0). That is hiredis's, not the decoding under test here: such
// inputs are skipped. poolscope only reads replies from its configured Redis.
bool DeclaresHugeAggregate(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] != '*' && data[i] != '%' && data[i] != '~' && data[i] != '>') continue;
    std::size_t digits = 0;
    while (i + 1 + digits < size && data[i + 1 + digits] >= '0' && data[i + 1 + digits] <= '9') {
      ++digits;
    }
    if (digits >= 6) return true;  // a million elements or more
  }
  return false;
}

int FuzzRedisReply(const std::uint8_t* data, std::size_t size) {
  if (DeclaresHugeAggregate(data, size)) return 0;
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(),
                                                                  &redisReaderFree);
  if (!reader) return 0;
  if (redisReaderFeed(reader.get(), reinterpret_cast<const char*>(data), size) != REDIS_OK) {
    return 0;
  }
  for (int n = 0; n < 64; ++n) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) break;
    std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(raw));
    CheckReply(*reply);
  }
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzRedisReply)
