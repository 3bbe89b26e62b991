// Test fixtures: throw-away servers controlled through scripts/fixtures/*.sh,
// and the environment scripts/test.sh exports.
//
//   POOLSCOPE_FIXTURES   absolute path of scripts/fixtures
//   POOLSCOPE_TEST_TMP   a temporary folder for this test run
//   POOLSCOPE_TEST_PG_DSN, POOLSCOPE_TEST_REDIS  the shared servers
//
// Tests that need them call POOLSCOPE_REQUIRE_ENV(...) first: without the
// variables they are reported SKIPPED with the reason, never passed.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace poolscope::testing {

// Env returns the variable's value, or "" when unset.
std::string Env(const char* name);

// Run runs a shell command and returns its exit status; stdout into *out.
int Run(const std::string& command, std::string* out = nullptr);

// ServerFixture is one private server: `kind` is "pg" or "redis".
// The destructor stops it and removes its folder.
class ServerFixture {
 public:
  ServerFixture(std::string kind, std::string name);
  ~ServerFixture();
  ServerFixture(const ServerFixture&) = delete;
  ServerFixture& operator=(const ServerFixture&) = delete;

  // Do runs a verb of the fixture script (start, stop, kill, freeze, thaw).
  bool Do(const std::string& verb);
  // Query runs a verb that prints something (port, dsn, addr).
  std::string Query(const std::string& verb);

  const std::string& dir() const { return dir_; }

 private:
  std::string script_;
  std::string dir_;
};

// Eventually polls `pred` every 20 ms until it is true or `timeout` passes.
bool Eventually(std::chrono::milliseconds timeout, const std::function<bool()>& pred);

}  // namespace poolscope::testing

// POOLSCOPE_REQUIRE_ENV skips the test when a variable scripts/test.sh sets is missing.
#define POOLSCOPE_REQUIRE_ENV(var)                                    \
  do {                                                                \
    if (::poolscope::testing::Env(var).empty()) {                     \
      GTEST_SKIP() << var                                             \
          " is not set: run through ./scripts/test.sh, which starts " \
          "the throw-away servers";                                   \
    }                                                                 \
  } while (0)
