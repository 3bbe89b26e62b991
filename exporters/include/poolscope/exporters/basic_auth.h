// BasicAuth: HTTP basic authentication against a users file of crypt(3)
// hashes, for the agent's HTTP server.
//
// A users file holds one `user:hash` per line (blank lines and lines starting
// with '#' are skipped). Only slow, salted hashes are accepted: yescrypt
// (`$y$`, `mkpasswd -m yescrypt`), sha512-crypt (`$6$`, `openssl passwd -6`)
// and bcrypt (`$2b$`/`$2y$`, `htpasswd -nB`). Plaintext and anything else is
// refused when the file is loaded.
//
//   auto users = LoadUsersFile("/etc/poolscope/users");   // [[nodiscard]]
//   BasicAuth auth(users->users, {.realm = "poolscope"});
//   switch (auth.Check(authorization_header_value)) { ... }
//
// Hashing is deliberately slow (yescrypt takes ~0.1-0.2 s), so a verified
// Authorization header is remembered for `cache_ttl`, keyed by its SHA-256
// (never the plaintext); a failed one is remembered for `negative_ttl`. At
// most `max_concurrent_hashes` verifications run at once; a request that
// cannot get a slot within `busy_wait` is answered kBusy instead of tying up
// a worker thread. Passwords and user names are never logged.
//
// Thread-safety: Check is thread-safe (internal synchronization).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "poolscope/core/duration.h"
#include "poolscope/core/result.h"

namespace poolscope {

// BasicAuthUser is one line of a users file.
struct BasicAuthUser {
  std::string name;
  std::string hash;  // a crypt(3) hash, never a password
};

// CheckPasswordHash returns OkStatus when `hash` is a complete yescrypt,
// sha512-crypt or bcrypt hash this machine's libcrypt can verify, or an error
// that says what it is instead and how to make a good one.
Status CheckPasswordHash(std::string_view hash);

// ParseUsers reads users-file text; errors name `source` and the line.
Result<std::vector<BasicAuthUser>> ParseUsers(std::string_view text, const std::string& source);

// UsersFile is a loaded users file and what is worth a warning about it.
struct UsersFile {
  std::vector<BasicAuthUser> users;
  std::string warning;  // empty, or e.g. "readable by group or others"
};

// LoadUsersFile reads and validates the users file at `path` (at least one
// user). A file readable by group or others gets a warning, not an error.
Result<UsersFile> LoadUsersFile(const std::string& path);

// ValidRealm reports whether `realm` can go into a WWW-Authenticate header
// (1-64 printable ASCII characters, no '"' or '\').
bool ValidRealm(std::string_view realm);

enum class AuthResult {
  kOk,      // a known user with the right password
  kDenied,  // no, malformed or wrong credentials: answer 401
  kBusy,    // too many verifications running: answer 429
};

struct BasicAuthOptions {
  std::string realm = "poolscope";
  Duration cache_ttl = std::chrono::seconds(60);        // remember a good header this long
  Duration negative_ttl = std::chrono::seconds(5);      // remember a bad one this long
  std::size_t cache_entries = 256;                      // headers remembered at most
  int max_concurrent_hashes = 2;                        // crypt(3) runs at once
  Duration busy_wait = std::chrono::milliseconds(500);  // wait for a slot at most
};

class BasicAuth {
 public:
  BasicAuth(std::vector<BasicAuthUser> users, BasicAuthOptions options);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // Check verifies an Authorization header value ("Basic base64(user:pass)";
  // empty when the request had none).
  AuthResult Check(std::string_view authorization);

  // Challenge is the WWW-Authenticate header value for a 401.
  const std::string& Challenge() const { return challenge_; }

  // hashes_computed counts crypt(3) runs so far (tests check the cache).
  std::uint64_t hashes_computed() const;

 private:
  struct Slots;
  struct Cached {
    std::chrono::steady_clock::time_point expires;
    bool ok = false;
  };

  // Verify runs crypt(3) for `user`/`password`; constant time in the hash
  // comparison, and an unknown user costs a hash too.
  bool Verify(std::string_view user, std::string_view password);

  std::vector<BasicAuthUser> users_;
  BasicAuthOptions options_;
  std::string challenge_;
  std::unique_ptr<Slots> slots_;
  mutable std::mutex mu_;                          // guards cache_ and hashes_
  std::unordered_map<std::string, Cached> cache_;  // SHA-256 of the header -> verdict
  std::uint64_t hashes_ = 0;
};

}  // namespace poolscope
