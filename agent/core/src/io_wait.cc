#include "poolscope/core/io_wait.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace poolscope {

WaitResult WaitForFd(int fd, bool write, Clock::time_point deadline, const std::stop_token& stop) {
  constexpr auto kSlice = std::chrono::milliseconds(50);
  if (fd < 0) return WaitResult::kError;
  while (true) {
    if (stop.stop_requested()) return WaitResult::kStopped;
    auto now = Clock::now();
    if (now >= deadline) return WaitResult::kTimeout;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                std::chrono::milliseconds(1);
    pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min(left, kSlice).count()));
    if (rc > 0) return WaitResult::kReady;  // POLLERR/POLLHUP: the caller's read sees it
    if (rc < 0 && errno != EINTR) return WaitResult::kError;
  }
}

Error WaitError(WaitResult w, const char* phase) {
  if (w == WaitResult::kStopped) return Error(ErrorCode::kCancelled, "stopped");
  if (w == WaitResult::kTimeout) {
    return Error(ErrorCode::kTimeout,
                 std::string("no answer while ") + phase + " before the deadline");
  }
  return Error(ErrorCode::kUnavailable, std::string("socket error while ") + phase);
}

}  // namespace poolscope
