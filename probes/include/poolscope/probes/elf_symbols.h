// ElfSymbols resolves offsets in one ELF file (an executable or a shared
// library) to function names, for symbolizing user-space stacks.
//
//   auto syms = ElfSymbols::Load("/usr/lib/x86_64-linux-gnu/libc.so.6");
//   if (syms) std::string fn = syms->Lookup(file_offset);   // "" when unknown
//
// Symbols come from .symtab; a stripped file uses its separate debug file
// when one is installed (found by build id under /usr/lib/debug/.build-id,
// read with libdw) and otherwise .dynsym. C++ names are demangled.
//
// Thread-safety: immutable after Load; Lookup is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "poolscope/core/result.h"

namespace poolscope {

class ElfSymbols {
 public:
  // Load reads the function symbols of `path`; `debug_root` is where
  // separate debug files live.
  static Result<ElfSymbols> Load(const std::string& path,
                                 const std::string& debug_root = "/usr/lib/debug");

  // Lookup returns the (demangled) function containing the byte at
  // `file_offset` in the file, or "" when no symbol covers it.
  std::string Lookup(std::uint64_t file_offset) const;

  // size is the number of function symbols.
  std::size_t size() const { return syms_.size(); }

 private:
  struct Segment {
    std::uint64_t offset;  // p_offset
    std::uint64_t vaddr;   // p_vaddr
    std::uint64_t filesz;  // p_filesz
  };
  struct Sym {
    std::uint64_t addr;
    std::uint64_t size;
    std::uint32_t name;  // offset in names_
  };

  std::vector<Segment> segments_;  // executable PT_LOAD segments
  std::vector<Sym> syms_;          // by address
  std::string names_;              // NUL-separated
};

}  // namespace poolscope
