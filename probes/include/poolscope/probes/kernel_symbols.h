// KernelSymbols resolves kernel addresses to function names from a
// /proc/kallsyms snapshot (text symbols only, modules included).
//
//   KernelSymbols ks = KernelSymbols::Load();
//   std::string_view fn = ks.Lookup(0xffffffff81234567);   // "" when unknown
//
// When kernel addresses are hidden (kptr_restrict, no CAP_SYSLOG) every
// address reads as 0 and the table is empty.
//
// Thread-safety: immutable after construction; Lookup is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poolscope {

class KernelSymbols {
 public:
  KernelSymbols() = default;

  // Load reads `path` (kallsyms format); an unreadable file gives an empty table.
  static KernelSymbols Load(const std::string& path = "/proc/kallsyms");

  // Parse reads kallsyms-format `text`: "ffffffff81000000 T _stext [module]".
  static KernelSymbols Parse(std::string_view text);

  // Lookup returns the function at or before `addr`, or "" when unknown.
  std::string_view Lookup(std::uint64_t addr) const;

  bool empty() const { return syms_.empty(); }
  std::size_t size() const { return syms_.size(); }

 private:
  std::vector<std::pair<std::uint64_t, std::uint32_t>> syms_;  // address, offset in names_
  std::string names_;                                          // NUL-separated names
};

}  // namespace poolscope
