#include "poolscope/pool/fingerprint.h"

#include <algorithm>
#include <array>
#include <deque>
#include <iterator>
#include <mutex>
#include <utility>

namespace poolscope {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Kind says what a token is; it decides how the token is written and spaced.
enum class Kind : std::uint8_t {
  kWord,          // unquoted identifier (or non-reserved word), lower-cased
  kKeyword,       // a word in kKeywords, lower-cased
  kQuoted,        // double-quoted identifier, verbatim
  kValue,         // literal or parameter, written "?"
  kOp,            // operator: = <> + - || ...
  kOther,         // any other single byte
  kOpenParen,     // (
  kCloseParen,    // )
  kOpenBracket,   // [
  kCloseBracket,  // ]
  kComma,         // ,
  kSemicolon,     // ;
  kDot,           // .
  kCast,          // ::
  kColon,         // :
};

// Token is one lexical unit of the normalised statement.
struct Token {
  Kind kind = Kind::kOther;
  std::string text;  // as written in the fingerprint
};

// kKeywords are the words after which a sign is unary and before which a
// `(` is spaced (they are not function names). Sorted for binary search.
constexpr auto kKeywords = std::to_array<std::string_view>({
    "and",      "as",      "asc",       "between", "by",        "case",      "conflict", "desc",
    "distinct", "do",      "else",      "except",  "exists",    "fetch",     "filter",   "for",
    "from",     "group",   "having",    "ilike",   "in",        "intersect", "into",     "is",
    "join",     "lateral", "like",      "limit",   "not",       "offset",    "on",       "or",
    "order",    "over",    "partition", "return",  "returning", "select",    "set",      "similar",
    "then",     "union",   "using",     "values",  "when",      "where",     "with",
});
static_assert(std::is_sorted(kKeywords.begin(), kKeywords.end()));

// KeywordRange is the [begin, end) of the kKeywords starting with a letter.
struct KeywordRange {
  std::size_t begin = 0;
  std::size_t end = 0;
};

constexpr std::array<KeywordRange, 26> kKeywordsByLetter = [] {
  std::array<KeywordRange, 26> by_letter{};
  for (std::size_t k = 0; k < kKeywords.size(); ++k) {
    KeywordRange& r = by_letter[static_cast<std::size_t>(kKeywords[k][0] - 'a')];
    if (r.begin == r.end) r.begin = k;
    r.end = k + 1;
  }
  return by_letter;
}();

// IsKeyword says whether the lower-cased `word` is in kKeywords.
bool IsKeyword(std::string_view word) {
  if (word.size() < 2 || word.size() > 9 || word[0] < 'a' || word[0] > 'z') return false;
  const KeywordRange r = kKeywordsByLetter[static_cast<std::size_t>(word[0] - 'a')];
  for (std::size_t k = r.begin; k < r.end; ++k) {
    if (kKeywords[k].size() == word.size() && kKeywords[k] == word) return true;
  }
  return false;
}

// kMaxTokenBytes caps the text kept for one token: a longer token cannot fit
// in a fingerprint anyway, and rendering it still overflows the cap.
constexpr std::size_t kMaxTokenBytes = kMaxFingerprintBytes + 1;

// kMaxBuffered caps every look-ahead buffer, in tokens. Each token renders to
// at least one byte, so emitting kMaxBuffered tokens overflows the cap: what
// a buffer drops beyond that could never show in the fingerprint.
constexpr std::size_t kMaxBuffered = kMaxFingerprintBytes + 1;

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// IsSpace treats every ASCII control byte as white space.
bool IsSpace(unsigned char c) { return c <= 0x20 || c == 0x7f; }

bool IsIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

bool IsIdentCont(unsigned char c) { return IsIdentStart(c) || IsDigit(c) || c == '$'; }

bool IsOpChar(char c) {
  return std::string_view("+-*/<>=~!@#%^&|`?").find(c) != std::string_view::npos;
}

bool IsSign(const Token& t) {
  return t.kind == Kind::kOp && t.text.size() == 1 && (t.text[0] == '-' || t.text[0] == '+');
}

// IsOperand says whether a token of `kind` can end an operand, which makes a
// following sign binary.
bool IsOperand(Kind kind) {
  return kind == Kind::kWord || kind == Kind::kQuoted || kind == Kind::kValue ||
         kind == Kind::kCloseParen || kind == Kind::kCloseBracket;
}

// Lexer splits a statement into tokens, replacing literals by kValue tokens
// and dropping comments and white space. It reads lazily, so a consumer that
// stops early never scans the rest of the input.
class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  // Next stores the next token in `*t`; false at the end of the statement (or
  // after an unterminated construct).
  bool Next(Token* t) {
    while (!has_ready_ && i_ < s_.size() && !stop_) Step();
    if (!has_ready_) return false;
    *t = std::move(ready_);
    has_ready_ = false;
    return true;
  }

