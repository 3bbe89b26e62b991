// The off-CPU probe's data model, shared by the loader, the Prometheus
// collector and the tests: reason names, histogram buckets and thread
// classes. These mirror what the kernel side (probes/offcpu.bpf.c) computes.
//
//   OffcpuReasonName(4)            -> "net"
//   OffcpuBucketBounds()[10]       -> 0.001048576 (seconds: 2^20 ns)
//   NormaliseThreadName("pool-12") -> "pool-#"
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace poolscope {

// kOffcpuReasons is the number of reasons; their names are the `reason` label.
inline constexpr int kOffcpuReasons = 7;

// kOffcpuFiniteBuckets is the number of finite histogram buckets: bucket k
// holds intervals of at most 2^(10+k) nanoseconds (k = 0..24: 1.024 us up
// to 17.18 s); one more bucket holds longer intervals (+Inf).
inline constexpr int kOffcpuFiniteBuckets = 25;
inline constexpr int kOffcpuBuckets = kOffcpuFiniteBuckets + 1;

// OffcpuReasonName returns the `reason` label of reason `r` (runqueue, io,
// lock, poll, net, sleep, other), or "other" when out of range.
const char* OffcpuReasonName(int r);

// OffcpuBucketBounds returns the finite bucket upper bounds in seconds.
const std::vector<double>& OffcpuBucketBounds();

// OffcpuBucketOf returns the bucket an interval of `ns` nanoseconds falls in,
// exactly as the kernel side computes it.
int OffcpuBucketOf(std::uint64_t ns);

// NormaliseThreadName folds every run of digits in `comm` into one '#', the
// way the kernel side forms thread classes ("worker-12" -> "worker-#").
std::string NormaliseThreadName(std::string_view comm);

}  // namespace poolscope
