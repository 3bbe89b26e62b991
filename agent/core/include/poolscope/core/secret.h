// Secret: a password or token that cannot be logged by accident.
//
// Like Dsn, a Secret has no stream operator, no formatter and no implicit
// conversion to a string: code that must hand it to a server calls Expose().
//
//   Secret pw("s3cret");
//   redisAppendCommand(c, "AUTH %b", pw.Expose().data(), pw.Expose().size());
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <string>

namespace poolscope {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string text) : text_(std::move(text)) {}

  // Expose returns the secret itself: only for handing it to a server.
  const std::string& Expose() const { return text_; }

  bool empty() const { return text_.empty(); }

  friend bool operator==(const Secret& a, const Secret& b) { return a.text_ == b.text_; }

 private:
  std::string text_;
};

}  // namespace poolscope