 private:
  char At(std::size_t i) const { return i < s_.size() ? s_[i] : '\0'; }

  // Push sets the token of this Step (there is at most one).
  void Push(Kind kind, std::string_view text) {
    ready_.kind = kind;
    ready_.text = std::string(text.substr(0, kMaxTokenBytes));
    has_ready_ = true;
  }

  void PushValue() { Push(Kind::kValue, "?"); }

  // StopWithValue adds a `?` for an unterminated construct and ends lexing.
  void StopWithValue() {
    PushValue();
    stop_ = true;
  }

  void Step() {
    const char c = s_[i_];
    const char next = At(i_ + 1);
    if (IsSpace(static_cast<unsigned char>(c))) {
      ++i_;
    } else if (c == '-' && next == '-') {
      std::size_t eol = s_.find('\n', i_);
      i_ = eol == std::string_view::npos ? s_.size() : eol + 1;
    } else if (c == '/' && next == '*') {
      SkipBlockComment();
    } else if (c == '\'') {
      LexString(i_, /*backslash_only=*/false);
    } else if (c == '"') {
      LexQuotedIdent(i_, "");
    } else if (IsDigit(c) || (c == '.' && IsDigit(next))) {
      LexNumber();
    } else if (c == '$') {
      LexDollar();
    } else if (IsIdentStart(static_cast<unsigned char>(c))) {
      LexWord();
    } else if (IsOpChar(c)) {
      LexOperator();
    } else if (c == ':' && next == ':') {
      Push(Kind::kCast, "::");
      i_ += 2;
    } else if (c == ':' && next == '=') {
      Push(Kind::kOp, ":=");
      i_ += 2;
    } else {
      Push(PunctKind(c), s_.substr(i_, 1));
      ++i_;
    }
  }

  static Kind PunctKind(char c) {
    switch (c) {
      case '(':
        return Kind::kOpenParen;
      case ')':
        return Kind::kCloseParen;
      case '[':
        return Kind::kOpenBracket;
      case ']':
        return Kind::kCloseBracket;
      case ',':
        return Kind::kComma;
      case ';':
        return Kind::kSemicolon;
      case '.':
        return Kind::kDot;
      case ':':
        return Kind::kColon;
      default:
        return Kind::kOther;
    }
  }

  // SkipBlockComment skips a nested /* */ comment; unterminated: stops.
  void SkipBlockComment() {
    std::size_t depth = 0;
    std::size_t j = i_;
    while (j < s_.size()) {
      if (s_[j] == '/' && At(j + 1) == '*') {
        ++depth;
        j += 2;
      } else if (s_[j] == '*' && At(j + 1) == '/') {
        j += 2;
        if (--depth == 0) {
          i_ = j;
          return;
        }
      } else {
        ++j;
      }
    }
    stop_ = true;
  }

  // StandardEnd returns the closing quote of a '...' string opened at `open`
  // where only '' escapes a quote, or kNone.
  std::size_t StandardEnd(std::size_t open) const {
    std::size_t j = open + 1;
    while (j < s_.size()) {
      if (s_[j] == '\'') {
        if (At(j + 1) != '\'') return j;
        j += 2;
      } else {
        ++j;
      }
    }
    return kNone;
  }

  // BackslashEnd returns the closing quote of a '...' string opened at `open`
  // where both \x and '' escape, or kNone.
  std::size_t BackslashEnd(std::size_t open) const {
    std::size_t j = open + 1;
    while (j < s_.size()) {
      if (s_[j] == '\\') {
        j += 2;
      } else if (s_[j] == '\'') {
        if (At(j + 1) != '\'') return j;
        j += 2;
      } else {
        ++j;
      }
    }
    return kNone;
  }

  // LexString replaces the string literal whose quote is at `open` by `?`.
  // With `backslash_only` (E'...') backslash escapes apply; otherwise the
  // string must end at the same place with and without them, since the
  // server's standard_conforming_strings is unknown.
  void LexString(std::size_t open, bool backslash_only) {
    std::size_t end = BackslashEnd(open);
    if (!backslash_only && StandardEnd(open) != end) end = kNone;
    if (end == kNone) return StopWithValue();
    PushValue();
    i_ = end + 1;
  }

  // LexQuotedIdent keeps the "..." identifier at `open`, after `prefix`.
  void LexQuotedIdent(std::size_t open, std::string_view prefix) {
    std::size_t j = open + 1;
    while (j < s_.size()) {
      if (s_[j] == '"') {
        if (At(j + 1) != '"') break;
        j += 2;
      } else {
        ++j;
      }
    }
    if (j >= s_.size()) return StopWithValue();
    std::string text(prefix);
    text.append(s_.substr(open, std::min(j + 1 - open, kMaxTokenBytes)));
    for (char& ch : text) {
      unsigned char u = static_cast<unsigned char>(ch);
      if (u < 0x20 || u == 0x7f) ch = ' ';
    }
    Push(Kind::kQuoted, text);
    i_ = j + 1;
  }

  // SkipIdentChars returns the first index from `j` that is not an
  // identifier character.
  std::size_t SkipIdentChars(std::size_t j) const {
    while (j < s_.size() && IsIdentCont(static_cast<unsigned char>(s_[j]))) ++j;
    return j;
  }

  std::size_t SkipDigits(std::size_t j) const {
    while (j < s_.size() && (IsDigit(s_[j]) || s_[j] == '_')) ++j;
    return j;
  }

  void LexNumber() {
    std::size_t j = i_;
    const char second = At(j + 1);
    if (s_[j] == '0' && std::string_view("xXoObB").find(second) != std::string_view::npos) {
      j += 2;
    } else {
      j = SkipDigits(j);
      if (At(j) == '.' && At(j + 1) != '.') j = SkipDigits(j + 1);
      if (At(j) == 'e' || At(j) == 'E') {
        std::size_t k = j + 1;
        if (At(k) == '+' || At(k) == '-') ++k;
        if (IsDigit(At(k))) j = SkipDigits(k);
      }
    }
    // Letters glued to the number ("1abc", hex digits) belong to the literal.
    i_ = SkipIdentChars(j);
    PushValue();
  }

  // LexDollar handles $1 parameters and $tag$...$tag$ strings.
  void LexDollar() {
    const char next = At(i_ + 1);
    if (IsDigit(next)) {
      i_ = SkipIdentChars(i_ + 1);
      PushValue();
      return;
    }
    std::size_t j = i_ + 1;
    if (IsIdentStart(static_cast<unsigned char>(next))) {
      while (j < s_.size() && s_[j] != '$' && IsIdentCont(static_cast<unsigned char>(s_[j]))) ++j;
    }
    if (At(j) != '$') {
      Push(Kind::kOther, "$");
      ++i_;
      return;
    }
    const std::string_view delim = s_.substr(i_, j + 1 - i_);
    const std::size_t close = s_.find(delim, j + 1);
    if (close == std::string_view::npos) return StopWithValue();
    PushValue();
    i_ = close + delim.size();
  }

  void LexWord() {
    const std::size_t j = SkipIdentChars(i_);
    const char first = static_cast<char>(s_[i_] | 0x20);  // lower-cased if a letter
    if (j - i_ == 1 && At(j) == '\'' &&
        std::string_view("ebxn").find(first) != std::string_view::npos) {
      i_ = j;
      LexString(j, /*backslash_only=*/first == 'e');
      return;
    }
    if (j - i_ == 1 && first == 'u' && At(j) == '&' && (At(j + 1) == '\'' || At(j + 1) == '"')) {
      i_ = j + 1;
      if (At(j + 1) == '\'') {
        LexString(j + 1, /*backslash_only=*/false);
      } else {
        LexQuotedIdent(j + 1, "u&");
      }
      return;
    }
    Push(Kind::kWord, s_.substr(i_, j - i_));
    for (char& ch : ready_.text) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    }
    if (IsKeyword(ready_.text)) ready_.kind = Kind::kKeyword;
    i_ = j;
  }

  // LexOperator reads an operator the way PostgreSQL does: it stops before
  // a comment start, and loses trailing + and - unless it holds one of
  // ~ ! @ # % ^ & | ` ? (so "=-5" is "=" then "-5").
  void LexOperator() {
    std::size_t j = i_;
    while (j < s_.size() && IsOpChar(s_[j])) {
      if (j > i_ && ((s_[j] == '-' && At(j + 1) == '-') || (s_[j] == '/' && At(j + 1) == '*'))) {
        break;
      }
      ++j;
    }
    std::string_view op = s_.substr(i_, j - i_);
    if (op.size() > 1 && (op.back() == '+' || op.back() == '-') &&
        op.find_first_of("~!@#%^&|`?") == std::string_view::npos) {
      while (op.size() > 1 && (op.back() == '+' || op.back() == '-')) op.remove_suffix(1);
    }
    i_ += op.size();
    Push(Kind::kOp, op == "!=" ? "<>" : op);
  }

  std::string_view s_;
  std::size_t i_ = 0;
  bool stop_ = false;
  bool has_ready_ = false;
  Token ready_;  // the token of the last Step(), if has_ready_
};

