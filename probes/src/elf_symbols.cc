#include "poolscope/probes/elf_symbols.h"

#include <cxxabi.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>

namespace poolscope {
namespace {

// ElfFile owns an open file and its libelf handle.
class ElfFile {
 public:
  ElfFile() = default;
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile() {
    if (elf_ != nullptr) elf_end(elf_);
    if (fd_ >= 0) ::close(fd_);
  }

  bool Open(const std::string& path) {
    static std::once_flag once;
    std::call_once(once, [] { elf_version(EV_CURRENT); });
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return false;
    elf_ = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
    return elf_ != nullptr && elf_kind(elf_) == ELF_K_ELF;
  }

  Elf* get() const { return elf_; }

 private:
  int fd_ = -1;
  Elf* elf_ = nullptr;
};

// FindSection returns the first section of `type`, or null.
Elf_Scn* FindSection(Elf* elf, Elf64_Word type, GElf_Shdr* shdr) {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    if (gelf_getshdr(scn, shdr) != nullptr && shdr->sh_type == type) return scn;
  }
  return nullptr;
}

std::string Demangle(const char* name) {
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(
      abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

Result<ElfSymbols> ElfSymbols::Load(const std::string& path, const std::string& debug_root) {
  ElfFile file;
  if (!file.Open(path)) {
    return Error{ErrorCode::kNotFound, fmt::format("{}: not a readable ELF file", path)};
  }
  ElfSymbols out;
  std::size_t nphdr = 0;
  if (elf_getphdrnum(file.get(), &nphdr) != 0) {
    return Error{ErrorCode::kInvalidArgument, fmt::format("{}: no program headers", path)};
  }
  for (std::size_t i = 0; i < nphdr; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(file.get(), static_cast<int>(i), &ph) == nullptr) continue;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      out.segments_.push_back({ph.p_offset, ph.p_vaddr, ph.p_filesz});
    }
  }

  // Symbols: .symtab here, else in the separate debug file, else .dynsym.
  ElfFile debug;
  Elf* sym_elf = file.get();
  GElf_Shdr shdr;
  Elf_Scn* scn = FindSection(file.get(), SHT_SYMTAB, &shdr);
  if (scn == nullptr) {
    const void* id = nullptr;
    ssize_t n = dwelf_elf_gnu_build_id(file.get(), &id);
    if (n > 1) {
      const auto* b = static_cast<const unsigned char*>(id);
      std::string hex;
      for (ssize_t i = 0; i < n; ++i) hex += fmt::format("{:02x}", b[i]);
      const std::string dbg =
          fmt::format("{}/.build-id/{}/{}.debug", debug_root, hex.substr(0, 2), hex.substr(2));
      if (debug.Open(dbg)) {
        scn = FindSection(debug.get(), SHT_SYMTAB, &shdr);
        if (scn != nullptr) sym_elf = debug.get();
      }
    }
  }
  if (scn == nullptr) scn = FindSection(file.get(), SHT_DYNSYM, &shdr);
  if (scn != nullptr && shdr.sh_entsize != 0) {
    Elf_Data* data = elf_getdata(scn, nullptr);
    const std::size_t count = shdr.sh_size / shdr.sh_entsize;
    for (std::size_t i = 0; data != nullptr && i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
      const int type = GELF_ST_TYPE(sym.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
          sym.st_value == 0) {
        continue;
      }
      const char* name = elf_strptr(sym_elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || *name == '\0') continue;
      out.syms_.push_back(
          {sym.st_value, sym.st_size, static_cast<std::uint32_t>(out.names_.size())});
      out.names_.append(name);
      out.names_.push_back('\0');
    }
  }
  std::sort(out.syms_.begin(), out.syms_.end(), [](const Sym& a, const Sym& b) {
    return a.addr != b.addr ? a.addr < b.addr : a.size > b.size;
  });
  out.syms_.shrink_to_fit();
  out.names_.shrink_to_fit();
  return out;
}

std::string ElfSymbols::Lookup(std::uint64_t file_offset) const {
  std::uint64_t vaddr = 0;
  bool mapped = false;
  for (const auto& s : segments_) {
    if (file_offset >= s.offset && file_offset < s.offset + s.filesz) {
      vaddr = file_offset - s.offset + s.vaddr;
      mapped = true;
      break;
    }
  }
  if (!mapped) return {};
  auto it = std::upper_bound(syms_.begin(), syms_.end(), vaddr,
                             [](std::uint64_t a, const Sym& s) { return a < s.addr; });
  if (it == syms_.begin()) return {};
  --it;
  // Aliases share an address; sorted by size, the last one at `addr` is the
  // smallest, so walk back to the first (largest) one that covers vaddr.
  while (it != syms_.begin() && (it - 1)->addr == it->addr) --it;
  if (it->size != 0 && vaddr >= it->addr + it->size) return {};
  return Demangle(names_.c_str() + it->name);
}

}  // namespace poolscope
