// fuzz_replay_test: every fuzz target's seed corpus (fuzz/corpus/<target>/)
// and saved regression inputs (fuzz/regressions/<target>/: inputs that once
// crashed a module or broke a property) replayed through the target's
// checks, so each build re-checks them without libFuzzer.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz_target.h"

namespace poolscope::fuzz {

// FuzzCheckError is what a broken property throws here.
struct FuzzCheckError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void FuzzCheckFailed(const char* file, int line, const char* what) {
  throw FuzzCheckError(std::string(file) + ":" + std::to_string(line) + ": " + what);
}

int FuzzFingerprint(const std::uint8_t* data, std::size_t size);
int FuzzConfig(const std::uint8_t* data, std::size_t size);
int FuzzDsn(const std::uint8_t* data, std::size_t size);
int FuzzHttpQuery(const std::uint8_t* data, std::size_t size);
int FuzzRedisReply(const std::uint8_t* data, std::size_t size);
int FuzzRedisInfo(const std::uint8_t* data, std::size_t size);

namespace {

struct Target {
  const char* name;  // folder name under corpus/ and regressions/
  int (*fn)(const std::uint8_t*, std::size_t);
};

std::vector<std::filesystem::path> Inputs(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

// Replay runs every file in `dir` through `t`; returns how many it ran.
int Replay(const Target& t, const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& file : Inputs(dir)) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    try {
      t.fn(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const FuzzCheckError& e) {
      ADD_FAILURE() << file << ": property broken: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << file << ": exception escaped the module: " << e.what();
    }
    ++n;
  }
  return n;
}

class FuzzReplayTest : public testing::TestWithParam<Target> {};

TEST_P(FuzzReplayTest, CorpusAndRegressionsKeepTheirProperties) {
  const std::filesystem::path root = POOLSCOPE_FUZZ_DIR;
  const Target& t = GetParam();
  const int seeds = Replay(t, root / "corpus" / t.name);
  EXPECT_GE(seeds, 3) << "fuzz/corpus/" << t.name << " needs a seed corpus";
  Replay(t, root / "regressions" / t.name);
}

// A broken property must fail the replay, or the replay proves nothing.
TEST(FuzzReplayCheck, BrokenPropertyIsReported) {
  EXPECT_THROW(FUZZ_CHECK(1 + 1 == 3, "arithmetic"), FuzzCheckError);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplayTest,
                         testing::Values(Target{"fingerprint", &FuzzFingerprint},
                                         Target{"config", &FuzzConfig}, Target{"dsn", &FuzzDsn},
                                         Target{"http_query", &FuzzHttpQuery},
                                         Target{"redis_reply", &FuzzRedisReply},
                                         Target{"redis_info", &FuzzRedisInfo}),
                         [](const testing::TestParamInfo<Target>& i) { return i.param.name; });

}  // namespace
}  // namespace poolscope::fuzz
