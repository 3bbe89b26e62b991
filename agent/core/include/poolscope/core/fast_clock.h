// FastClock: a cheap monotonic clock for hot paths (pool acquire/release).
//
// steady_clock::now() costs about 30 ns on a virtual machine; the invariant
// TSC costs about half of that. FastClock reads the TSC when the CPU reports
// constant_tsc and nonstop_tsc, and falls back to steady_clock otherwise.
// Ticks only compare and subtract; convert differences with ToNanos/ToSeconds.
//
// Thread-safety: all functions are safe from any thread.
#pragma once

#include <cstdint>

namespace poolscope {

class FastClock {
 public:
  // Now returns the current tick count.
  static std::int64_t Now();

  // ToNanos converts a tick difference to nanoseconds.
  static std::int64_t ToNanos(std::int64_t ticks);

  // ToSeconds converts a tick difference to seconds.
  static double ToSeconds(std::int64_t ticks);

  // FromNanos converts nanoseconds to a tick difference.
  static std::int64_t FromNanos(std::int64_t nanos);

  // UsesTsc says whether the TSC (not steady_clock) backs the clock.
  static bool UsesTsc();
};

}  // namespace poolscope
