// Result<T>: a value or an Error, returned by every fallible poolscope call.
//
// Errors are values the caller must look at ([[nodiscard]]); exceptions are
// kept for constructors that cannot return one.
//
//   Result<Config> cfg = LoadConfig(path);
//   if (!cfg) { fmt::print(stderr, "{}\n", cfg.error().message); return 2; }
//   Use(*cfg);
//
// Thread-safety: a plain value type; no internal synchronization.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace poolscope {

// ErrorCode says what kind of failure an Error reports.
enum class ErrorCode {
  kInvalidArgument,    // bad input: configuration, flags, a malformed value
  kNotFound,           // a file or variable that should exist does not
  kUnavailable,        // a peer is down, refused or broke the connection
  kTimeout,            // a deadline passed
  kResourceExhausted,  // a bound was reached (a full wait queue)
  kQueryFailed,        // the server rejected a statement (see Error::sqlstate)
  kCancelled,          // stopped on request (shutdown)
  kInternal,           // a state that should be impossible
};

// ErrorCodeName returns a short lower-case name for `code`.
const char* ErrorCodeName(ErrorCode code);

// Error carries what happened, in words a user can act on.
struct Error {
  Error() = default;
  Error(ErrorCode c, std::string m, std::string state = {})
      : code(c), message(std::move(m)), sqlstate(std::move(state)) {}

  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string sqlstate;  // the server's SQLSTATE when a database raised it, else empty
};

// Result holds either a T or an E (an Error unless a module needs more).
template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(E error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

// Status is a Result without a value.
struct Ok {};
using Status = Result<Ok>;

// OkStatus returns a successful Status.
inline Status OkStatus() { return Ok{}; }

}  // namespace poolscope
