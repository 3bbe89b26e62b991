// Fuzz target: the SQL fingerprinter (poolscope::Fingerprint).
//
// Properties, for any bytes:
//   * the fingerprint is at most kMaxFingerprintBytes long and one line;
//   * no quoted string literal survives: outside double-quoted identifiers
//     the fingerprint holds no `'`;
//   * no number survives: outside double-quoted identifiers every digit
//     belongs to an identifier (a run of identifier bytes that starts with a
//     letter, `_` or a byte >= 0x80, as in `t1`, `col_2`, `a$1`);
//   * the same input gives the same fingerprint, and its label is 16 hex digits.
#include <string>

#include "fuzz_target.h"
#include "poolscope/pool/fingerprint.h"

namespace poolscope::fuzz {
namespace {

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool IsIdentCont(unsigned char c) { return IsIdentStart(c) || IsDigit(c) || c == '$'; }

}  // namespace

int FuzzFingerprint(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql = AsText(data, size);
  const std::string fp = Fingerprint(sql);
  FUZZ_CHECK(fp.size() <= kMaxFingerprintBytes, "fingerprint longer than kMaxFingerprintBytes");
  FUZZ_CHECK(OneLine(fp), "fingerprint holds a line break");
  FUZZ_CHECK(Fingerprint(sql) == fp, "fingerprint is not deterministic");

  bool quoted = false;
  for (std::size_t i = 0; i < fp.size(); ++i) {
    const auto c = static_cast<unsigned char>(fp[i]);
    if (quoted) {
      if (c == '"') {
        if (i + 1 < fp.size() && fp[i + 1] == '"') {
          ++i;  // "" inside a quoted identifier
        } else {
          quoted = false;
        }
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      continue;
    }
    FUZZ_CHECK(c != '\'', "a quoted literal survived into the fingerprint");
    if (IsDigit(c)) {
      std::size_t start = i;
      while (start > 0 && IsIdentCont(static_cast<unsigned char>(fp[start - 1]))) --start;
      FUZZ_CHECK(start < i && IsIdentStart(static_cast<unsigned char>(fp[start])),
                 "a number survived into the fingerprint");
    }
  }

  const std::string label = FingerprintLabel(FingerprintId(fp));
  FUZZ_CHECK(label.size() == 16 && label.find_first_not_of("0123456789abcdef") == std::string::npos,
             "fingerprint label is not 16 hex digits");
  return 0;
}

}  // namespace poolscope::fuzz

POOLSCOPE_FUZZ_ENTRY(poolscope::fuzz::FuzzFingerprint)
