#include "poolscope/exporters/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <semaphore>
#include <sstream>

#include <fmt/format.h>

namespace poolscope {
namespace {

constexpr std::string_view kHashChars =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

constexpr const char* kHowToHash =
    "write user:HASH with a yescrypt, sha512-crypt or bcrypt hash (make one with "
    "`mkpasswd -m yescrypt` from the whois package, `openssl passwd -6` or `htpasswd -nB USER`)";

bool AllHashChars(std::string_view s) {
  return !s.empty() && s.find_first_not_of(kHashChars) == std::string_view::npos;
}

std::vector<std::string_view> SplitDollar(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t at = 0;
  while (true) {
    std::size_t next = s.find('$', at);
    parts.push_back(s.substr(at, next == std::string_view::npos ? next : next - at));
    if (next == std::string_view::npos) break;
    at = next + 1;
  }
  return parts;
}

// ShapeProblem checks the layout of a supported hash; empty when it is fine.
std::string ShapeProblem(std::string_view hash) {
  auto p = SplitDollar(hash);  // p[0] is "" (the text before the first '$')
  if (hash.rfind("$y$", 0) == 0) {
    // $y$<params>$<salt>$<43 chars>
    if (p.size() != 5 || !AllHashChars(p[2]) || !AllHashChars(p[3]) || p[4].size() != 43 ||
        !AllHashChars(p[4])) {
      return "an incomplete yescrypt hash";
    }
    return {};
  }
  if (hash.rfind("$6$", 0) == 0) {
    // $6$[rounds=N$]<salt>$<86 chars>
    std::size_t salt = 2;
    if (p.size() == 5 && p[2].rfind("rounds=", 0) == 0) salt = 3;
    if (p.size() != salt + 2 || p[salt].empty() || p[salt].size() > 16 ||
        p[salt + 1].size() != 86 || !AllHashChars(p[salt + 1])) {
      return "an incomplete sha512-crypt hash";
    }
    return {};
  }
  if (hash.rfind("$2b$", 0) == 0 || hash.rfind("$2y$", 0) == 0) {
    // $2b$NN$<53 chars>
    if (p.size() != 4 || p[2].size() != 2 ||
        p[2].find_first_not_of("0123456789") != std::string_view::npos || p[3].size() != 53 ||
        !AllHashChars(p[3])) {
      return "an incomplete bcrypt hash";
    }
    return {};
  }
  if (hash.rfind("$1$", 0) == 0 || hash.rfind("$apr1$", 0) == 0 || hash.rfind("$md5", 0) == 0) {
    return "an MD5-based hash, which is too weak";
  }
  if (hash.rfind("$5$", 0) == 0) return "a sha256-crypt hash, which is not accepted here";
  if (hash.rfind("{SHA}", 0) == 0 || hash.rfind("{SSHA}", 0) == 0) {
    return "an unsalted SHA-1 hash, which is too weak";
  }
  if (!hash.empty() && hash[0] == '$') return "a hash of an unknown or unsupported kind";
  return "not a hash (a plaintext password?)";
}

// Base64Decode decodes standard base64 (padding required when not a
// multiple of 4); false on anything else.
bool Base64Decode(std::string_view in, std::string* out) {
  static const auto kTable = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(chars[i])] = i;
    return t;
  }();
  if (in.empty() || in.size() % 4 != 0) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=') {
        if (i + 4 != in.size() || j < 2) return false;
        v[j] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[j] = kTable[static_cast<unsigned char>(c)];
        if (v[j] < 0) return false;
      }
    }
    const unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

// Sha256 is the cache key of a header value.
std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(md), len);
}

// Wipe overwrites a string that held a secret.
void Wipe(std::string* s) {
  if (!s->empty()) explicit_bzero(s->data(), s->size());
  s->clear();
}

}  // namespace

Status CheckPasswordHash(std::string_view hash) {
  std::string problem = ShapeProblem(hash);
  if (problem.empty() && crypt_checksalt(std::string(hash).c_str()) != CRYPT_SALT_OK) {
    problem = "a hash this machine's libcrypt does not accept";
  }
  if (!problem.empty()) return Error{ErrorCode::kInvalidArgument, problem};
  return OkStatus();
}

