#include "fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace poolscope::testing {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

int Run(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = ::pclose(p);
  if (out != nullptr) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    *out = text;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ServerFixture::ServerFixture(std::string kind, std::string name)
    : script_(Env("POOLSCOPE_FIXTURES") + "/" + kind + ".sh"),
      dir_(Env("POOLSCOPE_TEST_TMP") + "/" + name + "-" + std::to_string(::getpid())) {}

ServerFixture::~ServerFixture() {
  Do("stop");
  Run("rm -rf '" + dir_ + "'");
}

bool ServerFixture::Do(const std::string& verb) {
  std::string ignored;
  return Run(script_ + " " + verb + " '" + dir_ + "' 2>&1", &ignored) == 0;
}

std::string ServerFixture::Query(const std::string& verb) {
  std::string out;
  Run(script_ + " " + verb + " '" + dir_ + "'", &out);
  return out;
}

bool Eventually(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace poolscope::testing
