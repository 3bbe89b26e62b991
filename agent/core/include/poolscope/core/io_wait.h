// WaitForFd: wait for a socket to become readable or writable, bounded by a
// deadline and interruptible by a stop request. Used by every sampler so that
// no network call can outlive its deadline or delay shutdown.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <chrono>
#include <stop_token>

#include "poolscope/core/result.h"

namespace poolscope {

using Clock = std::chrono::steady_clock;

// WaitResult says why WaitForFd returned.
enum class WaitResult { kReady, kTimeout, kStopped, kError };

// WaitForFd polls `fd` for reading (`write` false) or writing (`write` true)
// until it is ready, `deadline` passes or `stop` is requested. The stop
// request is noticed within 50 ms.
WaitResult WaitForFd(int fd, bool write, Clock::time_point deadline, const std::stop_token& stop);

// WaitError describes a wait that did not end in kReady while doing `phase`
// ("connecting", "waiting for PONG"): kCancelled, kTimeout or kUnavailable.
Error WaitError(WaitResult w, const char* phase);

}  // namespace poolscope
