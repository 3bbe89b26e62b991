#include "poolscope/probes/kernel_symbols.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace poolscope {

KernelSymbols KernelSymbols::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str());
}

KernelSymbols KernelSymbols::Parse(std::string_view text) {
  KernelSymbols ks;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    // "<hex address> <type> <name>[\t[module]]"
    std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 + 3 > line.size()) continue;
    const char type = line[sp1 + 1];
    if (type != 't' && type != 'T' && type != 'w' && type != 'W') continue;
    std::uint64_t addr = 0;
    bool ok = sp1 > 0;
    for (char c : line.substr(0, sp1)) {
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) {
        ok = false;
        break;
      }
      addr = addr << 4 | static_cast<std::uint64_t>(d);
    }
    if (!ok || addr == 0) continue;  // hidden addresses read as 0
    std::string_view name = line.substr(sp1 + 3);
    name = name.substr(0, name.find_first_of(" \t"));
    if (name.empty()) continue;
    ks.syms_.emplace_back(addr, static_cast<std::uint32_t>(ks.names_.size()));
    ks.names_.append(name);
    ks.names_.push_back('\0');
  }
  std::stable_sort(ks.syms_.begin(), ks.syms_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ks.syms_.shrink_to_fit();
  return ks;
}

std::string_view KernelSymbols::Lookup(std::uint64_t addr) const {
  auto it = std::upper_bound(syms_.begin(), syms_.end(), addr,
                             [](std::uint64_t a, const auto& s) { return a < s.first; });
  if (it == syms_.begin()) return {};
  --it;
  return std::string_view(names_.c_str() + it->second);
}

}  // namespace poolscope
