#include "poolscope/samplers/redis_probe.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "poolscope/exporters/snapshot_collector.h"
#include "poolscope/samplers/redis_info.h"

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

namespace {

// Publish turns an INFO reply into the contract's families.
std::vector<prometheus::MetricFamily> InfoFamilies(const std::string& target,
                                                   const RedisInfo& info) {
  FamilyBuilder f;
  const LabelPairs t{{"target", target}};
  auto gauge = [&](const char* name, const char* help, const char* field) {
    double v = info.Number(field);
    if (!std::isnan(v)) f.Gauge(name, help, t, v);
  };
  auto counter = [&](const char* name, const char* help, const char* field) {
    double v = info.Number(field);
    if (!std::isnan(v)) f.Counter(name, help, t, v);
  };
  counter("poolscope_redis_keyspace_hits_total", "Key lookups that found the key (INFO stats)",
          "keyspace_hits");
  counter("poolscope_redis_keyspace_misses_total", "Key lookups that missed (INFO stats)",
          "keyspace_misses");
  counter("poolscope_redis_evicted_keys_total", "Keys evicted for maxmemory (INFO stats)",
          "evicted_keys");
  counter("poolscope_redis_expired_keys_total", "Keys removed because their TTL ran out",
          "expired_keys");
  counter("poolscope_redis_commands_processed_total", "Commands the server processed",
          "total_commands_processed");
  counter("poolscope_redis_rejected_connections_total",
          "Connections refused because maxclients was reached", "rejected_connections");
  gauge("poolscope_redis_connected_clients", "Client connections open now", "connected_clients");
  gauge("poolscope_redis_blocked_clients", "Clients blocked in BLPOP and the like",
        "blocked_clients");
  gauge("poolscope_redis_max_clients", "The server's maxclients", "maxclients");
  gauge("poolscope_redis_memory_used_bytes", "Memory the server's allocator holds (used_memory)",
        "used_memory");
  gauge("poolscope_redis_memory_max_bytes", "The server's maxmemory (0: no limit)", "maxmemory");
  for (const auto& [db, ks] : info.keyspace) {
    f.Gauge("poolscope_redis_keys", "Keys per database", {{"target", target}, {"db", db}}, ks.keys);
  }
  return f.Take();
}

}  // namespace

RedisProbe::RedisProbe(std::string host, std::uint16_t port, RedisViewOptions view, RedisAuth auth)
    : host_(std::move(host)), port_(port), view_(std::move(view)), auth_(std::move(auth)) {}
RedisProbe::~RedisProbe() = default;

Status RedisProbe::Check(Clock::time_point deadline, std::stop_token stop) {
  const char* command = view_.sink ? "INFO" : "PING";
  auto fail = [&](ErrorCode code, std::string msg) -> Status {
    conn_.reset();
    if (view_.sink) view_.sink->Clear("redis/" + view_.target);
    return Error{code, std::move(msg)};
  };
  auto wait_failed = [&](WaitResult w, const char* phase) -> Status {
    Error e = WaitError(w, phase);
    return fail(e.code, std::move(e.message));
  };
  const std::string where = fmt::format("redis at {}:{}", host_, port_);

  bool fresh = false;
  if (!conn_) {
    fresh = true;
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
  // A new connection authenticates first (pipelined with the command).
  const bool authenticate = fresh && !auth_.password.empty();
  if (authenticate) {
    const std::string& pw = auth_.password.Expose();
    int rc = auth_.username.empty()
                 ? redisAppendCommand(c, "AUTH %b", pw.data(), pw.size())
                 : redisAppendCommand(c, "AUTH %b %b", auth_.username.data(), auth_.username.size(),
                                      pw.data(), pw.size());
    if (rc != REDIS_OK)
      return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
  }
  if (redisAppendCommand(c, command) != REDIS_OK) {
    return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
  }
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) {
      return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
    }
    if (!done) {
      WaitResult w = WaitForFd(c->fd, true, deadline, stop);
      if (w != WaitResult::kReady)
        return wait_failed(w, view_.sink ? "sending INFO" : "sending PING");
    }
  }
  void* raw = nullptr;
  for (int replies = authenticate ? 2 : 1; replies > 0; --replies) {
    raw = nullptr;
    while (true) {
      if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
        return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
      }
      if (raw != nullptr) break;
      WaitResult w = WaitForFd(c->fd, false, deadline, stop);
      if (w != WaitResult::kReady) {
        return wait_failed(w, view_.sink ? "waiting for the INFO reply" : "waiting for PONG");
      }
      if (redisBufferRead(c) != REDIS_OK) {
        return fail(ErrorCode::kUnavailable, fmt::format("{}: {}", where, c->errstr));
      }
    }
    if (replies == 2) {
      // The AUTH reply: only the error's first word (WRONGPASS, ...) is kept.
      std::unique_ptr<void, Conn::FreeReply> auth_reply(raw);
      auto* a = static_cast<redisReply*>(raw);
      if (a->type == REDIS_REPLY_ERROR) {
        std::string msg(a->str, a->len);
        return fail(ErrorCode::kUnavailable,
                    fmt::format("{} refused AUTH: {}", where, msg.substr(0, msg.find(' '))));
      }
    }
  }
  std::unique_ptr<void, Conn::FreeReply> reply(raw);
  auto* r = static_cast<redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    // e.g. NOAUTH or LOADING: the server is there but cannot serve.
    std::string msg(r->str, r->len);
    return fail(ErrorCode::kUnavailable, fmt::format("{} answered {} with an error: {}", where,
                                                     command, msg.substr(0, msg.find(' '))));
  }
  if (view_.sink) {
    if (r->type != REDIS_REPLY_STRING) {
      return fail(ErrorCode::kUnavailable, fmt::format("{} answered INFO with no text", where));
    }
    view_.sink->Publish(
        "redis/" + view_.target,
        InfoFamilies(view_.target, ParseRedisInfo(std::string_view(r->str, r->len))));
  }
  return OkStatus();
}

}  // namespace poolscope
