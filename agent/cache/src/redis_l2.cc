#include "poolscope/cache/redis_l2.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <algorithm>

#include <fmt/format.h>

#include "poolscope/core/io_wait.h"
#include "redis_reply.h"

namespace poolscope {
namespace {

timeval ToTimeval(Duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

std::int64_t SteadyNanos() { return Clock::now().time_since_epoch().count(); }

}  // namespace

struct RedisL2::Conn {
  struct Free {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  std::unique_ptr<redisContext, Free> ctx;
};

struct RedisL2::Reply {
  struct Free {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  std::unique_ptr<redisReply, Free> r;
};

RedisL2::RedisL2(RedisL2Options options) : options_(std::move(options)) {}

RedisL2::~RedisL2() {
  if (subscriber_.joinable()) {
    subscriber_.request_stop();
    subscriber_.join();
  }
}

bool RedisL2::BreakerOpen() const {
  const std::int64_t until = open_until_.load(std::memory_order_relaxed);
  return until != 0 && SteadyNanos() < until;
}

bool RedisL2::Allow() {
  const std::int64_t until = open_until_.load(std::memory_order_acquire);
  if (until == 0) return true;
  if (SteadyNanos() < until) return false;
  // Half-open: exactly one caller tries; the others keep failing fast.
  bool expected = false;
  return trial_.compare_exchange_strong(expected, true);
}

void RedisL2::Record(bool ok) {
  if (ok) {
    failures_.store(0, std::memory_order_relaxed);
    if (open_until_.exchange(0) != 0) {
      spdlog::info("redis l2 {}:{}: answering again; circuit breaker closed", options_.host,
                   options_.port);
    }
  } else if (failures_.fetch_add(1) + 1 >= options_.breaker_failures || open_until_.load() != 0) {
    const std::int64_t until =
        SteadyNanos() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.breaker_cooldown).count();
    if (open_until_.exchange(until) == 0) {
      spdlog::warn("redis l2 {}:{}: {} failures in a row; circuit breaker open, retrying every {}",
                   options_.host, options_.port, failures_.load(),
                   FormatDuration(options_.breaker_cooldown));
    }
  }
  trial_.store(false);
}

Result<std::unique_ptr<RedisL2::Conn>> RedisL2::Connect() {
  auto conn = std::make_unique<Conn>();
  conn->ctx.reset(redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                          ToTimeval(options_.connect_timeout)));
  if (!conn->ctx) return Error(ErrorCode::kInternal, "out of memory connecting to redis");
  if (conn->ctx->err != 0) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("redis {}:{}: {}", options_.host, options_.port, conn->ctx->errstr));
  }
  redisSetTimeout(conn->ctx.get(), ToTimeval(options_.op_timeout));
  return conn;
}

