#include "poolscope/probes/target_resolver.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace poolscope {
namespace {

// kCommLen is the kernel's TASK_COMM_LEN minus the terminator.
constexpr std::size_t kCommLen = 15;

bool AllDigits(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

}  // namespace

TargetResolver::TargetResolver(std::vector<OffcpuTarget> targets, std::string proc_root)
    : targets_(std::move(targets)), pinned_(targets_.size()), proc_root_(std::move(proc_root)) {
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    const auto& t = targets_[i];
    if (!t.label.empty()) {
      pinned_[i] = t.label;
    } else if (!t.process.empty()) {
      pinned_[i] = t.process;
    }
  }
}

std::string TargetResolver::ReadComm(std::uint32_t tgid) const {
  std::ifstream in(proc_root_ + "/" + std::to_string(tgid) + "/comm");
  std::string comm;
  if (!in || !std::getline(in, comm)) return {};
  return comm;
}

std::string TargetResolver::ExeBase(std::uint32_t tgid) const {
  const std::string link = proc_root_ + "/" + std::to_string(tgid) + "/exe";
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return {};  // kernel threads, gone, or not ours to read
  std::string path(buf, static_cast<std::size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.ends_with(kDeleted)) {
    path.resize(path.size() - kDeleted.size());
  }
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<TargetMatch> TargetResolver::MatchWith(std::uint32_t tgid, const std::string& comm,
                                                     const std::string& exe_base) {
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    const auto& t = targets_[i];
    bool hit = false;
    if (t.pid > 0) {
      hit = static_cast<std::uint32_t>(t.pid) == tgid;
    } else if (!t.process.empty()) {
      // comm is truncated to 15 characters; compare a long name's prefix.
      hit = (!comm.empty() && (comm == t.process || (t.process.size() > kCommLen &&
                                                     comm == t.process.substr(0, kCommLen)))) ||
            (!exe_base.empty() && exe_base == t.process);
    }
    if (!hit) continue;
    if (pinned_[i].empty()) pinned_[i] = comm.empty() ? "unknown" : comm;
    return TargetMatch{pinned_[i], t.pid == 0};
  }
  return std::nullopt;
}

std::optional<TargetMatch> TargetResolver::Match(std::uint32_t tgid) {
  std::string comm = ReadComm(tgid);
  if (comm.empty()) return std::nullopt;
  return MatchWith(tgid, comm, ExeBase(tgid));
}

std::map<std::uint32_t, TargetMatch> TargetResolver::Scan() {
  std::map<std::uint32_t, TargetMatch> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc_root_.c_str()), &::closedir);
  if (!dir) return out;
  bool any_name = false;
  for (const auto& t : targets_) any_name = any_name || (t.pid == 0 && !t.process.empty());
  while (dirent* e = ::readdir(dir.get())) {
    if (!AllDigits(e->d_name)) continue;
    const auto tgid = static_cast<std::uint32_t>(std::strtoul(e->d_name, nullptr, 10));
    bool pid_target = false;
    for (const auto& t : targets_)
      pid_target = pid_target || static_cast<std::uint32_t>(t.pid) == tgid;
    if (!any_name && !pid_target) continue;  // only pid targets: skip the reads
    std::string comm = ReadComm(tgid);
    if (comm.empty()) continue;
    std::optional<TargetMatch> m = MatchWith(tgid, comm, any_name ? ExeBase(tgid) : std::string());
    if (m) out.emplace(tgid, std::move(*m));
  }
  return out;
}

}  // namespace poolscope
