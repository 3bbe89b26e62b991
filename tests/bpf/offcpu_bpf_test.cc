// The off-CPU probe against the running kernel: real programs loaded, real
// child processes waiting in known ways. Needs root (CAP_BPF + CAP_PERFMON,
// or CAP_SYS_ADMIN) and kernel BTF; reported SKIPPED with the reason
// otherwise. AgentWithoutRightsKeepsServing runs everywhere.
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "http_get.h"
#include "poolscope/agent/agent.h"
#include "poolscope/config/config.h"
#include "poolscope/probes/offcpu_probe.h"

extern char** environ;

namespace poolscope {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kChild = OFFCPU_TEST_CHILD;
constexpr const char* kOutsider = OFFCPU_TEST_OUTSIDER;
constexpr const char* kAgent = OFFCPU_TEST_AGENT;
constexpr const char* kChildName = "offcpu_test_child";  // its executable's base name

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

// HasCap tells whether this process has `cap` in its effective set.
bool HasCap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// BpfUnavailable says why the probe cannot run here ("" when it can).
std::string BpfUnavailable() {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
  }
  if (!(HasCap(CAP_SYS_ADMIN) || (HasCap(CAP_BPF) && HasCap(CAP_PERFMON)))) {
    return "needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)";
  }
  return {};
}

// Child is one offcpu_test_child process driven over its stdin/stdout.
class Child {
 public:
  Child(const std::string& path, const std::vector<std::string>& args) {
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<std::string> all{path};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, path.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    in_ = in[1];
    out_ = fdopen(out[0], "r");
  }
  ~Child() { Finish(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  // Expect reads the next line and compares it.
  bool Expect(const std::string& word) {
    if (out_ == nullptr) return false;
    char line[64];
    if (std::fgets(line, sizeof(line), out_) == nullptr) return false;
    return std::string(line) == word + "\n";
  }

  void Go() {
    char c = 'g';
    ASSERT_EQ(write(in_, &c, 1), 1);
  }

  // Finish closes stdin (the child exits) and reaps it; returns its status.
  int Finish() {
    if (in_ >= 0) close(in_);
    in_ = -1;
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
    int status = -1;
    if (pid_ > 0) waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  FILE* out_ = nullptr;
};

using Key = std::pair<std::string, std::string>;  // thread, reason

// Snapshot returns the series of process `process` by (thread, reason).
std::map<Key, OffcpuSeries> Snapshot(const OffcpuProbe& probe, const std::string& process) {
  std::map<Key, OffcpuSeries> out;
  for (auto& s : probe.Histograms()) {
    if (s.process == process) out[{s.thread, s.reason}] = s;
  }
  return out;
}

// Delta is `after` minus `before` for one series.
OffcpuSeries Delta(const std::map<Key, OffcpuSeries>& before,
                   const std::map<Key, OffcpuSeries>& after, const Key& key) {
  OffcpuSeries d;
  auto a = after.find(key);
  if (a == after.end()) return d;
  d = a->second;
  auto b = before.find(key);
  if (b == before.end()) return d;
  for (int i = 0; i < kOffcpuBuckets; ++i) d.buckets[i] -= b->second.buckets[i];
  d.sum_ns -= b->second.sum_ns;
  return d;
}

std::string Describe(const std::map<Key, OffcpuSeries>& series) {
  std::string out;
  for (const auto& [k, s] : series) {
    out += k.first + "/" + k.second + ": count " + std::to_string(s.Count()) + ", sum " +
           std::to_string(s.sum_ns / 1000) + " us\n";
  }
  return out;
}

double Ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// The suite shares one probe watching every offcpu_test_child by name; each
// test looks at the difference its own child made, under its own thread name.
class OffcpuBpfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!BpfUnavailable().empty()) return;
    OffcpuOptions o;
    o.targets = {OffcpuTarget::Process(kChildName)};
    o.rescan_interval = std::chrono::minutes(10);  // the tests rescan themselves
    o.stacks = true;
    o.stack_probability = 1.0;
    probe_ = new OffcpuProbe(o);
    start_ = new Status(probe_->Start());
  }
  static void TearDownTestSuite() {
    delete probe_;
    delete start_;
    probe_ = nullptr;
    start_ = nullptr;
  }

