// The off-CPU probe's pure parts, without the kernel: bucket and thread-name
// rules, target resolution over a fake /proc, kallsyms parsing, ELF
// symbolization of this very test binary, and the Prometheus export of a
// probe that cannot load.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "poolscope/probes/kernel_symbols.h"
#include "poolscope/probes/offcpu_collector.h"
#include "poolscope/probes/offcpu_model.h"
#include "poolscope/probes/offcpu_probe.h"
#include "poolscope/probes/symbolizer.h"
#include "poolscope/probes/target_resolver.h"

extern "C" __attribute__((noinline, used)) int offcpu_unit_test_marker(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}

namespace poolscope {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(OffcpuModelTest, BucketsArePowersOfTwoNanosecondsFrom1usTo17s) {
  const auto& b = OffcpuBucketBounds();
  ASSERT_EQ(b.size(), 25u);
  EXPECT_DOUBLE_EQ(b[0], 1.024e-6);
  EXPECT_DOUBLE_EQ(b[10], 1.048576e-3);
  EXPECT_DOUBLE_EQ(b[24], 17.179869184);
  EXPECT_EQ(OffcpuBucketOf(0), 0);
  EXPECT_EQ(OffcpuBucketOf(1024), 0);  // le 1.024e-6
  EXPECT_EQ(OffcpuBucketOf(1025), 1);
  EXPECT_EQ(OffcpuBucketOf(2048), 1);
  EXPECT_EQ(OffcpuBucketOf(2049), 2);
  EXPECT_EQ(OffcpuBucketOf(10'000'000), 14);  // 10 ms: le 16.777216 ms
  EXPECT_EQ(OffcpuBucketOf(std::uint64_t{1} << 34), 24);
  EXPECT_EQ(OffcpuBucketOf((std::uint64_t{1} << 34) + 1), 25);  // +Inf
  EXPECT_EQ(OffcpuBucketOf(~0ull), 25);
  // Every bound is the largest value of its bucket.
  for (int k = 0; k < 25; ++k) {
    const auto ns = static_cast<std::uint64_t>(std::llround(b[k] * 1e9));
    EXPECT_EQ(OffcpuBucketOf(ns), k);
    EXPECT_EQ(OffcpuBucketOf(ns + 1), k + 1);
  }
}

TEST(OffcpuModelTest, ReasonNames) {
  EXPECT_STREQ(OffcpuReasonName(0), "runqueue");
  EXPECT_STREQ(OffcpuReasonName(1), "io");
  EXPECT_STREQ(OffcpuReasonName(2), "lock");
  EXPECT_STREQ(OffcpuReasonName(3), "poll");
  EXPECT_STREQ(OffcpuReasonName(4), "net");
  EXPECT_STREQ(OffcpuReasonName(5), "sleep");
  EXPECT_STREQ(OffcpuReasonName(6), "other");
  EXPECT_STREQ(OffcpuReasonName(99), "other");
}

TEST(OffcpuModelTest, ThreadNamesFoldDigitRuns) {
  EXPECT_EQ(NormaliseThreadName("postgres"), "postgres");
  EXPECT_EQ(NormaliseThreadName("worker-12"), "worker-#");
  EXPECT_EQ(NormaliseThreadName("pool3-conn17"), "pool#-conn#");
  EXPECT_EQ(NormaliseThreadName("1234"), "#");
  EXPECT_EQ(NormaliseThreadName(""), "");
  EXPECT_EQ(NormaliseThreadName(std::string_view("abc\0def", 7)), "abc");
}

// FakeProc is a throw-away procfs look-alike: <pid>/comm and <pid>/exe.
class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/poolscope-fakeproc-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~FakeProc() { fs::remove_all(root_); }

  void Add(int pid, const std::string& comm, const std::string& exe) {
    fs::path dir = fs::path(root_) / std::to_string(pid);
    fs::create_directories(dir);
    std::ofstream(dir / "comm") << comm << "\n";
    if (!exe.empty()) fs::create_symlink(exe, dir / "exe");
  }
  void Remove(int pid) { fs::remove_all(fs::path(root_) / std::to_string(pid)); }

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST(TargetResolverTest, MatchesByCommExecutableAndPid) {
  FakeProc proc;
  proc.Add(100, "postgres", "/usr/lib/postgresql/15/bin/postgres");
  proc.Add(101, "postgres", "/usr/lib/postgresql/15/bin/postgres");
  proc.Add(200, "poolscope-agent", "/usr/bin/poolscope-agent");
  proc.Add(300, "python3", "/usr/bin/python3.11");
  proc.Add(400, "renamed", "/opt/app/bin/my-service-binary");
  proc.Add(500, "kworker/0:1", "");  // kernel thread: no exe
  TargetResolver r(
      {OffcpuTarget::Process("postgres"), OffcpuTarget::Process("my-service-binary", "svc"),
       OffcpuTarget::Pid(300), OffcpuTarget::Pid(999)},
      proc.root());
  auto m = r.Scan();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[100].label, "postgres");
  EXPECT_TRUE(m[100].inherit);
  EXPECT_EQ(m[101].label, "postgres");
  EXPECT_EQ(m[400].label, "svc");      // by executable base name
  EXPECT_EQ(m[300].label, "python3");  // a pid target is named after its process
  EXPECT_FALSE(m[300].inherit);
  EXPECT_EQ(m.count(200), 0u);

