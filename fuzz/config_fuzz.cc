// Fuzz target: the configuration loader (poolscope::ParseConfig) on arbitrary
// YAML text.
//
// Properties, for any bytes: ParseConfig returns (never throws, never
// crashes); a failure is an Error with a non-empty, one-line message that
// names the source.
#include <cstdio>
#include <string>

#include "fuzz_target.h"
#include "poolscope/config/config.h"

namespace poolscope::fuzz {

int FuzzConfig(const std::uint8_t* data, std::size_t size) {
  const std::string source = "fuzz.yaml";
  Result<Config> cfg = ParseConfig(AsText(data, size), source);
  if (!cfg) {
    const std::string& msg = cfg.error().message;
    if (!OneLine(msg) || msg.find(source) == std::string::npos) {
      std::fprintf(stderr, "config error message: %s\n", msg.c_str());
    }
    FUZZ_CHECK(!msg.empty(), "config error without a message");
    FUZZ_CHECK(OneLine(msg), "config error message spans several lines");
    FUZZ_CHECK(msg.find(source) != std::string::npos, "config error does not name the file");
  }
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzConfig)