  void SetUp() override {
    if (std::string why = BpfUnavailable(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(*start_) << "root with BTF, yet the probe did not load: "
                         << start_->error().message;
  }

  // Run starts a child, makes it a target, lets it work and waits until it
  // is done; returns the series delta map (before, after).
  std::pair<std::map<Key, OffcpuSeries>, std::map<Key, OffcpuSeries>> Run(
      const std::string& path, const std::vector<std::string>& args, const std::string& process) {
    Child child(path, args);
    EXPECT_TRUE(child.Expect("ready"));
    probe_->RescanNow();
    auto before = Snapshot(*probe_, process);
    child.Go();
    EXPECT_TRUE(child.Expect("done"));
    auto after = Snapshot(*probe_, process);
    EXPECT_EQ(child.Finish(), 0);
    return {before, after};
  }

  static OffcpuProbe* probe_;
  static Status* start_;
};

OffcpuProbe* OffcpuBpfTest::probe_ = nullptr;
Status* OffcpuBpfTest::start_ = nullptr;

TEST_F(OffcpuBpfTest, SleepsShowUpAsSleepWithTheirCountAndLength) {
  auto [before, after] = Run(kChild, {"sleep", "20", "10"}, kChildName);
  OffcpuSeries d = Delta(before, after, {"sleeper-#", "sleep"});
  EXPECT_GE(d.Count(), 20u) << Describe(after);
  EXPECT_LE(d.Count(), 21u) << Describe(after);
  EXPECT_GE(Ms(d.sum_ns), 200.0) << Describe(after);
  EXPECT_LE(Ms(d.sum_ns), 600.0) << Describe(after);  // wake-ups are late on a busy machine
  // 10 ms is in (2^23 ns, 2^24 ns]: bucket 14; nothing can be shorter, and
  // late wake-ups land in bucket 15 (a rare one even later).
  for (int b = 0; b < 14; ++b) EXPECT_EQ(d.buckets[b], 0u) << "bucket " << b;
  EXPECT_GE(d.buckets[14], 10u);
  EXPECT_GE(d.buckets[14] + d.buckets[15] + 2, d.Count());
}

TEST_F(OffcpuBpfTest, ContendedMutexShowsUpAsLock) {
  auto [before, after] = Run(kChild, {"lock", "5", "30"}, kChildName);
  OffcpuSeries wait = Delta(before, after, {"waiter", "lock"});
  EXPECT_GE(wait.Count(), 5u) << Describe(after);
  EXPECT_GE(Ms(wait.sum_ns), 5 * 30 * 0.8) << Describe(after);
  OffcpuSeries hold = Delta(before, after, {"holder", "sleep"});
  EXPECT_GE(hold.Count(), 5u) << Describe(after);
}

TEST_F(OffcpuBpfTest, BlockingSocketReadsShowUpAsNet) {
  auto [before, after] = Run(kChild, {"net", "8", "10"}, kChildName);
  OffcpuSeries recv = Delta(before, after, {"recv-#", "net"});  // recv(2): recvfrom
  EXPECT_GE(recv.Count(), 8u) << Describe(after);
  EXPECT_GE(Ms(recv.sum_ns), 8 * 10 * 0.8) << Describe(after);
  OffcpuSeries read = Delta(before, after, {"read-#", "net"});  // read(2) on a socket
  EXPECT_GE(read.Count(), 8u) << Describe(after);
  EXPECT_GE(Ms(read.sum_ns), 8 * 10 * 0.8) << Describe(after);
}

TEST_F(OffcpuBpfTest, ProcessOutsideTheTargetsContributesNothing) {
  auto all_before = probe_->Histograms();
  Child outsider(kOutsider, {"sleep", "10", "5", "outsider"});
  ASSERT_TRUE(outsider.Expect("ready"));
  probe_->RescanNow();
  outsider.Go();
  ASSERT_TRUE(outsider.Expect("done"));
  auto all_after = probe_->Histograms();
  EXPECT_EQ(outsider.Finish(), 0);
  for (const auto& s : all_after) {
    EXPECT_NE(s.thread, "outsider");
    EXPECT_EQ(s.process, kChildName);
  }
  std::uint64_t sleep_before = 0;
  std::uint64_t sleep_after = 0;
  for (const auto& s : all_before) sleep_before += s.reason == "sleep" ? s.Count() : 0;
  for (const auto& s : all_after) sleep_after += s.reason == "sleep" ? s.Count() : 0;
  EXPECT_EQ(sleep_after, sleep_before);
}

TEST_F(OffcpuBpfTest, ForkedChildOfANamedTargetIsWatchedAtOnce) {
  // No rescan happens after the fork: only the kernel side can adopt it.
  auto [before, after] = Run(kChild, {"fork", "10", "5"}, kChildName);
  OffcpuSeries d = Delta(before, after, {"forked", "sleep"});
  EXPECT_GE(d.Count(), 10u) << Describe(after);
}

TEST_F(OffcpuBpfTest, ForkedChildThatExecsAnotherProgramIsDroppedAtOnce) {
  auto [before, after] = Run(kChild, {"forkexec", "10", "20"}, kChildName);  // sleep 0.2
  for (const auto& [key, s] : after) EXPECT_NE(key.first, "sleep") << Describe(after);
}

TEST_F(OffcpuBpfTest, FoldedStacksNameTheTestProgramsFunctions) {
  Child child(kChild, {"sleep", "30", "10", "folded-7"});
  ASSERT_TRUE(child.Expect("ready"));
  probe_->RescanNow();
  Result<std::string> folded = std::string();
  std::thread collector([&] { folded = probe_->CollectFolded(1000ms); });
  std::this_thread::sleep_for(50ms);  // let the collection switch sampling on
  child.Go();
  ASSERT_TRUE(child.Expect("done"));
  collector.join();  // the child stays alive until Finish: its maps can be read
  ASSERT_TRUE(folded) << folded.error().message;
  EXPECT_EQ(child.Finish(), 0);
  std::string mine;
  std::istringstream lines(*folded);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(std::string(kChildName) + ";folded-#;")) mine += line + "\n";
  }
  ASSERT_FALSE(mine.empty()) << *folded;
  EXPECT_THAT(mine, HasSubstr("offcpu_child_sleep_loop")) << mine;
  EXPECT_THAT(mine, HasSubstr("offcpu_child_nap")) << mine;
  EXPECT_THAT(mine, HasSubstr("_[k]")) << mine;  // kernel frames, e.g. do_nanosleep_[k]
  EXPECT_THAT(mine, Not(HasSubstr("bpf_trace_run"))) << mine;
  // Every line ends in a positive count of microseconds.
  std::regex shape(R"(^[^ ]+( [^ ]+)* [1-9][0-9]*$)");
  std::istringstream again(mine);
  std::uint64_t total_us = 0;
  for (std::string line; std::getline(again, line);) {
    EXPECT_TRUE(std::regex_match(line, shape)) << line;
    total_us += std::stoull(line.substr(line.rfind(' ') + 1));
  }
  EXPECT_GE(total_us, 250'000u);  // 30 x 10 ms, all sampled (probability 1)
}

TEST_F(OffcpuBpfTest, SecondConcurrentCollectionIsRefused) {
  std::thread first([&] { (void)probe_->CollectFolded(500ms); });
  std::this_thread::sleep_for(100ms);
  auto second = probe_->CollectFolded(10ms);
  first.join();
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message, HasSubstr("another"));
}