Result<std::vector<BasicAuthUser>> ParseUsers(std::string_view text, const std::string& source) {
  std::vector<BasicAuthUser> users;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("{}:{}: expected user:hash; {}", source, line_no, kHowToHash)};
    }
    std::string_view name = line.substr(0, colon);
    std::string_view hash = line.substr(colon + 1);
    if (name.size() > 64 || name.find_first_of(" \t\"\\") != std::string_view::npos) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("{}:{}: user names are 1-64 characters without spaces, quotes or "
                               "backslashes",
                               source, line_no)};
    }
    // The message never repeats the line: it may hold a plaintext password.
    if (Status s = CheckPasswordHash(hash); !s) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("{}:{}: the password field is {}; {}", source, line_no,
                               s.error().message, kHowToHash)};
    }
    for (const auto& u : users) {
      if (u.name == name) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{}:{}: a user is listed twice", source, line_no)};
      }
    }
    users.push_back({std::string(name), std::string(hash)});
  }
  return users;
}

Result<UsersFile> LoadUsersFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    return Error{err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidArgument,
                 fmt::format("cannot read users file {}: {}", path, std::strerror(err))};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto users = ParseUsers(text, path);
  Wipe(&text);
  if (!users) return users.error();
  if (users->empty()) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("{}: no users (one user:hash per line)", path)};
  }
  UsersFile f;
  f.users = std::move(*users);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    f.warning = fmt::format(
        "users file {} is readable by {} (mode {:03o}); password hashes can be attacked "
        "offline: chmod 600 {} (owned by the user the agent runs as)",
        path, (st.st_mode & S_IROTH) != 0 ? "others" : "its group", st.st_mode & 0777, path, path);
  }
  return f;
}

bool ValidRealm(std::string_view realm) {
  if (realm.empty() || realm.size() > 64) return false;
  for (char c : realm) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

struct BasicAuth::Slots {
  explicit Slots(int n) : sem(n) {}
  std::counting_semaphore<64> sem;
};

BasicAuth::BasicAuth(std::vector<BasicAuthUser> users, BasicAuthOptions options)
    : users_(std::move(users)),
      options_(std::move(options)),
      challenge_(fmt::format("Basic realm=\"{}\", charset=\"UTF-8\"", options_.realm)),
      slots_(std::make_unique<Slots>(std::clamp(options_.max_concurrent_hashes, 1, 64))) {}

BasicAuth::~BasicAuth() = default;

std::uint64_t BasicAuth::hashes_computed() const {
  std::lock_guard lock(mu_);
  return hashes_;
}

bool BasicAuth::Verify(std::string_view user, std::string_view password) {
  const BasicAuthUser* found = nullptr;
  for (const auto& u : users_) {
    if (u.name.size() == user.size() &&
        CRYPTO_memcmp(u.name.data(), user.data(), user.size()) == 0) {
      found = &u;
    }
  }
  // An unknown user is checked against a real hash too, so that the answer
  // takes as long as for a known one.
  const std::string& hash = found != nullptr ? found->hash : users_.front().hash;
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  std::string phrase(password);
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  Wipe(&phrase);
  bool ok = out != nullptr && std::strlen(out) == hash.size() &&
            CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  explicit_bzero(data.get(), sizeof(crypt_data));
  {
    std::lock_guard lock(mu_);
    ++hashes_;
  }
  return ok && found != nullptr;
}

AuthResult BasicAuth::Check(std::string_view authorization) {
  if (users_.empty()) return AuthResult::kDenied;
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size() || authorization.size() > 4096) {
    return AuthResult::kDenied;
  }
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return AuthResult::kDenied;
    }
  }
  const std::string key = Sha256(authorization);
  const auto now = std::chrono::steady_clock::now();
  if (!key.empty()) {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.expires > now) return it->second.ok ? AuthResult::kOk : AuthResult::kDenied;
      cache_.erase(it);
    }
  }
  std::string_view b64 = authorization.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  std::string decoded;
  if (!Base64Decode(b64, &decoded)) return AuthResult::kDenied;
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) {
    Wipe(&decoded);
    return AuthResult::kDenied;
  }
  if (!slots_->sem.try_acquire_for(options_.busy_wait)) {
    Wipe(&decoded);
    return AuthResult::kBusy;
  }
  const bool ok = Verify(std::string_view(decoded).substr(0, colon),
                         std::string_view(decoded).substr(colon + 1));
  slots_->sem.release();
  Wipe(&decoded);
  if (!key.empty()) {
    std::lock_guard lock(mu_);
    const auto done = std::chrono::steady_clock::now();
    if (cache_.size() >= options_.cache_entries) {
      // Drop what has expired; if that is not enough, start over (a flood of
      // distinct headers must not grow the cache).
      for (auto it = cache_.begin(); it != cache_.end();) {
        it = it->second.expires <= done ? cache_.erase(it) : std::next(it);
      }
      if (cache_.size() >= options_.cache_entries) cache_.clear();
    }
    cache_[key] = Cached{done + (ok ? options_.cache_ttl : options_.negative_ttl), ok};
  }
  return ok ? AuthResult::kOk : AuthResult::kDenied;
}

}  // namespace poolscope
