#include "poolscope/probes/offcpu_probe.h"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mapped_array.h"
#include "poolscope/probes/symbolizer.h"

#if POOLSCOPE_HAVE_OFFCPU_BPF
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "offcpu.h"
#include "offcpu.skel.h"
#endif

namespace poolscope {
namespace {

constexpr const char* kBtfPath = "/sys/kernel/btf/vmlinux";

// A stack as read from the maps, before symbolization.
struct RawStack {
  std::uint32_t tgid = 0;
  std::string process;
  std::string thread;
  std::vector<std::uint64_t> user;    // innermost first
  std::vector<std::uint64_t> kernel;  // innermost first
  std::uint64_t total_ns = 0;
};

std::string FrameName(std::string name) {
  for (char& c : name) {
    if (c == ';') c = ':';
    if (c == '\n' || c == '\r') c = ' ';
  }
  return name;
}

// IsProbeFrame tells the tracing frames on top of every kernel stack.
bool IsProbeFrame(const std::string& name) {
  return name.starts_with("bpf_") || name.starts_with("__bpf_") ||
         name.starts_with("__traceiter_") || name.starts_with("trace_call_bpf");
}

#if POOLSCOPE_HAVE_OFFCPU_BPF

std::uint32_t PidMax() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  std::uint64_t v = 0;
  if (!(in >> v) || v == 0) v = 4194304;  // PID_MAX_LIMIT on 64-bit
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, 4194304));
}

// libbpf's messages go to our debug log; the last warning is kept for the
// one warning we print ourselves.
std::mutex g_libbpf_mu;
std::string g_libbpf_last;  // guarded by g_libbpf_mu

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[512];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  if (n <= 0) return 0;
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return 0;
  spdlog::debug("libbpf: {}", line);
  if (level == LIBBPF_WARN) {
    std::lock_guard lock(g_libbpf_mu);
    g_libbpf_last = line;
  }
  return 0;
}

std::string TakeLibbpfWarning() {
  std::lock_guard lock(g_libbpf_mu);
  return std::exchange(g_libbpf_last, std::string());
}

// KernelFacts is what the loader learns from the kernel's BTF.
struct KernelFacts {
  bool state_arg = true;  // sched_switch passes prev_state (Linux 5.18+)
};

KernelFacts ReadKernelFacts() {
  KernelFacts facts;
  struct btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) return facts;
  int id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(vmlinux, id);
    t = t != nullptr ? btf__type_by_id(vmlinux, t->type) : nullptr;
    if (t != nullptr && btf_is_ptr(t)) t = btf__type_by_id(vmlinux, t->type);
    // (void *__data, bool preempt, prev, next, unsigned int prev_state)
    if (t != nullptr && btf_is_func_proto(t)) facts.state_arg = btf_vlen(t) >= 5;
  }
  btf__free(vmlinux);
  return facts;
}

struct SkelDeleter {
  void operator()(offcpu_bpf* s) const { offcpu_bpf__destroy(s); }
};

// Loaded is one attached instance of the programs and their maps.
struct Loaded {
  std::unique_ptr<offcpu_bpf, SkelDeleter> skel;
  MappedArray table;               // target_table: one byte per tgid
  MappedArray hists;               // the histogram array
  std::uint32_t classes = 0;       // max_classes as loaded
  std::uint32_t hist_targets = 0;  // target indexes the histograms have room for
  const char* mode = "";
};

// kMaxHistograms bounds the histogram array (216 bytes each: 14 MB).
constexpr std::uint64_t kMaxHistograms = 65536;

std::string LoadFailure(const char* what, int err) {
  std::string detail = TakeLibbpfWarning();
  std::string reason;
  if (err == EPERM) {
    reason =
        fmt::format("no BPF rights ({} failed: {}); run as root or grant CAP_BPF and CAP_PERFMON",
                    what, std::strerror(err));
  } else {
    reason = fmt::format("the kernel refused the probe ({} failed: {})", what, std::strerror(err));
  }
  if (!detail.empty()) reason += fmt::format(" [libbpf: {}]", detail);
  return reason;
}

