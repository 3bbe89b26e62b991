// Unit tests for the users file and the basic-auth verifier (no servers).
#include "poolscope/exporters/basic_auth.h"

#include "poolscope/config/config.h"

#include <crypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <latch>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Hash makes a crypt(3) hash of `password` with the method `prefix` ("$y$").
std::string Hash(const char* prefix, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 0, nullptr, 0, setting, sizeof setting), nullptr);
  crypt_data data{};
  const char* out = crypt_rn(password.c_str(), setting, &data, sizeof data);
  EXPECT_NE(out, nullptr);
  return out != nullptr ? out : "";
}

std::string Header(const std::string& user_colon_password) {
  static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = user_colon_password, out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += chars[(n >> s) & 63];
  }
  if (i + 1 == in.size()) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += chars[(n >> 18) & 63];
    out += chars[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += chars[(n >> 18) & 63];
    out += chars[(n >> 12) & 63];
    out += chars[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

TEST(PasswordHashTest, AcceptsSlowSaltedHashes) {
  for (const char* prefix : {"$y$", "$6$", "$2b$", "$2y$"}) {
    std::string h = Hash(prefix, "pw");
    EXPECT_TRUE(CheckPasswordHash(h).ok()) << h;
  }
  EXPECT_TRUE(CheckPasswordHash("$6$rounds=5000$abcdefgh$" + std::string(86, 'a')).ok());
}

TEST(PasswordHashTest, RefusesPlaintextWeakUnknownAndTruncated) {
  const std::string y = Hash("$y$", "pw");
  struct Case {
    std::string hash;
    const char* says;
  } cases[] = {
      {"hunter2", "plaintext"},
      {"", "plaintext"},
      {Hash("$1$", "pw"), "MD5"},
      {"$apr1$abc$def", "MD5"},
      {"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1"},
      {"$5$abc$def", "sha256-crypt"},
      {"$9$abc", "unknown"},
      {y.substr(0, y.size() - 1), "incomplete yescrypt"},
      {"$6$abc$short", "incomplete sha512-crypt"},
      {"$2b$05$tooshort", "incomplete bcrypt"},
      {"$2b$xx$" + std::string(53, 'a'), "incomplete bcrypt"},
  };
  for (const auto& c : cases) {
    Status s = CheckPasswordHash(c.hash);
    ASSERT_FALSE(s.ok()) << c.hash;
    EXPECT_THAT(s.error().message, HasSubstr(c.says)) << c.hash;
  }
}

TEST(UsersFileTest, ParsesUsersSkippingCommentsAndBlankLines) {
  const std::string a = Hash("$6$", "a-pass"), b = Hash("$2b$", "b-pass");
  auto users = ParseUsers("# scrapers\n\nprometheus:" + a + "\r\nops:" + b + "  \n", "users");
  ASSERT_TRUE(users.ok()) << users.error().message;
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "prometheus");
  EXPECT_EQ((*users)[0].hash, a);
  EXPECT_EQ((*users)[1].name, "ops");
  EXPECT_EQ((*users)[1].hash, b);
}

TEST(UsersFileTest, ErrorsNameTheLineAndNeverEchoTheSecret) {
  const std::string good = Hash("$6$", "pw");
  auto plain = ParseUsers("a:" + good + "\nbob:hunter2-plain\n", "/etc/poolscope/users");
  ASSERT_FALSE(plain.ok());
  EXPECT_THAT(plain.error().message, HasSubstr("/etc/poolscope/users:2: the password field is not "
                                               "a hash (a plaintext password?)"));
  EXPECT_THAT(plain.error().message, HasSubstr("mkpasswd -m yescrypt"));
  EXPECT_THAT(plain.error().message, Not(HasSubstr("hunter2")));
  EXPECT_THAT(plain.error().message, Not(HasSubstr("bob")));

  auto no_colon = ParseUsers("justaline\n", "f");
  ASSERT_FALSE(no_colon.ok());
  EXPECT_THAT(no_colon.error().message, HasSubstr("f:1: expected user:hash"));
  EXPECT_THAT(no_colon.error().message, Not(HasSubstr("justaline")));

  auto twice = ParseUsers("a:" + good + "\na:" + good + "\n", "f");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.error().message, HasSubstr("f:2: a user is listed twice"));
}

class UsersFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/poolscope-users.XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { unlink(path_.c_str()); }
  void Write(const std::string& text, mode_t mode) {
    std::ofstream(path_) << text;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }
  std::string path_;
};

TEST_F(UsersFileOnDisk, PrivateFileLoadsWithoutWarning) {
  Write("prometheus:" + Hash("$6$", "pw") + "\n", 0600);
  auto f = LoadUsersFile(path_);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->users.size(), 1u);
  EXPECT_EQ(f->warning, "");
}

TEST_F(UsersFileOnDisk, FileReadableByOthersGetsAWarningNamingTheFix) {
  Write("prometheus:" + Hash("$6$", "pw") + "\n", 0644);
  auto f = LoadUsersFile(path_);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_THAT(f->warning, HasSubstr(path_ + " is readable by others (mode 644)"));
  EXPECT_THAT(f->warning, HasSubstr("chmod 600"));
  Write("prometheus:" + Hash("$6$", "pw") + "\n", 0640);
  f = LoadUsersFile(path_);
  ASSERT_TRUE(f.ok());
  EXPECT_THAT(f->warning, HasSubstr("readable by its group"));
}

TEST_F(UsersFileOnDisk, EmptyOrMissingFileIsAnError) {
  Write("# nobody\n", 0600);
  auto empty = LoadUsersFile(path_);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("no users"));
  auto missing = LoadUsersFile(path_ + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("No such file or directory"));
}

TEST(BasicAuthTest, RealmAndChallenge) {
  EXPECT_TRUE(ValidRealm("poolscope"));
  EXPECT_TRUE(ValidRealm("db tier (prod)"));
  EXPECT_FALSE(ValidRealm(""));
  EXPECT_FALSE(ValidRealm("a\"b"));
  EXPECT_FALSE(ValidRealm("a\\b"));
  EXPECT_FALSE(ValidRealm("line\nbreak"));
  EXPECT_FALSE(ValidRealm(std::string(65, 'a')));
  BasicAuth auth({{"u", Hash("$6$", "p")}}, {.realm = "db tier"});
  EXPECT_EQ(auth.Challenge(), "Basic realm=\"db tier\", charset=\"UTF-8\"");
}

TEST(BasicAuthTest, RightPasswordOnlyForTheRightUser) {
  BasicAuth auth({{"prometheus", Hash("$6$", "scrape-pass")}, {"ops", Hash("$2b$", "ops-pass")}},
                 {});
  EXPECT_EQ(auth.Check(Header("prometheus:scrape-pass")), AuthResult::kOk);
  EXPECT_EQ(auth.Check(Header("ops:ops-pass")), AuthResult::kOk);
  EXPECT_EQ(auth.Check(Header("prometheus:ops-pass")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("ops:scrape-pass")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("nobody:scrape-pass")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("prometheus:scrape-pas")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("prometheus:scrape-pass ")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("prometheus:")), AuthResult::kDenied);
  // The scheme is case-insensitive; a password may contain ':'.
  BasicAuth colon({{"u", Hash("$6$", "a:b")}}, {});
  std::string h = Header("u:a:b");
  h.replace(0, 5, "bAsIc");
  EXPECT_EQ(colon.Check(h), AuthResult::kOk);
}

TEST(BasicAuthTest, MalformedHeadersAreDeniedWithoutHashing) {
  BasicAuth auth({{"u", Hash("$6$", "p")}}, {});
  for (std::string h : {std::string(), std::string("Basic"), std::string("Basic "),
                        std::string("Bearer dTpw"), std::string("Basic !!!!"),
                        std::string("Basic dTpw="), std::string("Basic dQ=="),  // "u", no colon
                        std::string("Basic dT=w"), "Basic " + std::string(5000, 'A')}) {
    EXPECT_EQ(auth.Check(h), AuthResult::kDenied) << h;
  }
  EXPECT_EQ(auth.hashes_computed(), 0u);
}

