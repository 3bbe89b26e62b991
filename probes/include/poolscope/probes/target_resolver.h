// TargetResolver finds the processes the off-CPU probe watches by scanning
// /proc: name targets match a process whose name (comm) or executable's base
// name equals the configured name; pid targets match that one process.
//
//   TargetResolver r({OffcpuTarget::Process("postgres"), OffcpuTarget::Pid(4242)});
//   for (const auto& [tgid, m] : r.Scan()) { ...m.label, m.inherit... }
//
// Labels are bounded by construction: a name target's label is its `label`
// or its name; a pid target's label is its `label` or the process's name the
// first time it was found (kept afterwards, so a series never changes name).
// The first matching target wins.
//
// Thread-safety: not thread-safe; one owner (the probe's scan thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace poolscope {

// OffcpuTarget is one configured target: by name or by pid.
struct OffcpuTarget {
  std::string process;  // comm or executable base name; empty for a pid target
  int pid = 0;          // the process id of a pid target; 0 for a name target
  std::string label;    // the `process` label; empty: the default (see above)

  // Process is a name target; Pid a pid target.
  static OffcpuTarget Process(std::string name, std::string label = {}) {
    return OffcpuTarget{std::move(name), 0, std::move(label)};
  }
  static OffcpuTarget Pid(int pid, std::string label = {}) {
    return OffcpuTarget{{}, pid, std::move(label)};
  }
};

// TargetMatch is what a live process matched.
struct TargetMatch {
  std::string label;
  bool inherit = false;  // a name target: processes it forks are targets too
};

class TargetResolver {
 public:
  // `proc_root` is where procfs is mounted (tests point it at a fake tree).
  explicit TargetResolver(std::vector<OffcpuTarget> targets, std::string proc_root = "/proc");

  // Scan returns every live process that matches a target, by tgid.
  std::map<std::uint32_t, TargetMatch> Scan();

  // Match checks one process; nullopt when it is gone or matches nothing.
  std::optional<TargetMatch> Match(std::uint32_t tgid);

  const std::vector<OffcpuTarget>& targets() const { return targets_; }

 private:
  std::optional<TargetMatch> MatchWith(std::uint32_t tgid, const std::string& comm,
                                       const std::string& exe_base);
  std::string ReadComm(std::uint32_t tgid) const;
  std::string ExeBase(std::uint32_t tgid) const;

  std::vector<OffcpuTarget> targets_;
  std::vector<std::string> pinned_;  // per target: the label once known
  std::string proc_root_;
};

}  // namespace poolscope