// The raw_tp flavour (kernels that refuse tp_btf) with a pid target.
TEST(OffcpuBpfRawTpTest, RawTracepointFlavourRecordsToo) {
  if (std::string why = BpfUnavailable(); !why.empty()) GTEST_SKIP() << why;
  Child child(kOutsider, {"sleep", "10", "10"});
  ASSERT_TRUE(child.Expect("ready"));
  OffcpuOptions o;
  o.targets = {OffcpuTarget::Pid(child.pid(), "rawchild")};
  o.force_raw_tp = true;
  o.rescan_interval = std::chrono::minutes(10);
  OffcpuProbe probe(o);
  Status s = probe.Start();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(probe.status(), "attached (raw_tp)");
  EXPECT_EQ(probe.target_processes(), 1u);
  child.Go();
  ASSERT_TRUE(child.Expect("done"));
  auto after = Snapshot(probe, "rawchild");
  EXPECT_EQ(child.Finish(), 0);
  OffcpuSeries d = Delta({}, after, {"sleeper-#", "sleep"});
  EXPECT_GE(d.Count(), 10u) << Describe(after);
  EXPECT_LE(d.Count(), 11u) << Describe(after);
  EXPECT_GE(Ms(d.sum_ns), 100.0);
}

// The whole agent, in-process: /metrics carries the histogram and
// /debug/offcpu the folded stacks.
TEST(OffcpuBpfAgentTest, AgentExportsHistogramsAndServesFoldedStacks) {
  if (std::string why = BpfUnavailable(); !why.empty()) GTEST_SKIP() << why;
  auto cfg = ParseConfig(R"(
http:
  listen: 127.0.0.1:0
  debug: true
probes:
  offcpu:
    enabled: true
    targets:
      - process: offcpu_test_child
        name: testchild
    rescan_interval: 100ms
    stacks:
      enabled: true
      probability: 1
)",
                         "agent.yaml");
  ASSERT_TRUE(cfg) << cfg.error().message;
  Agent agent(*cfg);
  ASSERT_TRUE(agent.Start());
  Child child(kChild, {"sleep", "40", "10", "agent-3"});
  ASSERT_TRUE(child.Expect("ready"));
  ASSERT_TRUE(
      testing::Eventually(5s, [&] { return agent.offcpu_probe()->target_processes() > 0; }));
  testing::HttpResult folded;
  std::thread debug(
      [&] { folded = testing::HttpGet(agent.http_port(), "/debug/offcpu?seconds=1"); });
  std::this_thread::sleep_for(50ms);
  child.Go();
  ASSERT_TRUE(child.Expect("done"));
  debug.join();
  auto metrics = testing::HttpGet(agent.http_port(), "/metrics");
  EXPECT_EQ(child.Finish(), 0);

  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("poolscope_probe_up{probe=\"offcpu\"} 1"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      metrics.body, m,
      std::regex(
          R"re(poolscope_offcpu_seconds_count\{process="testchild",thread="agent-#",reason="sleep"\} ([0-9]+))re")))
      << metrics.body;
  EXPECT_GE(std::stoi(m[1]), 40);
  EXPECT_THAT(metrics.body,
              HasSubstr("poolscope_offcpu_seconds_bucket{process=\"testchild\",thread=\"agent-#\","
                        "reason=\"sleep\",le=\"0.016777216\"}"));
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex(R"(poolscope_probe_events_total\{probe="offcpu"\} [1-9])")));
  // No interval is lost; a sampled stack may be (two stacks with one id).
  EXPECT_THAT(metrics.body, HasSubstr("poolscope_probe_dropped_total{probe=\"offcpu\"} "));
  const OffcpuDrops drops = agent.offcpu_probe()->Drops();
  EXPECT_EQ(drops.hist_full + drops.slot_failed + drops.stack_full, 0u)
      << "hist_full " << drops.hist_full << ", slot_failed " << drops.slot_failed << ", stack_full "
      << drops.stack_full;

  ASSERT_EQ(folded.status, 200) << folded.body;
  EXPECT_THAT(folded.body, HasSubstr("testchild;agent-#;"));
  EXPECT_THAT(folded.body, HasSubstr("offcpu_child_sleep_loop"));

  auto bad = testing::HttpGet(agent.http_port(), "/debug/offcpu?seconds=0");
  EXPECT_EQ(bad.status, 400);
  agent.Stop();
}

