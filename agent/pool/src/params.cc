#include "poolscope/pool/params.h"

#include <fmt/format.h>

namespace poolscope {

Param::Param(double v) : text_(fmt::format("{}", v)) {}

Param Param::Array(const std::vector<std::int64_t>& values) {
  Param p;
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  text += '}';
  p.text_ = std::move(text);
  return p;
}

Param Param::Array(const std::vector<std::string>& values) {
  Param p;
  std::string text = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  text += '}';
  p.text_ = std::move(text);
  return p;
}

}  // namespace poolscope