Result<std::unique_ptr<Loaded>> LoadOnce(const OffcpuOptions& opt, bool raw) {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(&LibbpfPrint); });
  TakeLibbpfWarning();

  auto loaded = std::make_unique<Loaded>();
  loaded->mode = opt.noop_baseline ? "noop" : raw ? "raw_tp" : "tp_btf";
  loaded->skel.reset(offcpu_bpf__open());
  if (!loaded->skel) {
    return Error{ErrorCode::kUnavailable, LoadFailure("opening the BPF object", errno)};
  }
  offcpu_bpf* s = loaded->skel.get();

  const std::uint32_t words = (PidMax() + 7) / 8;
  // Every target has one label, so the number of targets bounds the indexes.
  const auto hist_targets = static_cast<std::uint32_t>(
      std::clamp<std::size_t>(opt.targets.size(), 1, OFFCPU_MAX_TARGETS));
  auto classes = static_cast<std::uint32_t>(std::max(1, opt.thread_labels));
  if (std::uint64_t{hist_targets} * (classes + 1) * OFFCPU_REASONS > kMaxHistograms) {
    classes = static_cast<std::uint32_t>(
        std::max<std::uint64_t>(1, kMaxHistograms / (hist_targets * OFFCPU_REASONS) - 1));
    spdlog::warn(
        "offcpu probe: {} targets x {} thread labels is too many histograms; keeping {} "
        "thread labels",
        hist_targets, opt.thread_labels, classes);
  }
  const std::uint32_t hist_entries = hist_targets * (classes + 1) * OFFCPU_REASONS;
  loaded->classes = classes;
  loaded->hist_targets = hist_targets;
  const KernelFacts facts = ReadKernelFacts();
  s->rodata->use_state_arg = facts.state_arg;
  s->rodata->table_words = words;
  s->rodata->max_classes = classes;
  s->rodata->hist_targets = hist_targets;
  if (opt.stacks) {
    const double p = std::clamp(opt.stack_probability, 0.0, 1.0);
    s->rodata->stack_threshold = static_cast<std::uint64_t>(std::ldexp(p, 32));
    s->rodata->stack_min_ns = static_cast<std::uint64_t>(opt.stack_min_duration.count());
  }
  bpf_map__set_max_entries(s->maps.target_table, words);
  bpf_map__set_max_entries(s->maps.classes, classes);
  bpf_map__set_max_entries(s->maps.hists, hist_entries);
  bpf_map__set_max_entries(s->maps.tid_slots, raw ? 16384 : 1);
  bpf_map__set_max_entries(s->maps.user_stacks, opt.stacks ? 16384 : 1);
  bpf_map__set_max_entries(s->maps.kern_stacks, opt.stacks ? 16384 : 1);
  bpf_map__set_max_entries(s->maps.stack_counts, opt.stacks ? 16384 : 1);
  // Exactly one flavour (or the benchmark's no-op) is loaded and attached.
  const bool btf = !raw && !opt.noop_baseline;
  const bool rawtp = raw && !opt.noop_baseline;
  bpf_program__set_autoload(s->progs.offcpu_switch, btf);
  bpf_program__set_autoload(s->progs.offcpu_fork, btf);
  bpf_program__set_autoload(s->progs.offcpu_exec, btf);
  bpf_program__set_autoload(s->progs.offcpu_sw_raw, rawtp);
  bpf_program__set_autoload(s->progs.offcpu_fork_raw, rawtp);
  bpf_program__set_autoload(s->progs.offcpu_exec_raw, rawtp);
  bpf_program__set_autoload(s->progs.offcpu_noop, opt.noop_baseline);

  int err = offcpu_bpf__load(s);
  // libbpf parsed the kernel's BTF (megabytes); give the memory back.
  ::malloc_trim(0);
  if (err != 0) {
    return Error{ErrorCode::kUnavailable, LoadFailure("loading the BPF programs", -err)};
  }
  if (s->bss != nullptr) s->bss->stacks_on = opt.stacks && opt.stacks_always_on ? 1 : 0;
  err = offcpu_bpf__attach(s);
  if (err != 0) {
    return Error{ErrorCode::kUnavailable, LoadFailure("attaching to sched_switch", -err)};
  }
  auto table =
      MappedArray::Map(bpf_map__fd(s->maps.target_table), std::size_t{words} * 8, "target table");
  if (!table) return table.error();
  loaded->table = std::move(*table);
  auto hists = MappedArray::Map(bpf_map__fd(s->maps.hists),
                                std::size_t{hist_entries} * sizeof(offcpu_hist), "histograms");
  if (!hists) return hists.error();
  loaded->hists = std::move(*hists);
  return loaded;
}