TEST(BasicAuthTest, VerdictsAreCachedByHeader) {
  BasicAuth auth({{"u", Hash("$y$", "right")}}, {});
  EXPECT_EQ(auth.Check(Header("u:right")), AuthResult::kOk);
  EXPECT_EQ(auth.hashes_computed(), 1u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(auth.Check(Header("u:right")), AuthResult::kOk);
  EXPECT_EQ(auth.hashes_computed(), 1u) << "a repeated good header must not be hashed again";
  EXPECT_EQ(auth.Check(Header("u:wrong")), AuthResult::kDenied);
  EXPECT_EQ(auth.Check(Header("u:wrong")), AuthResult::kDenied);
  EXPECT_EQ(auth.hashes_computed(), 2u) << "a repeated bad header is remembered briefly";
  // An expired verdict is computed again.
  BasicAuth short_lived(
      {{"u", Hash("$6$", "right")}},
      {.cache_ttl = std::chrono::milliseconds(1), .negative_ttl = std::chrono::milliseconds(1)});
  EXPECT_EQ(short_lived.Check(Header("u:right")), AuthResult::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(short_lived.Check(Header("u:right")), AuthResult::kOk);
  EXPECT_EQ(short_lived.hashes_computed(), 2u);
}

TEST(BasicAuthTest, TheCacheStaysBounded) {
  BasicAuth auth({{"u", Hash("$6$", "right")}}, {.cache_entries = 8});
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(auth.Check(Header("u:wrong" + std::to_string(i))), AuthResult::kDenied);
  }
  EXPECT_EQ(auth.Check(Header("u:right")), AuthResult::kOk);
  EXPECT_EQ(auth.hashes_computed(), 51u);
}

TEST(BasicAuthTest, ConcurrentVerificationsAreBoundedNotQueued) {
  // yescrypt takes tens of milliseconds or more; four distinct headers at
  // once with one slot and no waiting: at least one is told "busy".
  BasicAuth auth({{"u", Hash("$y$", "right")}},
                 {.max_concurrent_hashes = 1, .busy_wait = std::chrono::milliseconds(0)});
  std::latch go(4);
  std::vector<AuthResult> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      results[i] = auth.Check(Header("u:try" + std::to_string(i)));
    });
  }
  for (auto& t : threads) t.join();
  int busy = 0;
  for (auto r : results) {
    EXPECT_NE(r, AuthResult::kOk);
    busy += r == AuthResult::kBusy ? 1 : 0;
  }
  EXPECT_GE(busy, 1);
  EXPECT_LE(auth.hashes_computed(), 3u);
  // A cached good header never needs a slot.
  BasicAuth cached({{"u", Hash("$6$", "right")}},
                   {.max_concurrent_hashes = 1, .busy_wait = std::chrono::milliseconds(0)});
  EXPECT_EQ(cached.Check(Header("u:right")), AuthResult::kOk);
  EXPECT_EQ(cached.Check(Header("u:right")), AuthResult::kOk);
}

}  // namespace
}  // namespace poolscope

