// RedisProbe checks a Redis server with PING over one kept-open connection,
// non-blocking and bounded by the check's deadline.
//
// Thread-safety: not thread-safe; owned by one sampler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "poolscope/samplers/probe.h"

namespace poolscope {

class RedisProbe final : public Probe {
 public:
  RedisProbe(std::string host, std::uint16_t port);
  ~RedisProbe() override;
  RedisProbe(const RedisProbe&) = delete;
  RedisProbe& operator=(const RedisProbe&) = delete;

  Status Check(Clock::time_point deadline, std::stop_token stop) override;

 private:
  struct Conn;
  std::string host_;
  std::uint16_t port_;
  std::unique_ptr<Conn> conn_;  // null until connected, reset when broken
};

}  // namespace poolscope