Result<std::unique_ptr<Loaded>> LoadProgram(const OffcpuOptions& opt) {
  if (::access(kBtfPath, R_OK) != 0) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("the kernel has no BTF ({} is missing; it needs "
                             "CONFIG_DEBUG_INFO_BTF=y)",
                             kBtfPath)};
  }
  if (opt.force_raw_tp) return LoadOnce(opt, true);
  auto btf = LoadOnce(opt, false);
  if (btf || btf.error().message.starts_with("no BPF rights")) return btf;
  spdlog::debug("offcpu probe: tp_btf failed ({}); trying raw_tp", btf.error().message);
  auto raw = LoadOnce(opt, true);
  if (raw) return raw;
  return Error{ErrorCode::kUnavailable,
               fmt::format("{}; raw_tp fallback: {}", btf.error().message, raw.error().message)};
}

#else  // !POOLSCOPE_HAVE_OFFCPU_BPF

struct Loaded {
  MappedArray table;
  const char* mode = "";
};

Result<std::unique_ptr<Loaded>> LoadProgram(const OffcpuOptions&) {
  return Error{ErrorCode::kUnavailable,
               fmt::format("this build has no BPF program (when it was built: {})",
                           POOLSCOPE_OFFCPU_BUILD_GAP)};
}

#endif  // POOLSCOPE_HAVE_OFFCPU_BPF

}  // namespace

std::uint64_t OffcpuSeries::Count() const {
  std::uint64_t n = 0;
  for (auto b : buckets) n += b;
  return n;
}

class OffcpuProbe::Impl {
 public:
  explicit Impl(OffcpuOptions o)
      : opt(std::move(o)), resolver(opt.targets, opt.proc_root), symbolizer(opt.proc_root) {}

  // TryLoadLocked loads the programs when down; logs the first failure and
  // the recovery.
  Status TryLoadLocked() {
    if (loaded) return OkStatus();
    auto l = LoadProgram(opt);
    if (!l) {
      down_reason = l.error().message;
      if (!warned) {
        spdlog::warn("offcpu probe unavailable: {}; poolscope_probe_up{{probe=\"offcpu\"}} is 0",
                     down_reason);
        warned = true;
      }
      return l.error();
    }
    loaded = std::move(*l);
    ++generation;
    current.clear();
    class_names.clear();
    spdlog::info("offcpu probe attached ({}), watching {} target(s)", loaded->mode,
                 opt.targets.size());
    warned = false;
    return OkStatus();
  }

  void Run() {
    std::unique_lock lock(mu);
    auto next_retry = std::chrono::steady_clock::now() + opt.retry_interval;
    while (!stopping) {
      if (!loaded && std::chrono::steady_clock::now() >= next_retry) {
        (void)TryLoadLocked();
        next_retry = std::chrono::steady_clock::now() + opt.retry_interval;
      }
      if (loaded) {
        lock.unlock();
        Rescan();
        lock.lock();
      }
      cv.wait_for(lock, opt.rescan_interval, [&] { return stopping; });
    }
  }

