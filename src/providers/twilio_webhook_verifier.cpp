#include "sc/providers/twilio_webhook_verifier.h"

#include <initializer_list>
#include <stdexcept>
#include <string_view>

#include "sc/providers/twilio_signature.h"

namespace sc::providers {
namespace {

// Twilio's sids: a two-letter prefix and 32 hex digits (the OpenAPI patterns
// are ^(SM|MM)[0-9a-fA-F]{32}$, ^AC[0-9a-fA-F]{32}$, ^MG[0-9a-fA-F]{32}$).
bool is_sid(std::string_view v, std::initializer_list<std::string_view> prefixes) {
  if (v.size() != 34) return false;
  bool prefix_ok = false;
  for (auto p : prefixes) prefix_ok = prefix_ok || v.substr(0, 2) == p;
  if (!prefix_ok) return false;
  for (char c : v.substr(2)) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace

TwilioWebhookVerifier::TwilioWebhookVerifier(std::string auth_token)
    : auth_token_(std::move(auth_token)) {
  if (auth_token_.empty()) throw std::invalid_argument("TwilioWebhookVerifier needs an auth token");
}

bool TwilioWebhookVerifier::verify(std::string_view url, const FormParams& params,
                                   std::string_view signature) const {
  return twilio_form_signature_valid(auth_token_, url, params, signature);
}

}  // namespace sc::providers

namespace sc::providers {

std::string TwilioWebhookVerifier::malformed_param(const FormParams& params) const {
  for (const auto& [k, v] : params) {
    const bool ok = k == "MessageSid" || k == "SmsSid" || k == "SmsMessageSid"
                        ? is_sid(v, {"SM", "MM"})
                    : k == "AccountSid"          ? is_sid(v, {"AC"})
                    : k == "MessagingServiceSid" ? is_sid(v, {"MG"})
                                                 : true;
    if (!ok) return k;
  }
  return {};
}

}  // namespace sc::providers
