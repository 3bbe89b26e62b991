// OffcpuProbe: where the watched processes' threads wait when they are not
// running. It loads probes/offcpu.bpf.c into the kernel, keeps the set of
// target processes current (a /proc scan every rescan_interval, plus children
// the kernel side adopts on fork), and reads back the in-kernel histograms
// of off-CPU intervals by (process, thread class, reason) and, on request,
// sampled stacks as folded lines for flame graphs.
//
//   OffcpuOptions o;
//   o.targets = {OffcpuTarget::Process("postgres"), OffcpuTarget::Pid(4242, "api")};
//   auto probe = std::make_shared<OffcpuProbe>(o);
//   if (Status s = probe->Start(); !s) { /* logged once at warn; up() is false */ }
//   for (const OffcpuSeries& h : probe->Histograms()) { ... }
//   Result<std::string> folded = probe->CollectFolded(std::chrono::seconds(5));
//   probe->Stop();
//
// It needs root (or CAP_BPF + CAP_PERFMON), a kernel with BTF
// (/sys/kernel/btf/vmlinux) and a build that compiled the BPF program. When
// any is missing Start() logs one warning with the reason, up() stays false
// and the probe retries every retry_interval (logging again only when it
// comes up). Nothing here ever stops the caller.
//
// Thread-safety: everything is thread-safe. Start/Stop from one owner;
// Histograms, Drops and CollectFolded from any thread (one CollectFolded at
// a time; a second one fails at once instead of waiting).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "poolscope/core/duration.h"
#include "poolscope/core/result.h"
#include "poolscope/probes/offcpu_model.h"
#include "poolscope/probes/target_resolver.h"

namespace poolscope {

// OffcpuOptions configures an OffcpuProbe (the agent fills it from
// `probes.offcpu` in its YAML).
struct OffcpuOptions {
  std::vector<OffcpuTarget> targets;
  Duration rescan_interval = std::chrono::seconds(3);  // /proc scan period
  int thread_labels = 64;           // distinct `thread` values at most; the rest are "other"
  bool stacks = false;              // allow CollectFolded (stack maps are sized only then)
  double stack_probability = 0.05;  // share of switch-outs sampled
  Duration stack_min_duration = Duration::zero();      // shorter sampled intervals are ignored
  Duration retry_interval = std::chrono::seconds(60);  // load retry while down
  std::string proc_root = "/proc";                     // tests: a fake procfs
  bool force_raw_tp = false;      // use the raw_tp programs even where tp_btf works
  bool stacks_always_on = false;  // sample from the start, not only during a collection
  bool noop_baseline = false;     // benchmark: attach a program that does nothing instead
};

// OffcpuSeries is one histogram: off-CPU intervals of one (process, thread
// class, reason), counted per bucket (see offcpu_model.h), not cumulative.
struct OffcpuSeries {
  std::string process;
  std::string thread;
  std::string reason;
  std::array<std::uint64_t, kOffcpuBuckets> buckets{};
  std::uint64_t sum_ns = 0;

  // Count is the number of intervals.
  std::uint64_t Count() const;
};

// OffcpuDrops counts what the kernel side could not record.
struct OffcpuDrops {
  std::uint64_t hist_full = 0;    // intervals lost: histogram map full
  std::uint64_t slot_failed = 0;  // intervals lost: no per-task slot, or no end seen
  std::uint64_t stack_lost = 0;   // sampled stacks lost: stack map full or collision
  std::uint64_t stack_full = 0;   // sampled intervals lost: stack-count map full
  std::uint64_t recovered = 0;    // intervals whose switch-in the kernel did not show us,
                                  // closed at the next switch-out (not lost; not in Total)

  std::uint64_t Total() const { return hist_full + slot_failed + stack_lost + stack_full; }
};

class OffcpuProbe {
 public:
  explicit OffcpuProbe(OffcpuOptions options);
  ~OffcpuProbe();
  OffcpuProbe(const OffcpuProbe&) = delete;
  OffcpuProbe& operator=(const OffcpuProbe&) = delete;

  // Start loads and attaches the BPF programs, resolves the targets and
  // starts the background scan thread. On failure it returns (and logs once
  // at warn) the reason; the probe keeps retrying in the background.
  Status Start();

  // Stop detaches everything and ends any running CollectFolded.
  void Stop();

  // up is true while the programs are attached.
  bool up() const;

  // status says "attached (tp_btf)" / "attached (raw_tp)", or why not.
  std::string status() const;

  // Histograms reads every series recorded so far (empty while down).
  std::vector<OffcpuSeries> Histograms() const;

  // Drops reads the kernel side's loss counters (zero while down).
  OffcpuDrops Drops() const;

  // CollectFolded samples stacks for `window` and returns them folded:
  // one "process;thread;user frames...;kernel frames_[k] microseconds" line
  // per distinct stack, root first (the input of flamegraph.pl and
  // speedscope). Fails when stacks are off, the probe is down, another
  // collection runs, or Stop() is called meanwhile.
  Result<std::string> CollectFolded(std::chrono::milliseconds window);

  // RescanNow re-resolves the targets at once (tests; normally periodic).
  void RescanNow();

  // target_processes is how many processes are targets now.
  std::size_t target_processes() const;

  // switch_prog_id is the kernel id of the attached sched_switch program
  // (0 while down), for `bpftool prog show id N`.
  std::uint32_t switch_prog_id() const;

  const OffcpuOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolscope
