#include "sc/providers/twilio_webhook_verifier.h"

#include <stdexcept>

#include "sc/providers/twilio_signature.h"

namespace sc::providers {

TwilioWebhookVerifier::TwilioWebhookVerifier(std::string auth_token)
    : auth_token_(std::move(auth_token)) {
  if (auth_token_.empty()) throw std::invalid_argument("TwilioWebhookVerifier needs an auth token");
}

bool TwilioWebhookVerifier::verify(std::string_view url, const FormParams& params,
                                   std::string_view signature) const {
  return twilio_form_signature_valid(auth_token_, url, params, signature);
}

}  // namespace sc::providers