Result<std::unique_ptr<RedisL2::Conn>> RedisL2::Take() {
  const int cap = std::max(1, options_.pool_size);
  {
    std::unique_lock lock(mu_);
    const bool got =
        freed_.wait_for(lock, options_.op_timeout, [&] { return !idle_.empty() || open_ < cap; });
    if (!got) {
      return Error(
          ErrorCode::kTimeout,
          fmt::format("redis {}:{}: all {} connections busy for {}; raise the cache's "
                      "redis pool size",
                      options_.host, options_.port, cap, FormatDuration(options_.op_timeout)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve the place while connecting outside the lock
  }
  auto c = Connect();
  if (!c) {
    Put(nullptr);
    Record(false);
  }
  return c;
}

void RedisL2::Put(std::unique_ptr<Conn> conn) {
  {
    std::lock_guard lock(mu_);
    if (conn) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

Result<std::shared_ptr<RedisL2::Reply>> RedisL2::Command(const std::vector<std::string>& argv) {
  if (!Allow()) {
    return Error(ErrorCode::kUnavailable, "redis circuit breaker open (recent failures)");
  }
  auto taken = Take();
  if (!taken) {
    trial_.store(false);  // a half-open trial that got no connection tried nothing
    return taken.error();
  }
  std::unique_ptr<Conn> conn = std::move(*taken);
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto reply = std::make_shared<Reply>();
  reply->r.reset(static_cast<redisReply*>(
      redisCommandArgv(conn->ctx.get(), static_cast<int>(args.size()), args.data(), lens.data())));
  if (!reply->r) {
    std::string why = conn->ctx->errstr;
    Put(nullptr);  // the connection is unusable now; drop it
    Record(false);
    return Error(ErrorCode::kUnavailable,
                 fmt::format("redis {}:{}: {}", options_.host, options_.port,
                             why.empty() ? "no answer" : why));
  }
  Put(std::move(conn));
  Record(true);
  if (reply->r->type == REDIS_REPLY_ERROR) {
    std::string msg(reply->r->str, reply->r->len);
    return Error(ErrorCode::kUnavailable, "redis error: " + msg.substr(0, msg.find(' ')));
  }
  return reply;
}

Result<std::vector<std::optional<std::string>>> RedisL2::MGet(
    const std::vector<std::string>& keys) {
  std::vector<std::string> argv;
  argv.reserve(keys.size() + 1);
  argv.emplace_back("MGET");
  argv.insert(argv.end(), keys.begin(), keys.end());
  auto reply = Command(argv);
  if (!reply) return reply.error();
  return DecodeMGet(*(*reply)->r, keys.size());
}

Status RedisL2::Set(const std::string& key, const std::string& value,
                    std::chrono::milliseconds ttl) {
  auto r = Command({"SET", key, value, "PX", std::to_string(std::max<long>(1, ttl.count()))});
  if (!r) return r.error();
  return OkStatus();
}

Status RedisL2::Del(const std::string& key) {
  auto r = Command({"DEL", key});
  if (!r) return r.error();
  return OkStatus();
}

Status RedisL2::Publish(const std::string& channel, const std::string& message) {
  auto r = Command({"PUBLISH", channel, message});
  if (!r) return r.error();
  return OkStatus();
}

void RedisL2::Subscribe(const std::string& channel,
                        std::function<void(const std::string&)> on_message,
                        std::function<void()> on_resubscribed) {
  subscriber_ = std::jthread([this, channel, on_message = std::move(on_message),
                              on_resubscribed = std::move(on_resubscribed)](std::stop_token stop) {
    SubscribeLoop(stop, channel, on_message, on_resubscribed);
  });
}

void RedisL2::SubscribeLoop(std::stop_token stop, std::string channel,
                            std::function<void(const std::string&)> on_message,
                            std::function<void()> on_resubscribed) {
  std::mutex mu;
  std::condition_variable_any cv;
  Duration backoff = std::chrono::milliseconds(100);
  bool first = true;
  bool warned = false;
  while (!stop.stop_requested()) {
    auto conn = Connect();
    if (conn) {
      redisContext* c = (*conn)->ctx.get();
      std::unique_ptr<redisReply, Reply::Free> ok(static_cast<redisReply*>(
          redisCommand(c, "SUBSCRIBE %b", channel.data(), channel.size())));
      if (ok && ok->type == REDIS_REPLY_ARRAY) {
        if (!first) on_resubscribed();
        if (warned) spdlog::info("redis l2 {}: invalidation channel subscribed again", channel);
        first = false;
        warned = false;
        backoff = std::chrono::milliseconds(100);
        // Read messages until the connection breaks or we are stopped.
        while (!stop.stop_requested()) {
          void* raw = nullptr;
          if (redisGetReplyFromReader(c, &raw) != REDIS_OK) break;
          if (raw == nullptr) {
            WaitResult w = WaitForFd(c->fd, false, Clock::now() + std::chrono::seconds(1), stop);
            if (w == WaitResult::kStopped) return;
            if (w == WaitResult::kTimeout) continue;
            if (w == WaitResult::kError || redisBufferRead(c) != REDIS_OK) break;
            continue;
          }
          std::unique_ptr<redisReply, Reply::Free> msg(static_cast<redisReply*>(raw));
          if (auto payload = DecodeMessage(*msg)) on_message(*payload);
        }
      }
    }
    if (stop.stop_requested()) return;
    if (!warned) {
      spdlog::warn("redis l2 {}: invalidation channel lost; resubscribing (L1 is cleared then)",
                   channel);
      warned = true;
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, backoff, [] { return false; });
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(5));
  }
}

}  // namespace poolscope