  // LabelIndexLocked returns the target index of `label`, adding it.
  int LabelIndexLocked(const std::string& label) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == label) return static_cast<int>(i);
    }
    if (labels.size() >= OffcpuMaxTargets()) {
      if (!labels_full_warned) {
        spdlog::warn("offcpu probe: more than {} distinct process labels; \"{}\" is not watched",
                     OffcpuMaxTargets(), label);
        labels_full_warned = true;
      }
      return -1;
    }
    labels.push_back(label);
    return static_cast<int>(labels.size() - 1);
  }

  static std::size_t OffcpuMaxTargets() { return 127; }

  std::vector<std::uint32_t> DrainForkedLocked();

  void Rescan() {
    std::lock_guard scan(scan_mu);
    auto matches = resolver.Scan();
    std::lock_guard lock(mu);
    if (!loaded) return;
    std::unordered_map<std::uint32_t, std::uint8_t> desired;
    auto byte_for = [&](const TargetMatch& m) -> int {
      int idx = LabelIndexLocked(m.label);
      if (idx < 0) return 0;
      return (idx + 1) | (m.inherit ? 0x80 : 0);
    };
    for (const auto& [tgid, m] : matches) {
      if (int b = byte_for(m); b != 0) desired[tgid] = static_cast<std::uint8_t>(b);
    }
    // Children the kernel side adopted since: keep those that still match.
    for (std::uint32_t tgid : DrainForkedLocked()) {
      if (desired.count(tgid) != 0) continue;
      if (auto m = resolver.Match(tgid)) {
        if (int b = byte_for(*m); b != 0) {
          desired[tgid] = static_cast<std::uint8_t>(b);
          continue;
        }
      }
      loaded->table.SetByte(tgid, 0);
    }
    for (const auto& [tgid, b] : desired) {
      if (loaded->table.GetByte(tgid) != b) loaded->table.SetByte(tgid, b);
    }
    for (const auto& [tgid, b] : current) {
      if (desired.count(tgid) == 0) loaded->table.SetByte(tgid, 0);
    }
    if (desired.size() != current.size()) {
      spdlog::debug("offcpu probe: {} target process(es)", desired.size());
    }
    current = std::move(desired);
  }

  std::string ClassNameLocked(std::uint16_t id) const;
  std::vector<OffcpuSeries> HistogramsLocked() const;
  OffcpuDrops DropsLocked() const;
  Status ClearStacksLocked();
  Result<std::vector<RawStack>> ReadStacksLocked() const;
  void SetStacksOnLocked(bool on);
  std::string Fold(const std::vector<RawStack>& stacks);

  OffcpuOptions opt;
  TargetResolver resolver;  // guarded by scan_mu

  mutable std::mutex mu;  // guards everything below up to the thread
  std::unique_ptr<Loaded> loaded;
  std::uint64_t generation = 0;                             // bumped on every load
  std::vector<std::string> labels;                          // target index -> `process` label
  std::unordered_map<std::uint32_t, std::uint8_t> current;  // tgid -> byte we wrote
  mutable std::unordered_map<std::uint16_t, std::string> class_names;
  std::string down_reason = "not started";
  bool warned = false;
  bool labels_full_warned = false;
  bool started = false;
  bool stopping = false;
  std::condition_variable cv;  // wakes Run() and CollectFolded() on Stop()
  std::thread thread;

  std::mutex scan_mu;     // one scan at a time (guards resolver)
  std::mutex collect_mu;  // one folded collection at a time (guards symbolizer)
  Symbolizer symbolizer;
};

#if POOLSCOPE_HAVE_OFFCPU_BPF

std::vector<std::uint32_t> OffcpuProbe::Impl::DrainForkedLocked() {
  std::vector<std::uint32_t> out;
  const int fd = bpf_map__fd(loaded->skel->maps.forked);
  std::uint32_t key = 0;
  std::uint32_t next = 0;
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  for (std::uint32_t tgid : out) bpf_map_delete_elem(fd, &tgid);
  return out;
}

