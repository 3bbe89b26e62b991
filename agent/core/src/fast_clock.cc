#include "poolscope/core/fast_clock.h"

#include <chrono>
#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace poolscope {
namespace {

struct Calibration {
  bool tsc = false;
  double ns_per_tick = 1.0;
};

bool InvariantTsc() {
#if defined(__x86_64__)
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      return line.find(" constant_tsc") != std::string::npos &&
             line.find(" nonstop_tsc") != std::string::npos;
    }
  }
#endif
  return false;
}

Calibration Calibrate() {
  Calibration c;
#if defined(__x86_64__)
  if (!InvariantTsc()) return c;
  // Measure the TSC rate against steady_clock over about 5 ms.
  using std::chrono::steady_clock;
  auto t0 = steady_clock::now();
  std::uint64_t c0 = __rdtsc();
  while (steady_clock::now() - t0 < std::chrono::milliseconds(5)) {
  }
  auto t1 = steady_clock::now();
  std::uint64_t c1 = __rdtsc();
  double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
  if (c1 > c0 && ns > 0) {
    c.tsc = true;
    c.ns_per_tick = ns / static_cast<double>(c1 - c0);
  }
#endif
  return c;
}

const Calibration& Cal() {
  static const Calibration c = Calibrate();
  return c;
}

// Calibrate at start-up, not on the first hot-path call.
[[maybe_unused]] const bool kCalibrated = Cal().tsc;

}  // namespace

std::int64_t FastClock::Now() {
#if defined(__x86_64__)
  if (Cal().tsc) return static_cast<std::int64_t>(__rdtsc());
#endif
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

std::int64_t FastClock::ToNanos(std::int64_t ticks) {
  return static_cast<std::int64_t>(static_cast<double>(ticks) * Cal().ns_per_tick);
}

double FastClock::ToSeconds(std::int64_t ticks) {
  return static_cast<double>(ticks) * Cal().ns_per_tick * 1e-9;
}

std::int64_t FastClock::FromNanos(std::int64_t nanos) {
  return static_cast<std::int64_t>(static_cast<double>(nanos) / Cal().ns_per_tick);
}

bool FastClock::UsesTsc() { return Cal().tsc; }

}  // namespace poolscope
