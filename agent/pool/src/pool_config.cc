#include "poolscope/pool/pool_config.h"

#include <fmt/format.h>

namespace poolscope {

Status ValidatePoolConfig(const PoolConfig& c) {
  auto bad = [](const char* key, const std::string& why) -> Status {
    return Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", key, why)};
  };
  if (c.max_size < 1 || c.max_size > 1024) return bad("max_size", "must be from 1 to 1024");
  if (c.min_idle < 0 || c.min_idle > c.max_size) {
    return bad("min_idle", fmt::format("must be from 0 to max_size ({})", c.max_size));
  }
  if (c.acquire_timeout <= Duration::zero()) return bad("acquire_timeout", "must be more than 0");
  if (c.connect_timeout <= Duration::zero()) return bad("connect_timeout", "must be more than 0");
  if (c.max_lifetime < Duration::zero()) return bad("max_lifetime", "must not be negative");
  if (c.max_lifetime > Duration::zero() && c.max_lifetime < std::chrono::seconds(1)) {
    return bad("max_lifetime", "must be 0 (never) or at least 1s");
  }
  if (c.max_lifetime_jitter < 0 || c.max_lifetime_jitter > 0.5) {
    return bad("max_lifetime_jitter", "must be from 0 to 0.5 (a fraction of max_lifetime)");
  }
  if (c.idle_timeout < Duration::zero()) return bad("idle_timeout", "must not be negative");
  if (c.keepalive_interval < Duration::zero()) {
    return bad("keepalive_interval", "must not be negative");
  }
  if (c.validate_after_idle < Duration::zero()) {
    return bad("validate_after_idle", "must not be negative");
  }
  if (c.validation_timeout <= Duration::zero()) {
    return bad("validation_timeout", "must be more than 0");
  }
  if (c.max_waiters < 0) return bad("max_waiters", "must be 0 (unbounded) or more");
  if (c.leak_threshold < Duration::zero()) return bad("leak_threshold", "must not be negative");
  if (c.slow_query_threshold < Duration::zero()) {
    return bad("slow_query_threshold", "must not be negative");
  }
  if (c.statement_timeout < Duration::zero()) {
    return bad("statement_timeout", "must not be negative");
  }
  if (c.cancel_grace <= Duration::zero()) return bad("cancel_grace", "must be more than 0");
  if (c.reset_timeout <= Duration::zero()) return bad("reset_timeout", "must be more than 0");
  if (c.prepared_cache_size < 0) return bad("prepared_cache_size", "must not be negative");
  if (c.statement_labels < 1) return bad("statement_labels", "must be at least 1");
  if (c.application_name.size() > 63) {
    return bad("application_name", "must be at most 63 bytes (PostgreSQL truncates longer)");
  }
  if (c.name.empty()) return bad("name", "must not be empty");
  return OkStatus();
}

}  // namespace poolscope
