#include "poolscope/samplers/redis_probe.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace poolscope {

struct RedisProbe::Conn {
  struct Free {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  struct FreeReply {
    void operator()(void* r) const { freeReplyObject(r); }
  };
  std::unique_ptr<redisContext, Free> ctx;
};

RedisProbe::RedisProbe(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port) {}
RedisProbe::~RedisProbe() = default;

Status RedisProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  auto fail = [&](ErrorCode code, std::string msg) -> Status {
    conn_.reset();
    return Error{code, std::move(msg)};
  };
  auto wait_failed = [&](WaitResult w, const char* phase) -> Status {
    Error e = WaitError(w, phase);
    return fail(e.code, std::move(e.message));
  };
  const std::string where = fmt::format("redis at {}:{}", host_, port_);

  if (!conn_) {
    conn_ = std::make_unique<Conn>();
    conn_->ctx.reset(redisConnectNonBlock(host_.c_str(), port_));
    redisContext* c = conn_->ctx.get();
    if (c == nullptr) return fail(ErrorCode::kInternal, "out of memory starting a connection");
    if (c->err != 0) return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
    WaitResult w = WaitForFd(c->fd, true, deadline, stop);
    if (w != WaitResult::kReady) return wait_failed(w, "connecting");
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
      return fail(ErrorCode::kUnavailable,
                  fmt::format("{}: connect failed: {}", where, std::strerror(so_error)));
    }
  }

  redisContext* c = conn_->ctx.get();
  if (redisAppendCommand(c, "PING") != REDIS_OK) {
    return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) {
      return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
    }
    if (!done) {
      WaitResult w = WaitForFd(c->fd, true, deadline, stop);
      if (w != WaitResult::kReady) return wait_failed(w, "sending PING");
    }
  }
  void* raw = nullptr;
  while (true) {
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
      return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
    }
    if (raw != nullptr) break;
    WaitResult w = WaitForFd(c->fd, false, deadline, stop);
    if (w != WaitResult::kReady) return wait_failed(w, "waiting for PONG");
    if (redisBufferRead(c) != REDIS_OK) {
      return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
    }
  }
  std::unique_ptr<void, Conn::FreeReply> reply(raw);
  auto* r = static_cast<redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    // e.g. NOAUTH or LOADING: the server is there but cannot serve.
    std::string msg(r->str, r->len);
    return fail(ErrorCode::kUnavailable, fmt::format("{} answered PING with an error: {}", where,
                                                     msg.substr(0, msg.find(' '))));
  }
  return OkStatus();
}

}  // namespace poolscope
