// Decoding of the hiredis replies RedisL2 reads: MGET answers and
// invalidation-channel messages. Apart from the connection code so that unit
// tests and the fuzzer (fuzz/redis_reply_fuzz.cc) can feed it any reply a
// server could send, malformed or hostile ones included.
//
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "poolscope/core/result.h"

namespace poolscope {

// DecodeMGet turns the reply to `MGET k1 .. kN` (N = `keys`) into one value
// per key: a string for a bulk-string element, nullopt for nil or any other
// element type. A reply that is not an array of `keys` elements is an error.
Result<std::vector<std::optional<std::string>>> DecodeMGet(const redisReply& reply,
                                                           std::size_t keys);

// DecodeMessage returns the payload of a pub/sub push `["message", channel,
// payload]` whose elements are all strings; nullopt for anything else
// (subscribe confirmations, pushes of other shapes).
std::optional<std::string> DecodeMessage(const redisReply& reply);

}  // namespace poolscope
