// L2Store: the shared (Redis) level of the two-level cache, as the cache
// sees it. RedisL2 is the real one; unit tests plug in scripted stores.
//
// Values are opaque bytes. Every call is bounded by the store's own
// per-operation timeout and returns an error value instead of blocking.
//
// Thread-safety: implementations are safe to call from many threads.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "poolscope/core/result.h"

namespace poolscope {

class L2Store {
 public:
  virtual ~L2Store() = default;

  // MGet returns one entry per key: the stored bytes, or nullopt when absent.
  virtual Result<std::vector<std::optional<std::string>>> MGet(
      const std::vector<std::string>& keys) = 0;

  // Set stores `value` under `key` for `ttl`.
  virtual Status Set(const std::string& key, const std::string& value,
                     std::chrono::milliseconds ttl) = 0;

  // Del removes `key`.
  virtual Status Del(const std::string& key) = 0;

  // Publish sends `message` on `channel`.
  virtual Status Publish(const std::string& channel, const std::string& message) = 0;

  // Subscribe delivers every message on `channel` to `on_message` from a
  // background thread, reconnecting as needed; `on_resubscribed` runs after
  // each reconnection (messages may have been missed meanwhile). Called once.
  virtual void Subscribe(const std::string& channel,
                         std::function<void(const std::string&)> on_message,
                         std::function<void()> on_resubscribed) = 0;
};

}  // namespace poolscope
