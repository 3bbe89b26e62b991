// Params: query parameters for $1, $2, ... in text format, built from C++
// values without string-building SQL. Arrays serve batch reads:
//
//   lease.Query("SELECT id, name FROM products WHERE id = ANY($1)",
//               {Param::Array(std::vector<std::int64_t>{1, 2, 3})});
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poolscope {

// Param is one parameter value in PostgreSQL's text format, or SQL NULL.
class Param {
 public:
  Param(std::nullopt_t) {}                              // NOLINT: NULL
  Param(std::string_view s) : text_(std::string(s)) {}  // NOLINT
  Param(const char* s) : text_(std::string(s)) {}       // NOLINT
  Param(const std::string& s) : text_(s) {}             // NOLINT
  Param(std::int64_t v) : text_(std::to_string(v)) {}   // NOLINT
  Param(int v) : text_(std::to_string(v)) {}            // NOLINT
  Param(double v);                                      // NOLINT
  Param(bool v) : text_(v ? "t" : "f") {}               // NOLINT

  // Array builds an array literal ('{1,2,3}') from integers.
  static Param Array(const std::vector<std::int64_t>& values);
  // Array builds an array literal from strings, quoted and escaped.
  static Param Array(const std::vector<std::string>& values);

  bool is_null() const { return !text_.has_value(); }
  const std::string& text() const { return *text_; }

 private:
  Param() = default;
  std::optional<std::string> text_;
};

using Params = std::vector<Param>;

}  // namespace poolscope
