// RedisProbe samples a Redis server over one kept-open connection,
// non-blocking and bounded by the run's deadline. Without a sink it checks
// the server with PING; with one it sends INFO and publishes the contract's
// `poolscope_redis_*` families (keyspace hits and misses, evictions,
// clients, memory, keys per database). A failed run clears what it published.
//
// Thread-safety: not thread-safe; owned by one sampler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "poolscope/core/secret.h"
#include "poolscope/samplers/probe.h"

namespace poolscope {

class SnapshotCollector;

// RedisViewOptions say where RedisProbe publishes what INFO reports.
struct RedisViewOptions {
  std::string target;                       // the `target` label
  std::shared_ptr<SnapshotCollector> sink;  // null: PING only
};

// RedisAuth is sent with AUTH on every new connection when `password` is
// set (`username` empty: the default user). Never logged.
struct RedisAuth {
  std::string username;
  Secret password;
};

class RedisProbe final : public Probe {
 public:
  RedisProbe(std::string host, std::uint16_t port, RedisViewOptions view = {}, RedisAuth auth = {});
  ~RedisProbe() override;
  RedisProbe(const RedisProbe&) = delete;
  RedisProbe& operator=(const RedisProbe&) = delete;

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  struct Conn;
  std::string host_;
  std::uint16_t port_;
  RedisViewOptions view_;
  RedisAuth auth_;
  std::unique_ptr<Conn> conn_;  // null until connected, reset when broken
};

}  // namespace poolscope
