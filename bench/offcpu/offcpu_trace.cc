// poolscope_bench_offcpu: runs the off-CPU probe on one process for
// bench/offcpu_bench.sh, the way the agent would, until SIGINT/SIGTERM.
//
//   poolscope_bench_offcpu --pid N [--mode hist|stacks|noop] [--probability P]
//
// Prints "prog_id=<id>" and "ready" on stdout once attached (or "error=..."
// and exits 1), then at exit "events=" and "dropped=". In stacks mode stack
// sampling runs the whole time (the agent samples only while a
// /debug/offcpu collection runs), so the cost measured is the upper bound.
// In noop mode a program that does nothing is attached instead: the floor
// any program on sched_switch costs.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "poolscope/probes/offcpu_probe.h"

int main(int argc, char** argv) {
  int pid = 0;
  std::string mode = "hist";
  double probability = poolscope::OffcpuOptions{}.stack_probability;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--pid") pid = std::atoi(argv[i + 1]);
    if (flag == "--mode") mode = argv[i + 1];
    if (flag == "--probability") probability = std::atof(argv[i + 1]);
  }
  if (pid <= 0 || (mode != "hist" && mode != "stacks" && mode != "noop")) {
    std::fprintf(stderr, "usage: %s --pid N [--mode hist|stacks|noop] [--probability P]\n",
                 argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);

  // Block the stop signals before any thread starts; wait for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  poolscope::OffcpuOptions o;
  o.targets = {poolscope::OffcpuTarget::Pid(pid, "bench")};
  o.rescan_interval = std::chrono::seconds(3);
  o.noop_baseline = mode == "noop";
  if (mode == "stacks") {
    o.stacks = true;
    o.stacks_always_on = true;
    o.stack_probability = probability;
  }
  poolscope::OffcpuProbe probe(o);
  if (poolscope::Status s = probe.Start(); !s) {
    std::printf("error=%s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("prog_id=%u\nready\n", probe.switch_prog_id());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  std::uint64_t events = 0;
  for (const auto& h : probe.Histograms()) events += h.Count();
  const poolscope::OffcpuDrops drops = probe.Drops();
  probe.Stop();
  std::printf("events=%llu\ndropped=%llu\nrecovered=%llu\n",
              static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(drops.Total()),
              static_cast<unsigned long long>(drops.recovered));
  return 0;
}
