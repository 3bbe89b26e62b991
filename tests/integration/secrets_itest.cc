// The secrets test: the real poolscope-agent binary runs with known,
// distinctive passwords (a PostgreSQL role with a password on a private
// PostgreSQL that checks it, a Redis with requirepass, a wrong password for
// each, a basic-auth user) and is driven through every endpoint and every
// error path it has: wrong passwords, wrong HTTP credentials, both servers
// stopped, text and JSON logs, --check-config on a good and a bad file.
// None of the passwords may appear anywhere it wrote or served.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

extern char** environ;

namespace poolscope {
namespace {

using ::poolscope::testing::Env;
using ::poolscope::testing::Eventually;

using ::poolscope::testing::ServerFixture;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kPgPassword = "Pg-Zebra-7c1f-secret";
constexpr const char* kPgWrong = "Pg-Wrong-93ab-guess";
constexpr const char* kRedisPassword = "Redis-Okapi-52de-secret";
constexpr const char* kRedisWrong = "Redis-Wrong-11fe-guess";
constexpr const char* kHttpPassword = "Http-Quokka-8b3a-secret";
constexpr const char* kHttpWrong = "Http-Wrong-4d2c-guess";
const char* const kSecrets[] = {kPgPassword, kPgWrong,      kRedisPassword,
                                kRedisWrong, kHttpPassword, kHttpWrong};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// AgentProcess runs poolscope-agent with stdout and stderr in one file.
class AgentProcess {
 public:
  AgentProcess(const std::string& config, const std::string& log) : log_(log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> args = {POOLSCOPE_AGENT_BIN, "--config", config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, POOLSCOPE_AGENT_BIN, &fa, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~AgentProcess() { Stop(); }

  // Port waits for the "serving https://127.0.0.1:PORT/metrics" line.
  int Port() {
    int port = 0;
    Eventually(30s, [&] {
      std::smatch m;
      const std::string text = ReadFile(log_);
      if (std::regex_search(text, m, std::regex("serving https?://127\\.0\\.0\\.1:([0-9]+)/"))) {
        port = std::stoi(m[1]);
      }
      return port != 0;
    });
    return port;
  }

  // Stop sends SIGTERM and returns the exit status (-1 if it had to be killed).
  int Stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    int rc = -1;
    if (Eventually(5s, [&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; })) {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    } else {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = 0;
    return rc;
  }

  bool started() const { return pid_ > 0; }

 private:
  std::string log_;
  pid_t pid_ = 0;
};

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_TMP");
    dir_ = Env("POOLSCOPE_TEST_TMP") + "/secrets-" + std::to_string(::getpid());
    ASSERT_EQ(::poolscope::testing::Run("mkdir -p '" + dir_ + "'"), 0);
    pg_ = std::make_unique<ServerFixture>("pg", "secrets-pg");
    redis_ = std::make_unique<ServerFixture>("redis", "secrets-redis");
    ASSERT_TRUE(pg_->Do("start")) << "could not start PostgreSQL in " << pg_->dir();
    ASSERT_TRUE(redis_->Do("start")) << "could not start Redis in " << redis_->dir();
    pg_port_ = pg_->Query("port");
    redis_port_ = redis_->Query("port");
    // A role whose password the server really checks (the fixture trusts
    // everyone else), and a Redis that wants a password.
    const std::string psql =
        "/usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + pg_port_ +
        " -U postgres -d postgres";
    ASSERT_EQ(::poolscope::testing::Run(psql + " -c \"CREATE ROLE ps_secret LOGIN PASSWORD '" +
                                        kPgPassword + "'\" 2>&1"),
              0);
    const std::string hba = pg_->dir() + "/pgdata/pg_hba.conf";
    ASSERT_EQ(::poolscope::testing::Run(
                  "sed -i '1i host all ps_secret 127.0.0.1/32 scram-sha-256' '" + hba + "'"),
              0);
    ASSERT_EQ(::poolscope::testing::Run(psql + " -c 'SELECT pg_reload_conf()' >/dev/null 2>&1"), 0);
    ASSERT_EQ(
        ::poolscope::testing::Run("redis-cli -h 127.0.0.1 -p " + redis_port_ +
                                  " CONFIG SET requirepass " + kRedisPassword + " >/dev/null"),
        0);
    // The users file for basic auth: a sha512-crypt hash of kHttpPassword.
    std::string hash;
    ASSERT_EQ(
        ::poolscope::testing::Run(std::string("openssl passwd -6 '") + kHttpPassword + "'", &hash),
        0);
    WriteFile(dir_ + "/users", "prometheus:" + hash + "\n", 0600);
  }

