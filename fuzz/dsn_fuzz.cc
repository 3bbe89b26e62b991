// Fuzz target: DSN redaction (poolscope::RedactDsn, poolscope::ValidateDsn).
//
// The input is split into a form selector (first byte), a password (up to
// the first NUL byte) and the rest of a connection string (after it), and
// assembled into one of:
//   0: keyword=value   <rest> password='<password>'
//   1: URI, userinfo   postgresql://user:<%-encoded password>@<rest>
//   2: URI, query      postgresql://<rest>?password=<%-encoded password>
//   3: <rest> alone    (whatever libpq makes of arbitrary bytes)
// Properties:
//   * a string libpq cannot parse redacts to the fixed placeholder;
//   * a string libpq can parse redacts to one libpq parses back to the same
//     options, with every secret option reading "***";
//   * no secret libpq parsed out of the string (the `password` option and
//     every option libpq marks as secret), nor the password we put in,
//     appears in RedactDsn's output or in ValidateDsn's problem text -
//     unless that secret is too short (under 4 bytes) to tell apart, or is
//     also part of an option name or a non-secret value, where its showing
//     up proves nothing.
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "poolscope/core/dsn.h"

namespace poolscope::fuzz {
namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoFree>;

std::string KeywordQuote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string PercentEncode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool IsSecret(const PQconninfoOption& o) {
  return std::string_view(o.keyword) == "password" ||
         (o.dispchar != nullptr && o.dispchar[0] == '*');
}

}  // namespace

int FuzzDsn(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int form = data[0] % 4;
  std::string_view in = AsText(data + 1, size - 1);
  const std::size_t nul = in.find('\0');
  const std::string_view password = nul == std::string_view::npos ? in : in.substr(0, nul);
  const std::string_view rest = nul == std::string_view::npos ? "" : in.substr(nul + 1);
  // libpq reads the string up to a NUL; keep the assembled one NUL-free.
  if (rest.find('\0') != std::string_view::npos) return 0;

  std::string dsn;
  switch (form) {
    case 0:
      dsn = std::string(rest) + " password=" + KeywordQuote(password);
      break;
    case 1:
      dsn = "postgresql://user:" + PercentEncode(password) + "@" + std::string(rest);
      break;
    case 2:
      dsn = "postgresql://" + std::string(rest) + "?password=" + PercentEncode(password);
      break;
    default:
      dsn = std::string(rest);
      break;
  }

  const std::string redacted = RedactDsn(dsn);
  std::string problem;
  const bool valid = ValidateDsn(dsn, &problem);
  FUZZ_CHECK(OneLine(problem), "ValidateDsn's problem spans several lines");

  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(dsn.c_str(), &err));
  if (err != nullptr) PQfreemem(err);
  FUZZ_CHECK(valid == (opts != nullptr), "ValidateDsn disagrees with libpq");
  if (!opts) {
    FUZZ_CHECK(redacted == "<unparseable connection string>",
               "an unparseable string is not redacted to the placeholder");
  }

  if (opts) {
    ConninfoPtr back(PQconninfoParse(redacted.c_str(), &err));
    if (err != nullptr) PQfreemem(err);
    FUZZ_CHECK(back != nullptr, "RedactDsn's output does not parse");
    const PQconninfoOption* b = back.get();
    for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o, ++b) {
      FUZZ_CHECK(b->keyword != nullptr && std::string_view(b->keyword) == o->keyword,
                 "libpq option lists differ");
      if (o->val == nullptr) {
        FUZZ_CHECK(b->val == nullptr, "RedactDsn added an option");
      } else if (IsSecret(*o)) {
        FUZZ_CHECK(b->val != nullptr && std::string_view(b->val) == "***",
                   "a secret option does not read *** after redaction");
      } else {
        FUZZ_CHECK(b->val != nullptr && std::string_view(b->val) == o->val,
                   "RedactDsn changed a non-secret option");
      }
    }
  }

  // What may legitimately show: option names and non-secret values.
  std::vector<std::string> secrets;
  if (form != 3) secrets.emplace_back(password);
  std::string shown;
  ConninfoPtr defaults(PQconndefaults());
  for (PQconninfoOption* o = defaults.get(); o != nullptr && o->keyword != nullptr; ++o) {
    shown += o->keyword;
    shown += '\n';
  }
  shown += "***\n<unparseable connection string>\n";
  // ValidateDsn's fixed messages: a password equal to a piece of them is no leak.
  shown +=
      "a keyword is missing its \"=\" (write keyword=value pairs)\na quoted value is not "
      "closed\nmalformed postgresql:// URI\nlibpq cannot parse it\nan unknown keyword (see "
      "libpq's connection parameters)\n";
  for (PQconninfoOption* o = opts.get(); o != nullptr && o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (IsSecret(*o)) {
      secrets.emplace_back(o->val);
    } else {
      shown += o->val;
      shown += '\n';
    }
  }
  for (const std::string& s : secrets) {
    // A secret holding a separator could match across two shown values.
    if (s.size() < 4 || s.find_first_of(" \t\r\n\f\v='\\") != std::string::npos ||
        shown.find(s) != std::string::npos) {
      continue;
    }
    FUZZ_CHECK(redacted.find(s) == std::string::npos, "a password survived RedactDsn");
    FUZZ_CHECK(problem.find(s) == std::string::npos, "a password is in ValidateDsn's problem");
  }
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzDsn)