// SignFolder drops a unary sign in front of a literal: a run of `-`/`+`
// followed by a `?` keeps only its first sign when that one is binary (it
// follows an operand), and none otherwise.
class SignFolder {
 public:
  explicit SignFolder(Lexer* in) : in_(in) {}

  // Next stores the next token in `*t`; false at the end.
  bool Next(Token* t) {
    if (ready_.empty()) {
      if (!in_->Next(t)) return false;
      if (!IsSign(*t)) {
        prev_operand_ = IsOperand(t->kind);
        return true;
      }
      FoldRun(t->text[0]);
    }
    *t = std::move(ready_.front());
    ready_.pop_front();
    return true;
  }

 private:
  // FoldRun reads the rest of a run of signs starting with `first` and the
  // token after it, and queues what remains of them.
  void FoldRun(char first) {
    std::string signs(1, first);  // at most kMaxBuffered
    Token next;
    bool have_next = false;
    while (in_->Next(&next)) {
      if (!IsSign(next)) {
        have_next = true;
        break;
      }
      if (signs.size() < kMaxBuffered) signs.push_back(next.text[0]);
    }
    std::size_t keep = signs.size();
    if (have_next && next.kind == Kind::kValue) keep = prev_operand_ ? 1 : 0;
    for (std::size_t k = 0; k < keep; ++k) Queue(Token{Kind::kOp, std::string(1, signs[k])});
    if (have_next) Queue(std::move(next));
  }

  void Queue(Token t) {
    prev_operand_ = IsOperand(t.kind);
    ready_.push_back(std::move(t));
  }

  Lexer* in_;
  bool prev_operand_ = false;  // whether the last token passed on ends an operand
  std::deque<Token> ready_;
};

// NeedSpace says whether a space goes between tokens of kinds `prev` and
// `cur`.
bool NeedSpace(Kind prev, Kind cur) {
  switch (cur) {
    case Kind::kComma:
    case Kind::kSemicolon:
    case Kind::kCloseParen:
    case Kind::kCloseBracket:
    case Kind::kDot:
    case Kind::kCast:
    case Kind::kColon:
      return false;
    default:
      break;
  }
  switch (prev) {
    case Kind::kOpenParen:
    case Kind::kOpenBracket:
    case Kind::kDot:
    case Kind::kCast:
    case Kind::kColon:
      return false;
    default:
      break;
  }
  if (cur == Kind::kOpenParen) return !(prev == Kind::kWord || prev == Kind::kQuoted);
  if (cur == Kind::kOpenBracket) {
    return !(prev == Kind::kWord || prev == Kind::kKeyword || prev == Kind::kQuoted ||
             prev == Kind::kCloseParen || prev == Kind::kCloseBracket);
  }
  return true;
}

// Renderer writes tokens with normalised spacing, drops trailing `;`, and
// cuts at a token boundary to stay within kMaxFingerprintBytes.
class Renderer {
 public:
  // Add appends `t` (a `;` is held until something follows it).
  void Add(const Token& t) {
    if (full_) return;
    if (t.kind == Kind::kSemicolon) {
      ++semicolons_;
      return;
    }
    for (; semicolons_ > 0 && !full_; --semicolons_) Write(Kind::kSemicolon, ";");
    if (!full_) Write(t.kind, t.text);
  }

  // full says whether the cap was reached; nothing more will be written.
  bool full() const { return full_; }

  // Finish returns the fingerprint text.
  std::string Finish() && { return std::move(out_); }

