#include "poolscope/probes/symbolizer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace poolscope {

Symbolizer::Symbolizer(std::string proc_root, std::size_t max_binaries)
    : proc_root_(std::move(proc_root)), max_binaries_(std::max<std::size_t>(1, max_binaries)) {}

void Symbolizer::BeginRound() {
  maps_.clear();
  kernel_.reset();
}

void Symbolizer::EndRound() { BeginRound(); }

const std::vector<Symbolizer::Mapping>& Symbolizer::MapsOf(std::uint32_t tgid) {
  auto [it, inserted] = maps_.try_emplace(tgid);
  if (!inserted) return it->second;
  std::ifstream in(proc_root_ + "/" + std::to_string(tgid) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    // start-end perms offset dev inode [path]
    unsigned long long start = 0, end = 0, offset = 0, inode = 0;
    char perms[8] = {};
    char dev[32] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %31s %llu %n", &start, &end, perms, &offset,
                    dev, &inode, &path_at) < 6) {
      continue;
    }
    if (perms[2] != 'x') continue;
    Mapping m{start, end, offset, {}, path_at > 0 ? line.substr(path_at) : std::string()};
    m.key = inode != 0 ? std::string(dev) + ":" + std::to_string(inode) : m.path;
    it->second.push_back(std::move(m));
  }
  return it->second;
}

const Symbolizer::Binary& Symbolizer::BinaryFor(std::uint32_t tgid, const Mapping& m) {
  auto found = binaries_.find(m.key);
  if (found != binaries_.end()) {
    lru_.splice(lru_.begin(), lru_, found->second.lru);
    return found->second;
  }
  if (binaries_.size() >= max_binaries_) {
    binaries_.erase(lru_.back());
    lru_.pop_back();
  }
  Binary b;
  // The process's own view first (containers), then ours.
  const std::string in_root = proc_root_ + "/" + std::to_string(tgid) + "/root" + m.path;
  auto syms = ElfSymbols::Load(in_root);
  if (!syms) syms = ElfSymbols::Load(m.path);
  if (syms) b.symbols = std::move(*syms);
  lru_.push_front(m.key);
  b.lru = lru_.begin();
  return binaries_.emplace(m.key, std::move(b)).first->second;
}

std::string Symbolizer::User(std::uint32_t tgid, std::uint64_t addr) {
  const auto& maps = MapsOf(tgid);
  auto it = std::upper_bound(maps.begin(), maps.end(), addr,
                             [](std::uint64_t a, const Mapping& m) { return a < m.start; });
  if (it == maps.begin()) return "[unknown]";
  --it;
  if (addr >= it->end) return "[unknown]";
  if (it->path.empty()) return "[unknown]";      // anonymous executable memory (JIT)
  if (it->path.front() == '[') return it->path;  // [vdso], [vsyscall]
  const Binary& b = BinaryFor(tgid, *it);
  if (b.symbols) {
    std::string name = b.symbols->Lookup(addr - it->start + it->offset);
    if (!name.empty()) return name;
  }
  auto slash = it->path.rfind('/');
  return "[" + (slash == std::string::npos ? it->path : it->path.substr(slash + 1)) + "]";
}

std::string Symbolizer::Kernel(std::uint64_t addr) {
  if (!kernel_) kernel_ = KernelSymbols::Load(proc_root_ + "/kallsyms");
  std::string_view name = kernel_->Lookup(addr);
  return name.empty() ? std::string("[kernel]") : std::string(name);
}

}  // namespace poolscope
