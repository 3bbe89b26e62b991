// Statement fingerprints: SQL text with every literal taken out, for the
// connection pool's metrics and logs.
//
// Rule: no SQL literal may ever reach a metric label or a log line. Logs get
// Fingerprint(sql); metric labels get only a 16-hex-digit id of it
// (FingerprintLabel(FingerprintId(...))), bounded by StatementLabels, so a
// label value never contains SQL text at all.
//
//   std::string fp = Fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) -- x");
//   // fp == "select * from t where id in (?)"
//   const std::string& label = labels.Label(fp);  // 16 hex digits or "other"
//
// Fingerprint() follows PostgreSQL's lexical rules:
//   * Literals become `?`: '...' (with '' escapes), E'...' (backslash escapes),
//     B'...', X'...', N'...', U&'...', $$...$$ and $tag$...$tag$, and numbers
//     (123, 1.5, .5, 7., 1e-3, 1_000, 0x1F, 0o17, 0b101). Letters glued to a
//     number ("1abc", "1as") are swallowed with it. Digits inside identifiers
//     (t1, col_2, a$1) are kept. Typed literals keep their type word
//     (DATE '2024-01-02' -> `date ?`).
//   * Parameters $1, $2, ... also become `?`, so a statement sent with
//     literals and the same one sent with bind parameters share a
//     fingerprint.
//   * A `-` or `+` sign directly before a literal in operand position (after
//     an operator, `(`, `[`, `,`, a keyword such as WHERE/AND/THEN, or at the
//     start) is folded into it: `x = -5` -> `x = ?`; `a - 5` -> `a - ?`.
//   * Lists collapse: `IN (?, ?, ?)` -> `IN (?)`, also for lists of constant
//     tuples (`IN ((?, ?), (?, ?))` -> `IN ((?, ?))`); `ARRAY[?, ?]` and
//     `ARRAY[[?, ?], [?, ?]]` -> `ARRAY[?]`. A list holding anything but `?`
//     is kept as it is. `VALUES (..), (..), ...` keeps only its first tuple,
//     whatever the others hold (an unfinished last one is dropped too).
//   * Comments (`-- ...` to end of line, nested `/* ... */`) are removed.
//   * Keywords and unquoted identifiers are lower-cased (ASCII only).
//     Double-quoted identifiers are kept verbatim, case preserved, except that
//     ASCII control bytes inside them become spaces (no line breaks in logs).
//     TRUE, FALSE, NULL and DEFAULT are words, not literals, and stay.
//   * Spacing depends only on the tokens, never on the input's white space:
//     one space between tokens, except none before `,` `;` `)` `]` `.` `::`
//     `:`, none after `(` `[` `.` `::` `:`, none before a `[` that follows a
//     name or a closing bracket, and none before a `(` that follows an
//     identifier (`count(*)`, `insert into t(a)`; but
//     `in (?)`, `values (?)`, `exists (select`, `as (`). So `id=42` and
//     `id = 1` both give `id = ?`. `!=` is written `<>`. Trailing `;` are
//     dropped. Input holding only white space and comments gives "".
//   * Malformed input never echoes literal text: an unterminated string,
//     dollar-quoted string or quoted identifier gives `?` and everything after
//     it is dropped; an unterminated block comment drops the rest. A '...'
//     string whose end depends on standard_conforming_strings (a backslash
//     before a quote, as in 'C:\') is treated the same way: `?`, rest dropped.
//   * The result is at most kMaxFingerprintBytes long; a longer one is cut at
//     a token boundary and ends in " ..." (or is "..." alone).
//   The input is treated as bytes; bytes >= 0x80 are identifier characters, as
//   in PostgreSQL. MySQL-style "..." strings are not recognised.
//
// Cost: one pass over the input, which stops as soon as the result is full;
// memory stays bounded (look-ahead of at most about a thousand tokens)
// whatever the input's size.
//
// Thread-safety: the free functions are pure and safe from any thread.
// StatementLabels is safe for concurrent use from many threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace poolscope {

// kMaxFingerprintBytes is the longest text Fingerprint returns.
inline constexpr std::size_t kMaxFingerprintBytes = 1024;

// Fingerprint returns `sql` normalised as described above: literals and
// parameters replaced by `?`, lists collapsed, comments removed, case and
// spacing normalised. It accepts any bytes and never fails.
std::string Fingerprint(std::string_view sql);

// FingerprintId returns a stable 64-bit hash (FNV-1a) of `fingerprint`; the
// same text gives the same id in every process and on every platform.
std::uint64_t FingerprintId(std::string_view fingerprint);

// FingerprintLabel writes `id` as exactly 16 lower-case hex digits, a value
// usable as a Prometheus label.
std::string FingerprintLabel(std::uint64_t id);

// StatementLabels: the bounded set of values of the `statement` metric label.
//
// The first `capacity` distinct fingerprints passed to Label() are admitted
// and keep their label for the object's lifetime; every later one folds into
// "other". A label is FingerprintLabel(FingerprintId(fingerprint)), so it never
// contains SQL; the fingerprint text is kept only for Admitted(). In the
// (astronomically unlikely) case of two admitted-candidate fingerprints with
// the same id, the second one is reported as "other".
//
// Thread-safety: all methods may be called concurrently. Until the set is
// full, lookups take a shared lock and admissions an exclusive one; once it is
// full the set never changes again and lookups take no lock at all.
class StatementLabels {
 public:
  // kDefaultCapacity is the number of fingerprints admitted by default.
  static constexpr std::size_t kDefaultCapacity = 50;

  // kOtherLabel is the label of every fingerprint that was not admitted.
  static constexpr std::string_view kOtherLabel = "other";

  // StatementLabels admits up to `capacity` fingerprints (0: none).
  explicit StatementLabels(std::size_t capacity = kDefaultCapacity);

  StatementLabels(const StatementLabels&) = delete;
  StatementLabels& operator=(const StatementLabels&) = delete;

  // Label returns the label for `fingerprint` (the output of Fingerprint()),
  // admitting it if there is room, or "other". The reference stays valid for
  // the lifetime of this object.
  const std::string& Label(std::string_view fingerprint);

  // Admitted returns (label, fingerprint text) for every admitted fingerprint,
  // in admission order, for a debug page.
  std::vector<std::pair<std::string, std::string>> Admitted() const;

  // capacity returns the number of fingerprints this set admits at most.
  std::size_t capacity() const { return capacity_; }

 private:
  // Entry is one admitted fingerprint.
  struct Entry {
    std::string label;
    std::string fingerprint;
  };

  // Find returns the entry for `id` if its text is `fingerprint`, else
  // nullptr; `*id_taken` says whether `id` is present at all. The caller
  // holds mu_ (shared or exclusive) or has seen full_ set.
  const Entry* Find(std::uint64_t id, std::string_view fingerprint, bool* id_taken) const;

  const std::size_t capacity_;
  mutable std::shared_mutex mu_;
  // full_ is set (release) once entries_ holds capacity_ entries; from then
  // on entries_ and order_ are never written again.
  std::atomic<bool> full_{false};
  std::unordered_map<std::uint64_t, Entry> entries_;  // guarded by mu_
  std::vector<const Entry*> order_;                   // guarded by mu_
};

}  // namespace poolscope