// The http section and the Redis password in the agent's configuration.
namespace poolscope {
namespace {

class HttpConfigTest : public UsersFileOnDisk {
 protected:
  std::string ErrorOf(const std::string& yaml) {
    auto c = ParseConfig(yaml, "agent.yaml");
    return c.ok() ? "" : c.error().message;
  }
};

TEST_F(HttpConfigTest, BasicAuthLoadsTheUsersFile) {
  const std::string hash = Hash("$6$", "pw");
  Write("prometheus:" + hash + "\n", 0600);
  auto c = ParseConfig("http:\n  basic_auth:\n    users_file: " + path_ +
                           "\n    realm: db tier\n    healthz_without_auth: true\n",
                       "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->http.basic_auth.users_file, path_);
  EXPECT_EQ(c->http.basic_auth.realm, "db tier");
  EXPECT_TRUE(c->http.basic_auth.healthz_without_auth);
  ASSERT_EQ(c->http.basic_auth.users.size(), 1u);
  EXPECT_EQ(c->http.basic_auth.users[0].hash, hash);
  EXPECT_TRUE(c->warnings.empty());
  // Defaults: no auth, no TLS, loopback, debug off.
  auto d = ParseConfig("", "agent.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->http.listen.host, "127.0.0.1");
  EXPECT_FALSE(d->http.debug);
  EXPECT_TRUE(d->http.basic_auth.users_file.empty());
  EXPECT_TRUE(d->http.tls.cert_file.empty());
}

TEST_F(HttpConfigTest, BadUsersFileIsAConfigErrorAtItsKey) {
  Write("prometheus:hunter2\n", 0600);
  const std::string e = ErrorOf("http:\n  basic_auth: { users_file: " + path_ + " }\n");
  EXPECT_THAT(e, HasSubstr("agent.yaml:2:29: http.basic_auth.users_file: " + path_ +
                           ":1: the password field is not a hash"));
  EXPECT_THAT(e, Not(HasSubstr("hunter2")));
  EXPECT_THAT(ErrorOf("http:\n  basic_auth: { realm: x }\n"),
              HasSubstr("http.basic_auth.users_file: missing"));
  EXPECT_THAT(ErrorOf("http:\n  basic_auth: { users_file: /nonexistent/users }\n"),
              HasSubstr("cannot read users file /nonexistent/users"));
  Write("p:" + Hash("$6$", "pw") + "\n", 0644);
  EXPECT_THAT(ErrorOf("http:\n  basic_auth: { users_file: " + path_ + ", realm: 'a\"b' }\n"),
              HasSubstr("http.basic_auth.realm: use 1-64 printable"));
  auto warned = ParseConfig("http:\n  basic_auth: { users_file: " + path_ + " }\n", "agent.yaml");
  ASSERT_TRUE(warned.ok());
  ASSERT_EQ(warned->warnings.size(), 1u);
  EXPECT_THAT(warned->warnings[0], HasSubstr("readable by others"));
}

TEST_F(HttpConfigTest, TlsFilesAreCheckedAtLoad) {
  EXPECT_THAT(ErrorOf("http:\n  tls: { cert_file: /nonexistent/c.pem, key_file: /x.pem }\n"),
              HasSubstr("agent.yaml:2:21: http.tls.cert_file: cannot read the TLS certificate "
                        "file /nonexistent/c.pem"));
  EXPECT_THAT(ErrorOf("http:\n  tls: { cert_file: /x.pem }\n"),
              HasSubstr("http.tls.key_file: missing"));
  Write("not pem\n", 0600);
  EXPECT_THAT(ErrorOf("http:\n  tls: { cert_file: " + path_ + ", key_file: " + path_ + " }\n"),
              HasSubstr("http.tls.cert_file: TLS certificate file " + path_ +
                        " holds no usable PEM certificate"));
}

TEST_F(HttpConfigTest, RedisPasswordFromTheFileOrTheEnvironment) {
  auto c = ParseConfig(
      "targets:\n  redis:\n    - name: a\n      address: 127.0.0.1:6379\n      password: s3cret\n"
      "      username: agent\n",
      "agent.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redis[0].password.Expose(), "s3cret");
  EXPECT_EQ(c->redis[0].username, "agent");
  EXPECT_EQ(c->redis[0].password_source, "password");
  ::setenv("POOLSCOPE_TEST_REDIS_PW", "from-env", 1);
  auto e = ParseConfig(
      "targets:\n  redis:\n    - name: a\n      address: 127.0.0.1:6379\n"
      "      password_env: POOLSCOPE_TEST_REDIS_PW\n",
      "agent.yaml");
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->redis[0].password.Expose(), "from-env");
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - name: a\n      address: 127.0.0.1:6379\n"
                      "      password: x\n      password_env: Y\n"),
              HasSubstr("give at most one of password or password_env"));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - name: a\n      address: 127.0.0.1:6379\n"
                      "      password_env: POOLSCOPE_TEST_UNSET_VARIABLE\n"),
              HasSubstr("environment variable POOLSCOPE_TEST_UNSET_VARIABLE is not set"));
  EXPECT_THAT(ErrorOf("targets:\n  redis:\n    - name: a\n      address: 127.0.0.1:6379\n"
                      "      username: u\n"),
              HasSubstr("a username needs a password"));
}

TEST_F(HttpConfigTest, AConfigHoldingAPasswordAndReadableByOthersIsWarnedAbout) {
  const std::string pg =
      "targets:\n  postgres:\n    - name: m\n      dsn: \"host=127.0.0.1 user=a password=pw\"\n";
  Write(pg, 0644);
  auto c = LoadConfigFile(path_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_THAT(c->warnings[0], HasSubstr(path_ + " holds a password (targets.postgres[0].dsn)"));
  EXPECT_THAT(c->warnings[0], HasSubstr("chmod 600 " + path_));
  EXPECT_THAT(c->warnings[0], Not(HasSubstr("pw\"")));
  Write(pg, 0640);
  EXPECT_TRUE(LoadConfigFile(path_)->warnings.empty()) << "group-readable is the documented 640";
  Write("targets:\n  redis:\n    - name: r\n      address: 127.0.0.1:1\n      password: pw\n",
        0604);
  ASSERT_EQ(LoadConfigFile(path_)->warnings.size(), 1u);
  Write("targets:\n  postgres:\n    - name: m\n      dsn: \"host=127.0.0.1 user=a\"\n", 0644);
  EXPECT_TRUE(LoadConfigFile(path_)->warnings.empty()) << "no secret, no warning";
}

}  // namespace
}  // namespace poolscope

namespace poolscope {
namespace {

TEST(RedisPasswordConfigTest, ACacheCannotUseARedisTargetWithAPassword) {
  auto c = ParseConfig(
      "targets:\n  redis:\n    - name: r\n      address: 127.0.0.1:6379\n      password: x\n"
      "caches:\n  - name: products\n    redis: r\n",
      "agent.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("caches[0].redis: targets.redis \"r\" has a password"));
}

}  // namespace
}  // namespace poolscope
