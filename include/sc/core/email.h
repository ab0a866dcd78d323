// Email: a validated, normalised mailbox address (trimmed, domain lower-cased).
#pragma once
#include <string>
#include <string_view>

#include "sc/core/result.h"

namespace sc {

class Email {
 public:
  static constexpr std::size_t kMaxLength = 254;  // RFC 5321 path limit minus <>
  static constexpr std::size_t kMaxLocal = 64;
  static Result<Email> parse(std::string_view raw);
  const std::string& str() const { return value_; }
  std::string_view local() const;
  std::string_view domain() const;
  bool operator==(const Email&) const = default;

 private:
  explicit Email(std::string v) : value_(std::move(v)) {}
  std::string value_;
};

}  // namespace sc