std::string OffcpuProbe::Impl::ClassNameLocked(std::uint16_t id) const {
  if (id == OFFCPU_CLASS_OTHER) return "other";
  auto it = class_names.find(id);
  if (it != class_names.end()) return it->second;
  // A class the kernel side added since the last read: read them all.
  const int fd = bpf_map__fd(loaded->skel->maps.classes);
  offcpu_class_name key{};
  offcpu_class_name next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    std::uint32_t value = 0;
    if (bpf_map_lookup_elem(fd, &next, &value) == 0) {
      std::string name(next.name, strnlen(next.name, sizeof(next.name)));
      class_names[static_cast<std::uint16_t>(value)] = name.empty() ? "other" : name;
    }
    key = next;
    prev = &key;
  }
  it = class_names.find(id);
  return it != class_names.end() ? it->second : "other";
}

std::vector<OffcpuSeries> OffcpuProbe::Impl::HistogramsLocked() const {
  std::map<std::tuple<std::string, std::string, std::string>, OffcpuSeries> merged;
  const MappedArray& a = loaded->hists;
  const std::size_t entries = a.size() / sizeof(offcpu_hist);
  const std::size_t per_target = std::size_t{loaded->classes + 1} * OFFCPU_REASONS;
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t base = i * sizeof(offcpu_hist);
    std::array<std::uint64_t, kOffcpuBuckets> buckets{};
    std::uint64_t count = 0;
    for (int b = 0; b < kOffcpuBuckets; ++b) {
      buckets[b] = a.LoadU64(base + offsetof(offcpu_hist, buckets) + b * sizeof(std::uint64_t));
      count += buckets[b];
    }
    if (count == 0) continue;
    const std::size_t target = i / per_target;
    const auto cls = static_cast<std::uint16_t>(i % per_target / OFFCPU_REASONS);
    const int reason = static_cast<int>(i % OFFCPU_REASONS);
    std::string process = target < labels.size() ? labels[target] : "other";
    std::string thread = ClassNameLocked(cls);
    std::string reason_name = OffcpuReasonName(reason);
    auto& s = merged[{process, thread, reason_name}];
    s.process = std::move(process);
    s.thread = std::move(thread);
    s.reason = std::move(reason_name);
    for (int b = 0; b < kOffcpuBuckets; ++b) s.buckets[b] += buckets[b];
    s.sum_ns += a.LoadU64(base + offsetof(offcpu_hist, sum_ns));
  }
  std::vector<OffcpuSeries> out;
  out.reserve(merged.size());
  for (auto& [k, s] : merged) out.push_back(std::move(s));
  return out;
}

OffcpuDrops OffcpuProbe::Impl::DropsLocked() const {
  OffcpuDrops d;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return d;
  std::vector<offcpu_drops> per_cpu(static_cast<std::size_t>(cpus));
  std::uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(loaded->skel->maps.drops), &zero, per_cpu.data()) != 0) {
    return d;
  }
  for (const auto& c : per_cpu) {
    d.hist_full += c.hist_full;
    d.slot_failed += c.slot_failed;
    d.stack_lost += c.stack_lost;
    d.stack_full += c.stack_full;
    d.recovered += c.recovered;
  }
  return d;
}

Status OffcpuProbe::Impl::ClearStacksLocked() {
  for (bpf_map* map : {loaded->skel->maps.stack_counts, loaded->skel->maps.user_stacks,
                       loaded->skel->maps.kern_stacks}) {
    const int fd = bpf_map__fd(map);
    std::vector<char> key(bpf_map__key_size(map));
    std::vector<char> next(key.size());
    std::vector<std::vector<char>> keys;
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      keys.push_back(next);
      key = next;
      prev = key.data();
    }
    for (auto& k : keys) bpf_map_delete_elem(fd, k.data());
  }
  return OkStatus();
}

void OffcpuProbe::Impl::SetStacksOnLocked(bool on) {
  if (loaded->skel->bss != nullptr) {
    __atomic_store_n(&loaded->skel->bss->stacks_on, on ? 1u : 0u, __ATOMIC_RELAXED);
  }
}