 private:
  static constexpr std::string_view kMarker = " ...";

  void Write(Kind kind, std::string_view text) {
    if (has_prev_ && NeedSpace(prev_, kind)) out_.push_back(' ');
    out_.append(text);
    prev_ = kind;
    has_prev_ = true;
    if (out_.size() > kMaxFingerprintBytes) {
      out_.resize(last_fit_);
      out_.append(last_fit_ == 0 ? kMarker.substr(1) : kMarker);
      full_ = true;
      return;
    }
    if (out_.size() + kMarker.size() <= kMaxFingerprintBytes) last_fit_ = out_.size();
  }

  std::string out_;
  std::size_t last_fit_ = 0;  // longest token-boundary prefix leaving room for kMarker
  bool full_ = false;
  bool has_prev_ = false;
  Kind prev_ = Kind::kOther;
  std::size_t semicolons_ = 0;
};

// Collapser shortens constant IN lists and ARRAY constructors to one item and
// VALUES lists to their first tuple, feeding the result to a Renderer. It
// stops reading as soon as the Renderer is full.
class Collapser {
 public:
  Collapser(SignFolder* in, Renderer* out) : in_(in), out_(out) {}

  void Run() {
    Token t;
    while (!out_->full() && Pull(&t)) Process(std::move(t));
  }

 private:
  bool Pull(Token* t) {
    if (pushback_.empty()) return in_->Next(t);
    *t = std::move(pushback_.front());
    pushback_.pop_front();
    return true;
  }

  // Peek returns the k-th token ahead without consuming it, or nullptr.
  const Token* Peek(std::size_t k) {
    while (pushback_.size() <= k) {
      Token t;
      if (!in_->Next(&t)) return nullptr;
      pushback_.push_back(std::move(t));
    }
    return &pushback_[k];
  }

  bool PeekIs(Kind kind) {
    const Token* t = Peek(0);
    return t != nullptr && t->kind == kind;
  }

  void Process(Token t) {
    if (t.kind == Kind::kKeyword && t.text == "in" && PeekIs(Kind::kOpenParen)) {
      return TryList(std::move(t), /*array=*/false);
    }
    if (t.kind == Kind::kWord && t.text == "array" && PeekIs(Kind::kOpenBracket)) {
      return TryList(std::move(t), /*array=*/true);
    }
    if (t.kind == Kind::kKeyword && t.text == "values" && PeekIs(Kind::kOpenParen)) {
      values_.push_back(open_.size());
    }
    Out(t);
  }

  // Out renders `t`, tracking open brackets; closing the first tuple of a
  // VALUES list skips the tuples after it.
  void Out(const Token& t) {
    bool closed_paren = false;
    if (t.kind == Kind::kOpenParen || t.kind == Kind::kOpenBracket) {
      open_.push_back(t.kind);
    } else if (t.kind == Kind::kCloseParen || t.kind == Kind::kCloseBracket) {
      const Kind want = t.kind == Kind::kCloseParen ? Kind::kOpenParen : Kind::kOpenBracket;
      if (!open_.empty() && open_.back() == want) {
        open_.pop_back();
        closed_paren = want == Kind::kOpenParen;
      }
    }
    out_->Add(t);
    if (closed_paren && !values_.empty() && values_.back() == open_.size()) {
      values_.pop_back();
      SkipExtraTuples();
    }
  }

  // SkipExtraTuples drops every `, (...)` that follows, even an unfinished
  // last one.
  void SkipExtraTuples() {
    for (;;) {
      const Token* comma = Peek(0);
      if (comma == nullptr || comma->kind != Kind::kComma) return;
      const Token* paren = Peek(1);
      if (paren == nullptr || paren->kind != Kind::kOpenParen) return;
      pushback_.pop_front();
      pushback_.pop_front();
      std::size_t depth = 1;
      Token u;
      while (depth > 0 && Pull(&u)) {
        if (u.kind == Kind::kOpenParen) {
          ++depth;
        } else if (u.kind == Kind::kCloseParen) {
          --depth;
        }
      }
    }
  }