  // A pid target keeps its first label even when the process renames itself.
  proc.Remove(300);
  proc.Add(300, "renamed-now", "/usr/bin/python3.11");
  EXPECT_EQ(r.Scan()[300].label, "python3");
  EXPECT_FALSE(r.Match(12345).has_value());
  EXPECT_EQ(r.Match(101)->label, "postgres");
}

TEST(TargetResolverTest, LongNamesMatchTheTruncatedComm) {
  FakeProc proc;
  proc.Add(10, "a-very-long-pro", "/elsewhere/other");  // comm: first 15 characters
  TargetResolver r({OffcpuTarget::Process("a-very-long-process-name")}, proc.root());
  auto m = r.Scan();
  ASSERT_EQ(m.count(10), 1u);
  EXPECT_EQ(m[10].label, "a-very-long-process-name");
}

TEST(KernelSymbolsTest, ParsesTextSymbolsAndLooksUpContainingFunction) {
  auto ks = KernelSymbols::Parse(
      "ffffffff81000000 T _stext\n"
      "ffffffff81000100 t helper\n"
      "ffffffff81000200 D some_data\n"
      "ffffffff81000300 T schedule\n"
      "ffffffffc0001000 t mod_fn\t[some_module]\n"
      "garbage line\n");
  EXPECT_EQ(ks.size(), 4u);
  EXPECT_EQ(ks.Lookup(0xffffffff81000150), "helper");
  EXPECT_EQ(ks.Lookup(0xffffffff81000250), "helper");  // data is not a function
  EXPECT_EQ(ks.Lookup(0xffffffff81000300), "schedule");
  EXPECT_EQ(ks.Lookup(0xffffffffc0001008), "mod_fn");
  EXPECT_EQ(ks.Lookup(0x1000), "");
}

TEST(KernelSymbolsTest, HiddenAddressesGiveAnEmptyTable) {
  auto ks = KernelSymbols::Parse("0000000000000000 T _stext\n0000000000000000 T schedule\n");
  EXPECT_TRUE(ks.empty());
  EXPECT_EQ(ks.Lookup(0xffffffff81000000), "");
}

TEST(SymbolizerTest, NamesAFunctionOfThisProcess) {
  Symbolizer sym;
  sym.BeginRound();
  const auto addr = reinterpret_cast<std::uint64_t>(&offcpu_unit_test_marker);
  EXPECT_EQ(sym.User(static_cast<std::uint32_t>(getpid()), addr + 2), "offcpu_unit_test_marker");
  EXPECT_EQ(sym.User(static_cast<std::uint32_t>(getpid()), 0x10), "[unknown]");
  // A libc function, by .symtab, its debug file or .dynsym.
  const auto getpid_addr = reinterpret_cast<std::uint64_t>(&getpid);
  std::string libc = sym.User(static_cast<std::uint32_t>(getpid()), getpid_addr);
  EXPECT_THAT(libc, HasSubstr("getpid"));
  EXPECT_GE(sym.cached_binaries(), 2u);
  sym.EndRound();
  EXPECT_GE(sym.cached_binaries(), 2u);  // binaries stay cached across rounds
}

TEST(SymbolizerTest, BinaryCacheIsBounded) {
  Symbolizer sym("/proc", 1);
  sym.BeginRound();
  (void)sym.User(static_cast<std::uint32_t>(getpid()),
                 reinterpret_cast<std::uint64_t>(&offcpu_unit_test_marker));
  (void)sym.User(static_cast<std::uint32_t>(getpid()), reinterpret_cast<std::uint64_t>(&getpid));
  EXPECT_EQ(sym.cached_binaries(), 1u);
}

// A probe that cannot load (a bad fake kernel is not needed: without rights or
// BTF it fails; with them, an impossible option makes it fail) still exports.
TEST(OffcpuCollectorTest, ExportsProbeUpZeroWhenDown) {
  OffcpuOptions o;
  o.targets = {OffcpuTarget::Process("nothing-here")};
  auto probe = std::make_shared<OffcpuProbe>(o);  // never started: down
  EXPECT_FALSE(probe->up());
  EXPECT_EQ(probe->status(), "not started");
  OffcpuCollector collector(probe);
  auto families = collector.Collect();
  ASSERT_EQ(families.size(), 4u);
  std::map<std::string, const prometheus::MetricFamily*> by_name;
  for (const auto& f : families) by_name[f.name] = &f;
  ASSERT_TRUE(by_name.count("poolscope_probe_up"));
  EXPECT_EQ(by_name["poolscope_probe_up"]->metric.at(0).gauge.value, 0);
  EXPECT_EQ(by_name["poolscope_probe_up"]->metric.at(0).label.at(0).value, "offcpu");
  ASSERT_TRUE(by_name.count("poolscope_offcpu_seconds"));
  EXPECT_TRUE(by_name["poolscope_offcpu_seconds"]->metric.empty());
  EXPECT_EQ(by_name["poolscope_probe_events_total"]->metric.at(0).counter.value, 0);
  EXPECT_EQ(by_name["poolscope_probe_dropped_total"]->metric.at(0).counter.value, 0);
  auto folded = probe->CollectFolded(std::chrono::milliseconds(1));
  ASSERT_FALSE(folded);
  EXPECT_THAT(folded.error().message, HasSubstr("stack sampling is off"));
}

}  // namespace
}  // namespace poolscope