Result<std::vector<RawStack>> OffcpuProbe::Impl::ReadStacksLocked() const {
  std::vector<RawStack> out;
  const int counts_fd = bpf_map__fd(loaded->skel->maps.stack_counts);
  const int user_fd = bpf_map__fd(loaded->skel->maps.user_stacks);
  const int kern_fd = bpf_map__fd(loaded->skel->maps.kern_stacks);
  auto read_stack = [&](int fd, std::int32_t id, std::vector<std::uint64_t>* ips) {
    if (id < 0) return;
    std::uint64_t frames[OFFCPU_MAX_STACK_DEPTH] = {};  // the larger of the two depths
    std::uint32_t key = static_cast<std::uint32_t>(id);
    if (bpf_map_lookup_elem(fd, &key, frames) != 0) return;
    for (std::uint64_t ip : frames) {
      if (ip == 0) break;
      ips->push_back(ip);
    }
  };
  offcpu_stack_key key{};
  offcpu_stack_key next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(counts_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    offcpu_stack_value value{};
    if (bpf_map_lookup_elem(counts_fd, &key, &value) != 0) continue;
    RawStack s;
    s.tgid = key.tgid;
    s.process = key.target < labels.size() ? labels[key.target] : "other";
    s.thread = ClassNameLocked(key.thread_class);
    read_stack(user_fd, key.user_stack, &s.user);
    read_stack(kern_fd, key.kern_stack, &s.kernel);
    s.total_ns = value.total_ns;
    out.push_back(std::move(s));
  }
  return out;
}

#else  // !POOLSCOPE_HAVE_OFFCPU_BPF: never loaded, so none of these run.

std::vector<std::uint32_t> OffcpuProbe::Impl::DrainForkedLocked() { return {}; }
std::string OffcpuProbe::Impl::ClassNameLocked(std::uint16_t) const { return "other"; }
std::vector<OffcpuSeries> OffcpuProbe::Impl::HistogramsLocked() const { return {}; }
OffcpuDrops OffcpuProbe::Impl::DropsLocked() const { return {}; }
Status OffcpuProbe::Impl::ClearStacksLocked() { return OkStatus(); }
void OffcpuProbe::Impl::SetStacksOnLocked(bool) {}
Result<std::vector<RawStack>> OffcpuProbe::Impl::ReadStacksLocked() const {
  return std::vector<RawStack>{};
}

#endif  // POOLSCOPE_HAVE_OFFCPU_BPF

std::string OffcpuProbe::Impl::Fold(const std::vector<RawStack>& stacks) {
  std::map<std::string, std::uint64_t> lines;
  symbolizer.BeginRound();
  for (const auto& s : stacks) {
    std::string line = FrameName(s.process) + ";" + FrameName(s.thread);
    for (std::size_t i = s.user.size(); i-- > 0;) {
      // Return addresses point after the call: look up the call itself.
      const std::uint64_t ip = i == 0 ? s.user[i] : s.user[i] - 1;
      line += ";" + FrameName(symbolizer.User(s.tgid, ip));
    }
    std::vector<std::string> kernel;
    for (std::size_t i = 0; i < s.kernel.size(); ++i) {
      kernel.push_back(symbolizer.Kernel(i == 0 ? s.kernel[i] : s.kernel[i] - 1));
    }
    std::size_t skip = 0;
    while (skip < kernel.size() && IsProbeFrame(kernel[skip])) ++skip;
    for (std::size_t i = kernel.size(); i-- > skip;) {
      line += ";" + FrameName(kernel[i]) + "_[k]";
    }
    lines[line] += std::max<std::uint64_t>(1, (s.total_ns + 500) / 1000);
  }
  symbolizer.EndRound();
  std::string out;
  for (const auto& [line, us] : lines) out += fmt::format("{} {}\n", line, us);
  return out;
}