  // TryList handles `head` (IN or ARRAY) followed by a bracketed list: a list
  // of only `?` (or nested brackets of them) becomes its first item (IN) or a
  // single `?` (ARRAY); any other list is rendered as it is.
  void TryList(Token head, bool array) {
    const Kind open = array ? Kind::kOpenBracket : Kind::kOpenParen;
    const Kind close = array ? Kind::kCloseBracket : Kind::kCloseParen;
    std::vector<Token> buf;  // the list as read, up to kMaxBuffered tokens
    bool overflow = false;
    auto keep = [&](Token& u) {
      if (buf.size() < kMaxBuffered) {
        buf.push_back(std::move(u));
      } else {
        overflow = true;
      }
    };
    Token u;
    Pull(&u);  // the opening bracket, already peeked
    keep(u);
    std::size_t depth = 1;
    std::size_t first_end = kNone;  // index in buf of the first top-level comma
    bool constant = true;
    bool any_value = false;
    while (depth > 0) {
      if (!Pull(&u)) {
        constant = false;  // unterminated list
        break;
      }
      if (u.kind == Kind::kValue) {
        any_value = true;
      } else if (u.kind == open) {
        ++depth;
      } else if (u.kind == close) {
        --depth;
      } else if (u.kind == Kind::kComma) {
        if (depth == 1 && first_end == kNone) first_end = buf.size();
      } else {
        constant = false;
        keep(u);
        break;
      }
      keep(u);
    }
    Out(head);
    if (!constant || !any_value) {
      // Render the list as it is, looking again for lists inside it.
      pushback_.insert(pushback_.begin(), std::make_move_iterator(buf.begin()),
                       std::make_move_iterator(buf.end()));
      return;
    }
    Out(buf.front());
    if (array) {
      Out(Token{Kind::kValue, "?"});
    } else {
      const std::size_t end =
          first_end != kNone ? first_end : (overflow ? buf.size() : buf.size() - 1);
      for (std::size_t k = 1; k < end && !out_->full(); ++k) Out(buf[k]);
    }
    Out(Token{close, array ? "]" : ")"});
  }

  SignFolder* in_;
  Renderer* out_;
  std::deque<Token> pushback_;       // tokens read ahead, to process next
  std::vector<Kind> open_;           // brackets open in the output
  std::vector<std::size_t> values_;  // open_.size() before each VALUES list's first tuple
};

}  // namespace

std::string Fingerprint(std::string_view sql) {
  Lexer lexer(sql);
  SignFolder folder(&lexer);
  Renderer renderer;
  Collapser(&folder, &renderer).Run();
  return std::move(renderer).Finish();
}

std::uint64_t FingerprintId(std::string_view fingerprint) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (char c : fingerprint) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  return h;
}

std::string FingerprintLabel(std::uint64_t id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[id & 0xf];
    id >>= 4;
  }
  return out;
}

namespace {

const std::string& OtherLabel() {
  static const std::string* const kOther = new std::string(StatementLabels::kOtherLabel);
  return *kOther;
}

}  // namespace

StatementLabels::StatementLabels(std::size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) full_.store(true, std::memory_order_release);
}

const StatementLabels::Entry* StatementLabels::Find(std::uint64_t id, std::string_view fingerprint,
                                                    bool* id_taken) const {
  auto it = entries_.find(id);
  *id_taken = it != entries_.end();
  if (!*id_taken || it->second.fingerprint != fingerprint) return nullptr;
  return &it->second;
}

const std::string& StatementLabels::Label(std::string_view fingerprint) {
  const std::uint64_t id = FingerprintId(fingerprint);
  bool taken = false;
  if (full_.load(std::memory_order_acquire)) {
    // Full: entries_ is never written again, so it is safe to read unlocked.
    const Entry* e = Find(id, fingerprint, &taken);
    return e != nullptr ? e->label : OtherLabel();
  }
  {
    std::shared_lock lock(mu_);
    if (const Entry* e = Find(id, fingerprint, &taken)) return e->label;
    if (taken) return OtherLabel();
  }
  std::unique_lock lock(mu_);
  if (const Entry* e = Find(id, fingerprint, &taken)) return e->label;
  if (taken || entries_.size() >= capacity_) return OtherLabel();
  auto it = entries_.emplace(id, Entry{FingerprintLabel(id), std::string(fingerprint)}).first;
  order_.push_back(&it->second);
  if (entries_.size() >= capacity_) full_.store(true, std::memory_order_release);
  return it->second.label;
}

std::vector<std::pair<std::string, std::string>> StatementLabels::Admitted() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(order_.size());
  for (const Entry* e : order_) out.emplace_back(e->label, e->fingerprint);
  return out;
}

}  // namespace poolscope
