// RedisL2: L2Store over Redis with hiredis: a small pool of connections,
// a per-operation timeout, and a circuit breaker.
//
// At most `pool_size` connections are open at once; a caller that finds them
// all busy waits up to `op_timeout` for one to come back (then fails with
// kTimeout, which does not count against Redis in the breaker) instead of
// opening and closing a connection of its own.
//
// When Redis is down or slow, operations fail fast with an error value; after
// `breaker_failures` consecutive failures the breaker opens and calls fail at
// once (no connection attempts) for `breaker_cooldown`, then one trial call
// decides whether it closes again. Nothing here ever blocks longer than
// op_timeout (waiting for a connection) + connect_timeout + op_timeout.
//
//   RedisL2 l2({.host = "127.0.0.1", .port = 6379});
//   auto values = l2.MGet({"a", "b"});
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "poolscope/cache/l2_store.h"
#include "poolscope/core/duration.h"

namespace poolscope {

struct RedisL2Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int pool_size = 4;  // connections open at most (the subscriber has its own)
  Duration connect_timeout = std::chrono::milliseconds(500);
  Duration op_timeout = std::chrono::milliseconds(100);  // per command
  int breaker_failures = 5;                              // consecutive failures that open it
  Duration breaker_cooldown = std::chrono::seconds(2);   // open this long before a trial
};

class RedisL2 final : public L2Store {
 public:
  explicit RedisL2(RedisL2Options options);
  ~RedisL2() override;
  RedisL2(const RedisL2&) = delete;
  RedisL2& operator=(const RedisL2&) = delete;

  Result<std::vector<std::optional<std::string>>> MGet(
      const std::vector<std::string>& keys) override;
  Status Set(const std::string& key, const std::string& value,
             std::chrono::milliseconds ttl) override;
  Status Del(const std::string& key) override;
  Status Publish(const std::string& channel, const std::string& message) override;
  void Subscribe(const std::string& channel, std::function<void(const std::string&)> on_message,
                 std::function<void()> on_resubscribed) override;

  // BreakerOpen says whether calls are being refused right now.
  bool BreakerOpen() const;

 private:
  struct Conn;
  struct Reply;
  // Command runs one command (argv form) on a pooled connection.
  Result<std::shared_ptr<Reply>> Command(const std::vector<std::string>& argv);
  Result<std::unique_ptr<Conn>> Connect();
  bool Allow();
  void Record(bool ok);
  void SubscribeLoop(std::stop_token stop, std::string channel,
                     std::function<void(const std::string&)> on_message,
                     std::function<void()> on_resubscribed);

  const RedisL2Options options_;
  // Take a connection (idle, or a new one while fewer than pool_size are
  // open), waiting up to op_timeout; Put gives it back (null: it was
  // dropped, which frees its place).
  Result<std::unique_ptr<Conn>> Take();
  void Put(std::unique_ptr<Conn> conn);

  std::mutex mu_;                            // guards idle_ and open_
  std::condition_variable freed_;            // a connection came back or a place freed
  std::vector<std::unique_ptr<Conn>> idle_;  // connections not in use
  int open_ = 0;                             // idle + in use + being connected
  std::atomic<int> failures_{0};             // consecutive
  std::atomic<std::int64_t> open_until_{0};  // steady ns; 0 = closed
  std::atomic<bool> trial_{false};           // a half-open trial call is running
  std::jthread subscriber_;
};

}  // namespace poolscope
