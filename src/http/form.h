// Internal to http: request bodies (urlencoded, JSON) into a SignupRequest.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/core/result.h"

namespace sc::detail {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// The sign-up form's hidden trap field (templates/pages/signup.html.mustache):
// SignupRequest::honeypot.
inline constexpr std::string_view kHoneypotField = "website";

// Strict application/x-www-form-urlencoded parsing: bad %-escapes fail.
Result<Pairs> parse_urlencoded(std::string_view body);
Result<SignupRequest> signup_from_form(const Pairs& pairs);
Result<SignupRequest> signup_from_json(std::string_view body);

}  // namespace sc::detail
