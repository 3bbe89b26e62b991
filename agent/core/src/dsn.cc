#include "poolscope/core/dsn.h"

#include <libpq-fe.h>

#include <cctype>
#include <memory>
#include <string>

namespace poolscope {
namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoFree>;

// Quote writes a keyword value so libpq reads it back unchanged. libpq ends
// an unquoted value at any isspace() byte (tab, newline, ...), not only ' '.
std::string Quote(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '\'' || c == '\\' || c == '=') {
      plain = false;
    }
  }
  if (plain) return std::string(v);
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

std::string Dsn::Redacted() const { return RedactDsn(text_); }

std::string RedactDsn(std::string_view dsn) {
  std::string text(dsn);
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(text.c_str(), &err));
  if (err != nullptr) PQfreemem(err);
  if (!opts) return "<unparseable connection string>";
  std::string out;
  for (PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view key = o->keyword;
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    // Options libpq marks as "*" (password-like) are never shown.
    if (key == "password" || (o->dispchar != nullptr && o->dispchar[0] == '*')) {
      out += "***";
    } else {
      out += Quote(o->val);
    }
  }
  return out;
}

bool ValidateDsn(std::string_view dsn, std::string* problem) {
  std::string text(dsn);
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(text.c_str(), &err));
  if (opts) return true;
  std::string msg = err != nullptr ? err : "out of memory";
  if (err != nullptr) PQfreemem(err);
  // libpq's message may quote a fragment of the string (which may hold a
  // password); keep only what names an option or the kind of mistake.
  if (msg.find("invalid connection option") != std::string::npos) {
    // The option's name helps, unless the string holds a password: a
    // misquoted one can end up inside what libpq reads as a name.
    std::string lower(dsn);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("password") == std::string::npos && lower.find('@') == std::string::npos) {
      *problem = msg.substr(0, msg.find('\n'));
    } else {
      *problem = "an unknown keyword (see libpq's connection parameters)";
    }
  } else if (msg.find("missing \"=\"") != std::string::npos) {
    *problem = "a keyword is missing its \"=\" (write keyword=value pairs)";
  } else if (msg.find("unterminated quoted string") != std::string::npos) {
    *problem = "a quoted value is not closed";
  } else if (msg.find("URI") != std::string::npos) {
    *problem = "malformed postgresql:// URI";
  } else {
    *problem = "libpq cannot parse it";
  }
  return false;
}

}  // namespace poolscope
