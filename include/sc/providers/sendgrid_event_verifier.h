// SendgridEventVerifier: core's SignedPayloadVerifier for SendGrid's Signed
// Event Webhook: an ECDSA P-256 / SHA-256 signature (base64 DER) over the
// X-Twilio-Email-Event-Webhook-Timestamp value followed by the raw body.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "sc/core/webhook.h"

namespace sc::providers {

class SendgridEventVerifier final : public SignedPayloadVerifier {
 public:
  // public_key: the "Verification Key" as SendGrid shows it (base64 DER
  // SubjectPublicKeyInfo), or the same key as PEM. Throws
  // std::invalid_argument when it is not an EC P-256 public key.
  explicit SendgridEventVerifier(std::string_view public_key);
  ~SendgridEventVerifier() override;
  SendgridEventVerifier(const SendgridEventVerifier&) = delete;
  SendgridEventVerifier& operator=(const SendgridEventVerifier&) = delete;

  bool verify(std::string_view timestamp, std::string_view body,
              std::string_view signature) const override;

 private:
  struct Key;
  std::unique_ptr<Key> key_;
};

}  // namespace sc::providers
