#include "redis_reply.h"

#include <string_view>

namespace poolscope {
namespace {

bool IsString(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
         (r->str != nullptr || r->len == 0);
}

std::string_view Text(const redisReply* r) {
  return r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

}  // namespace

Result<std::vector<std::optional<std::string>>> DecodeMGet(const redisReply& reply,
                                                           std::size_t keys) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != keys ||
      (keys != 0 && reply.element == nullptr)) {
    return Error(ErrorCode::kInternal, "redis MGET answered an unexpected reply");
  }
  std::vector<std::optional<std::string>> out(keys);
  for (std::size_t i = 0; i < keys; ++i) {
    const redisReply* e = reply.element[i];
    if (e != nullptr && e->type == REDIS_REPLY_STRING && (e->str != nullptr || e->len == 0)) {
      out[i] = std::string(Text(e));
    }
  }
  return out;
}

std::optional<std::string> DecodeMessage(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 || reply.element == nullptr) {
    return std::nullopt;
  }
  const redisReply* kind = reply.element[0];
  if (!IsString(kind) || Text(kind) != "message" || !IsString(reply.element[1]) ||
      !IsString(reply.element[2])) {
    return std::nullopt;
  }
  return std::string(Text(reply.element[2]));
}

}  // namespace poolscope
