// Errors are values. An Error carries a human message and, when it came from
// the OS, the errno. Callers add context as the error travels up:
//   starting network 'default': adding address 192.168.122.1/24 to vnbr0: File exists
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vnet {

// What kind of failure, so that the API can pick a status code (400/404/409/500).
enum class ErrorCode { Internal, Invalid, NotFound, Conflict, Unsupported, TooLarge, Unavailable };

class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int sys_errno = 0)
      : message_(std::move(message)), errno_(sys_errno) {}
  Error(ErrorCode code, std::string message) : message_(std::move(message)), code_(code) {}

  static Error invalid(std::string m) { return Error(ErrorCode::Invalid, std::move(m)); }
  static Error notFound(std::string m) { return Error(ErrorCode::NotFound, std::move(m)); }
  static Error conflict(std::string m) { return Error(ErrorCode::Conflict, std::move(m)); }
  static Error unsupported(std::string m) { return Error(ErrorCode::Unsupported, std::move(m)); }

  // An error for a failed system call: "<what>: <strerror(err)>".
  static Error fromErrno(std::string_view what, int err);

  const std::string& message() const { return message_; }
  // The errno this error came from, 0 when it did not come from the OS.
  int sysErrno() const { return errno_; }
  ErrorCode code() const { return code_; }

  // Returns "<context>: <message>", keeping the errno.
  Error context(std::string_view ctx) const&;
  Error context(std::string_view ctx) &&;

 private:
  std::string message_;
  int errno_ = 0;
  ErrorCode code_ = ErrorCode::Internal;
};

// Result<T>: either a T or an Error. A minimal stand-in for C++23 std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT implicit
  static Status success() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

// Collects the errors of steps that must all run (teardown keeps going).
class ErrorList {
 public:
  void add(Error e) { errors_.push_back(std::move(e)); }
  void add(const Status& s) {
    if (!s.ok()) errors_.push_back(s.error());
  }
  bool empty() const { return errors_.empty(); }
  const std::vector<Error>& errors() const { return errors_; }
  // Success when empty; otherwise one Error whose message joins all messages with "; ".
  Status toStatus(std::string_view ctx = {}) const;

 private:
  std::vector<Error> errors_;
};

}  // namespace vnet

// Propagates an error from a Status or Result expression, optionally adding context.
#define VNET_TRY(expr)                                            \
  do {                                                            \
    auto vnet_try_s_ = (expr);                                    \
    if (!vnet_try_s_.ok()) return std::move(vnet_try_s_).error(); \
  } while (0)
