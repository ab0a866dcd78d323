// EcdsaTestKey: a fresh P-256 key pair that signs webhook bodies the way
// SendGrid's Signed Event Webhook does, for tests that need valid signatures
// for payloads of their own (the official vectors cover fixed payloads only).
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace sc::test {

class EcdsaTestKey {
 public:
  EcdsaTestKey();
  ~EcdsaTestKey();
  EcdsaTestKey(const EcdsaTestKey&) = delete;
  EcdsaTestKey& operator=(const EcdsaTestKey&) = delete;
  // base64 DER SubjectPublicKeyInfo, as SendGrid shows its Verification Key.
  std::string public_key_base64() const;
  std::string public_key_pem() const;
  // base64 DER ECDSA-SHA256 signature over timestamp + body.
  std::string sign(std::string_view timestamp, std::string_view body) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::test