// Without BPF rights (capabilities dropped; or simply not root) the agent
// says so once, exports probe_up 0 and keeps serving.
TEST(OffcpuAgentRightsTest, AgentWithoutRightsKeepsServing) {
  char dir_template[] = "/tmp/poolscope-offcpu-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string config = dir + "/agent.yaml";
  const std::string log = dir + "/agent.log";
  {
    std::ofstream out(config);
    out << "http:\n  listen: 127.0.0.1:0\nprobes:\n  offcpu:\n    enabled: true\n"
           "    targets:\n      - process: postgres\n";
  }
  std::string agent_path = kAgent;
  std::string flag = "--config";
  char* argv[] = {agent_path.data(), flag.data(), const_cast<char*>(config.c_str()), nullptr};
  const bool root = geteuid() == 0;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    if (root) {
      prctl(PR_CAPBSET_DROP, CAP_BPF, 0, 0, 0);
      prctl(PR_CAPBSET_DROP, CAP_PERFMON, 0, 0, 0);
      prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0);
    }
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 2);
    dup2(fd, 1);
    execv(agent_path.c_str(), argv);
    _exit(127);
  }
  auto read_log = [&] {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::smatch m;
  std::string text;
  const std::regex serving(R"(serving http://127\.0\.0\.1:([0-9]+)/metrics)");
  ASSERT_TRUE(testing::Eventually(10s, [&] {
    text = read_log();
    return std::regex_search(text, m, serving);
  })) << text;
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));

  if (root) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with("CapEff:")) {
        const unsigned long long eff = std::stoull(line.substr(7), nullptr, 16);
        EXPECT_EQ(eff & ((1ull << CAP_BPF) | (1ull << CAP_PERFMON) | (1ull << CAP_SYS_ADMIN)), 0u);
      }
    }
  }
  testing::HttpResult metrics;
  ASSERT_TRUE(testing::Eventually(5s, [&] {
    metrics = testing::HttpGet(port, "/metrics");
    return metrics.body.find("poolscope_probe_up{probe=\"offcpu\"} 0") != std::string::npos;
  })) << metrics.body;
  EXPECT_EQ(testing::HttpGet(port, "/healthz").status, 200);
  std::this_thread::sleep_for(300ms);  // a second warning would come from a later rescan
  EXPECT_EQ(testing::HttpGet(port, "/metrics").status, 200);

  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  text = read_log();
  std::size_t warnings = 0;
  for (auto p = text.find("offcpu probe unavailable"); p != std::string::npos;
       p = text.find("offcpu probe unavailable", p + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << text;
  if (root && access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
    EXPECT_THAT(text, HasSubstr("no BPF rights")) << text;
  }
  std::remove(config.c_str());
  std::remove(log.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace poolscope
