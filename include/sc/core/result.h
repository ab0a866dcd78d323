// Result<T>: an expected failure (bad input, bad token, not found) as a value.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace sc {

enum class ErrorCode {
  kInvalidInput,          // a field is malformed or missing
  kBadToken,              // a token is tampered, truncated or foreign
  kExpired,               // a token was genuine but is too old
  kNotFound,              // nothing matches
  kRateLimited,           // too many attempts
  kUnsupported,           // a valid request this deployment does not serve
  kBadRequest,            // the request itself is malformed (framing, headers)
  kUnauthorized,          // no valid credentials
  kForbidden,             // credentials or a signature that do not allow this
  kConflict,              // the resource is in a state that does not allow this
  kTooLarge,              // the body is larger than the limit
  kUnsupportedMediaType,  // a body in a format not accepted here
  kMethodNotAllowed,      // the resource exists, the method does not
  kUnavailable,           // infrastructure trouble: nothing was done, try again later
};

// Error is what handlers map to a 4xx; `code` is a stable machine string
// ("invalid_email"), `field` names the field at fault when there is one.
struct Error {
  ErrorCode kind = ErrorCode::kInvalidInput;
  std::string code;
  std::string message;
  std::string field;
};

inline Error invalid(std::string code, std::string message, std::string field = {}) {
  return Error{ErrorCode::kInvalidInput, std::move(code), std::move(message), std::move(field)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};

}  // namespace sc