  void TearDown() override {
    if (!dir_.empty()) ::poolscope::testing::Run("rm -rf '" + dir_ + "'");
  }

  // Config writes an agent config with every secret in it; readable by
  // others on purpose (the agent must warn about that).
  std::string Config(const std::string& name, const std::string& format) {
    const std::string path = dir_ + "/" + name;
    std::ostringstream y;
    y << "http:\n  listen: 127.0.0.1:0\n  debug: true\n"
      << "  basic_auth: { users_file: " << dir_ << "/users, realm: poolscope }\n"
      << "log:\n  level: debug\n  format: " << format << "\n"
      << "targets:\n  postgres:\n"
      << "    - name: good\n      dsn: \"host=127.0.0.1 port=" << pg_port_
      << " dbname=postgres user=ps_secret password=" << kPgPassword << "\"\n"
      << "      interval: 1s\n"
      << "    - name: badpw\n      dsn: \"postgresql://ps_secret:" << kPgWrong
      << "@127.0.0.1:" << pg_port_ << "/postgres\"\n      interval: 1s\n"
      << "  redis:\n"
      << "    - name: rgood\n      address: 127.0.0.1:" << redis_port_
      << "\n      password: " << kRedisPassword << "\n      interval: 200ms\n"
      << "    - name: rbad\n      address: 127.0.0.1:" << redis_port_
      << "\n      password: " << kRedisWrong << "\n      interval: 200ms\n";
    WriteFile(path, y.str(), 0644);
    return path;
  }

  // Curl fetches a path with the given credentials ("" for none); headers
  // and body, and the status line, all go into the collected text.
  std::string Curl(int port, const std::string& path, const std::string& user_pass) {
    std::string out;
    ::poolscope::testing::Run("curl -s -i --max-time 5 " +
                                  (user_pass.empty() ? "" : "-u '" + user_pass + "' ") +
                                  "'http://127.0.0.1:" + std::to_string(port) + path + "' 2>&1",
                              &out);
    served_ += out + "\n";
    return out;
  }

  void DriveEveryEndpoint(int port) {
    const std::string good = std::string("prometheus:") + kHttpPassword;
    const std::string bad = std::string("prometheus:") + kHttpWrong;
    for (const char* path : {"/", "/metrics", "/healthz", "/readyz", "/health/db", "/debug/pool",
                             "/debug/offcpu?seconds=1", "/nope", "/debug/../metrics"}) {
      Curl(port, path, "");
      Curl(port, path, bad);
      Curl(port, path, good);
    }
  }

  bool MetricsShow(int port, const std::string& series) {
    return Curl(port, "/metrics", std::string("prometheus:") + kHttpPassword).find(series) !=
           std::string::npos;
  }

  void ExpectNoSecret(const std::string& what, const std::string& text) {
    for (const char* s : kSecrets) {
      EXPECT_EQ(text.find(s), std::string::npos) << "a password reached " << what << ":\n" << text;
    }
  }

