// Symbolizer turns stack addresses into function names: kernel addresses
// through /proc/kallsyms, user addresses through the process's memory maps
// and the ELF symbols of the mapped file, with one cache entry per binary
// (by device and inode) kept across collections, so hundreds of PostgreSQL
// backends running the same executable cost one symbol table.
//
//   Symbolizer sym;
//   sym.BeginRound();                  // re-read maps and kallsyms lazily
//   std::string f = sym.User(tgid, ip);    // "PostgresMain", "[libc.so.6]", "[unknown]"
//   std::string k = sym.Kernel(kip);       // "schedule", "[kernel]"
//   sym.EndRound();                    // drop maps and kallsyms, keep binaries
//
// Files are opened through /proc/<tgid>/root, so processes in other mount
// namespaces (containers) resolve too.
//
// Thread-safety: not thread-safe; one user at a time (the probe serializes
// collections).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "poolscope/probes/elf_symbols.h"
#include "poolscope/probes/kernel_symbols.h"

namespace poolscope {

class Symbolizer {
 public:
  // `proc_root`: where procfs is; `max_binaries`: binaries cached at most
  // (the least recently used is dropped past it).
  explicit Symbolizer(std::string proc_root = "/proc", std::size_t max_binaries = 64);

  // BeginRound forgets process maps and kernel symbols from the last round.
  void BeginRound();
  // EndRound frees this round's process maps and kernel symbols.
  void EndRound();

  // User names the function at `addr` in process `tgid`: the symbol, or
  // "[<file name>]" when the file has no symbol there, or "[unknown]".
  std::string User(std::uint32_t tgid, std::uint64_t addr);

  // Kernel names the kernel function at `addr`, or "[kernel]".
  std::string Kernel(std::uint64_t addr);

  // cached_binaries is how many binaries' symbols are held.
  std::size_t cached_binaries() const { return binaries_.size(); }

 private:
  struct Mapping {
    std::uint64_t start;
    std::uint64_t end;
    std::uint64_t offset;
    std::string key;   // "dev:inode" (or the path for inode 0)
    std::string path;  // as the process sees it
  };
  struct Binary {
    std::optional<ElfSymbols> symbols;  // nullopt: unreadable
    std::list<std::string>::iterator lru;
  };

  const std::vector<Mapping>& MapsOf(std::uint32_t tgid);
  const Binary& BinaryFor(std::uint32_t tgid, const Mapping& m);

  std::string proc_root_;
  std::size_t max_binaries_;
  std::unordered_map<std::uint32_t, std::vector<Mapping>> maps_;  // this round
  std::optional<KernelSymbols> kernel_;                           // this round, lazily
  std::unordered_map<std::string, Binary> binaries_;              // by Mapping::key
  std::list<std::string> lru_;                                    // most recent first
};

}  // namespace poolscope