OffcpuProbe::OffcpuProbe(OffcpuOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OffcpuProbe::~OffcpuProbe() { Stop(); }

Status OffcpuProbe::Start() {
  Status result = OkStatus();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started)
      return impl_->loaded ? OkStatus()
                           : Status(Error{ErrorCode::kUnavailable, impl_->down_reason});
    impl_->started = true;
    impl_->stopping = false;
    result = impl_->TryLoadLocked();
  }
  if (result) impl_->Rescan();
  impl_->thread = std::thread([this] { impl_->Run(); });
  return result;
}

void OffcpuProbe::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Wait for a running collection to notice, then detach.
  std::lock_guard collect(impl_->collect_mu);
  std::lock_guard lock(impl_->mu);
  impl_->loaded.reset();
  impl_->down_reason = "stopped";
  impl_->started = false;
}

bool OffcpuProbe::up() const {
  std::lock_guard lock(impl_->mu);
  return impl_->loaded != nullptr;
}

std::string OffcpuProbe::status() const {
  std::lock_guard lock(impl_->mu);
  if (impl_->loaded) return fmt::format("attached ({})", impl_->loaded->mode);
  return impl_->down_reason;
}

std::vector<OffcpuSeries> OffcpuProbe::Histograms() const {
  std::lock_guard lock(impl_->mu);
  if (!impl_->loaded) return {};
  return impl_->HistogramsLocked();
}

OffcpuDrops OffcpuProbe::Drops() const {
  std::lock_guard lock(impl_->mu);
  if (!impl_->loaded) return {};
  return impl_->DropsLocked();
}

Result<std::string> OffcpuProbe::CollectFolded(std::chrono::milliseconds window) {
  if (!impl_->opt.stacks) {
    return Error{ErrorCode::kInvalidArgument,
                 "stack sampling is off (set probes.offcpu.stacks.enabled: true)"};
  }
  std::unique_lock collect(impl_->collect_mu, std::try_to_lock);
  if (!collect.owns_lock()) {
    return Error{ErrorCode::kResourceExhausted, "another off-CPU stack collection is running"};
  }
  std::vector<RawStack> stacks;
  {
    std::unique_lock lock(impl_->mu);
    if (!impl_->loaded) {
      return Error{ErrorCode::kUnavailable, "offcpu probe unavailable: " + impl_->down_reason};
    }
    const std::uint64_t generation = impl_->generation;
    if (Status s = impl_->ClearStacksLocked(); !s) return s.error();
    const bool always_on = impl_->opt.stacks_always_on;
    if (!always_on) impl_->SetStacksOnLocked(true);
    impl_->cv.wait_for(lock, window, [&] { return impl_->stopping; });
    if (impl_->stopping || !impl_->loaded || impl_->generation != generation) {
      if (impl_->loaded && !always_on) impl_->SetStacksOnLocked(false);
      return Error{ErrorCode::kCancelled, "the offcpu probe stopped during the collection"};
    }
    if (!always_on) impl_->SetStacksOnLocked(false);
    auto read = impl_->ReadStacksLocked();
    if (!read) return read.error();
    stacks = std::move(*read);
  }
  // Symbolization reads files: outside the lock, scrapes go on meanwhile.
  return impl_->Fold(stacks);
}

void OffcpuProbe::RescanNow() { impl_->Rescan(); }

std::size_t OffcpuProbe::target_processes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->current.size();
}

std::uint32_t OffcpuProbe::switch_prog_id() const {
#if POOLSCOPE_HAVE_OFFCPU_BPF
  std::lock_guard lock(impl_->mu);
  if (!impl_->loaded) return 0;
  const auto& progs = impl_->loaded->skel->progs;
  bpf_program* p = progs.offcpu_switch;
  if (std::strcmp(impl_->loaded->mode, "raw_tp") == 0) p = progs.offcpu_sw_raw;
  if (std::strcmp(impl_->loaded->mode, "noop") == 0) p = progs.offcpu_noop;
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) != 0) return 0;
  return info.id;
#else
  return 0;
#endif
}

const OffcpuOptions& OffcpuProbe::options() const { return impl_->opt; }

}  // namespace poolscope
