#include "poolscope/probes/offcpu_model.h"

#include <bit>

namespace poolscope {

const char* OffcpuReasonName(int r) {
  static constexpr const char* kNames[kOffcpuReasons] = {"runqueue", "io",    "lock", "poll",
                                                         "net",      "sleep", "other"};
  return r >= 0 && r < kOffcpuReasons ? kNames[r] : "other";
}

const std::vector<double>& OffcpuBucketBounds() {
  static const std::vector<double> bounds = [] {
    std::vector<double> b;
    for (int k = 0; k < kOffcpuFiniteBuckets; ++k) {
      b.push_back(1e-9 * static_cast<double>(std::uint64_t{1} << (10 + k)));
    }
    return b;
  }();
  return bounds;
}

int OffcpuBucketOf(std::uint64_t ns) {
  if (ns <= 1024) return 0;
  const int k = std::bit_width(ns - 1) - 10;  // ns - 1 < 2^(10 + k)
  return k < kOffcpuFiniteBuckets ? k : kOffcpuFiniteBuckets;
}

std::string NormaliseThreadName(std::string_view comm) {
  std::string out;
  bool in_digits = false;
  for (char c : comm.substr(0, 16)) {
    if (c == '\0') break;
    if (c >= '0' && c <= '9') {
      if (!in_digits) out += '#';
      in_digits = true;
    } else {
      out += c;
      in_digits = false;
    }
  }
  return out;
}

}  // namespace poolscope