  std::string dir_;
  std::unique_ptr<ServerFixture> pg_;
  std::unique_ptr<ServerFixture> redis_;
  std::string pg_port_;
  std::string redis_port_;
  std::string served_;  // everything the agent answered
};

TEST_F(SecretsTest, PasswordsAppearNowhere) {
  // --check-config, a good file and a bad one (a DSN libpq cannot parse,
  // holding a password).
  std::string check;
  const std::string text_cfg = Config("text.yaml", "text");
  ::poolscope::testing::Run(
      std::string(POOLSCOPE_AGENT_BIN) + " --check-config '" + text_cfg + "' 2>&1", &check);
  EXPECT_THAT(check, HasSubstr("ok (2 postgres, 2 redis targets"));
  EXPECT_THAT(check, HasSubstr("holds a password"));
  std::string bad_check;
  WriteFile(dir_ + "/bad.yaml",
            std::string("targets:\n  postgres:\n    - name: x\n      dsn: \"host=127.0.0.1 "
                        "password=") +
                kPgPassword +
                " port=\"\n  redis:\n    - name: r\n      address: 127.0.0.1:1\n"
                "      password: " +
                kRedisPassword + "\n      bogus: 1\n",
            0600);
  EXPECT_EQ(::poolscope::testing::Run(
                std::string(POOLSCOPE_AGENT_BIN) + " --check-config '" + dir_ + "/bad.yaml' 2>&1",
                &bad_check),
            2);
  EXPECT_THAT(bad_check, HasSubstr("bad.yaml:"));

  // Two agents at once, one logging text and one JSON: both servers up,
  // then both stopped.
  const std::string text_log = dir_ + "/text.log";
  const std::string json_log = dir_ + "/json.log";
  {
    AgentProcess text_agent(text_cfg, text_log);
    AgentProcess json_agent(Config("json.yaml", "json"), json_log);
    ASSERT_TRUE(text_agent.started());
    ASSERT_TRUE(json_agent.started());
    const int ports[] = {text_agent.Port(), json_agent.Port()};
    ASSERT_NE(ports[0], 0) << ReadFile(text_log);
    ASSERT_NE(ports[1], 0) << ReadFile(json_log);
    for (int port : ports) {
      ASSERT_TRUE(Eventually(30s, [&] {
        return MetricsShow(port, "poolscope_pg_up{target=\"good\"} 1") &&
               MetricsShow(port, "poolscope_redis_up{target=\"rgood\"} 1");
      })) << ReadFile(text_log);
      EXPECT_TRUE(MetricsShow(port, "poolscope_pg_up{target=\"badpw\"} 0"));
      EXPECT_TRUE(MetricsShow(port, "poolscope_redis_up{target=\"rbad\"} 0"));
      DriveEveryEndpoint(port);
    }
    ASSERT_TRUE(pg_->Do("stop"));
    ASSERT_TRUE(redis_->Do("stop"));
    for (int port : ports) {
      ASSERT_TRUE(Eventually(30s, [&] {
        return MetricsShow(port, "poolscope_pg_up{target=\"good\"} 0") &&
               MetricsShow(port, "poolscope_redis_up{target=\"rgood\"} 0");
      }));
      DriveEveryEndpoint(port);
    }
    EXPECT_EQ(text_agent.Stop(), 0);
    EXPECT_EQ(json_agent.Stop(), 0);
  }
  const std::string text = ReadFile(text_log);
  const std::string json = ReadFile(json_log);
  // The error paths really ran, and the warnings were given.
  EXPECT_THAT(text, HasSubstr("password authentication failed"));
  EXPECT_THAT(text, HasSubstr("refused AUTH: WRONGPASS"));
  EXPECT_THAT(text, HasSubstr("holds a password (targets.postgres[0].dsn)"));
  EXPECT_THAT(json, HasSubstr("\"level\":\"warn"));
  EXPECT_THAT(json, HasSubstr("refused AUTH: WRONGPASS"));
  EXPECT_THAT(served_, HasSubstr("HTTP/1.1 401"));
  EXPECT_THAT(served_, HasSubstr("\"pools\""));  // /debug/pool answered

  ExpectNoSecret("--check-config output", check);
  ExpectNoSecret("--check-config error", bad_check);
  ExpectNoSecret("the text log", text);
  ExpectNoSecret("the JSON log", json);
  ExpectNoSecret("an HTTP answer", served_);
}

}  // namespace
}  // namespace poolscope
