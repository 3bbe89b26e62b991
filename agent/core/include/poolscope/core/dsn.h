// Dsn: a PostgreSQL connection string that cannot be logged by accident.
//
// A Dsn has no stream operator and no implicit conversion to a string: code
// that needs the text calls Expose() (to hand it to libpq) or Redacted() (for
// anything a human may read, with the password replaced by "***").
//
//   Dsn dsn("host=db user=app password=s3cret");
//   PQconnectdb(dsn.Expose().c_str());
//   spdlog::info("connecting to {}", dsn.Redacted());  // password=***
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <string>
#include <string_view>

namespace poolscope {

class Dsn {
 public:
  Dsn() = default;
  explicit Dsn(std::string text) : text_(std::move(text)) {}

  // Expose returns the full connection string, secrets included. Only for
  // handing to libpq; never for logs, labels or pages.
  const std::string& Expose() const { return text_; }

  // Redacted returns the connection string with any password replaced.
  std::string Redacted() const;

  bool empty() const { return text_.empty(); }

  bool operator==(const Dsn&) const = default;

 private:
  std::string text_;
};

// RedactDsn returns `dsn` (keyword=value or postgresql:// URI form) in
// keyword=value form with the password replaced by "***". A string libpq
// cannot parse yields "<unparseable connection string>", never the input.
std::string RedactDsn(std::string_view dsn);

// ValidateDsn checks that libpq can parse `dsn`; on failure returns a
// message that names the problem without echoing the string.
bool ValidateDsn(std::string_view dsn, std::string* problem);

}  // namespace poolscope
