// TwilioWebhookVerifier: core's WebhookVerifier for Twilio's form-encoded
// webhooks (inbound texts, status callbacks), keyed with the auth token.
#pragma once
#include <string>

#include "sc/core/webhook.h"

namespace sc::providers {

class TwilioWebhookVerifier final : public WebhookVerifier {
 public:
  // auth_token must not be empty: without it nothing can be checked, and the
  // caller refuses every webhook instead of building a verifier.
  explicit TwilioWebhookVerifier(std::string auth_token);
  bool verify(std::string_view url, const FormParams& params,
              std::string_view signature) const override;
  // Every MessageSid, SmsSid and SmsMessageSid must be SM or MM + 32 hex
  // digits, every AccountSid AC + 32, every MessagingServiceSid MG + 32
  // (Twilio's OpenAPI patterns; Twilio writes the digits in lower case).
  std::string malformed_param(const FormParams& params) const override;

 private:
  std::string auth_token_;
};

}  // namespace sc::providers
