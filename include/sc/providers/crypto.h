// OpenSSL-backed primitives: HMAC, hashes, random bytes, encodings.
#pragma once
#include <string>
#include <string_view>

#include "sc/core/ports.h"

namespace sc::crypto {

std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string hmac_sha1(std::string_view key, std::string_view data);    // raw 20 bytes
std::string sha256(std::string_view data);                             // raw 32 bytes
std::string random_bytes(std::size_t n);  // from OpenSSL's CSPRNG; throws if it fails
std::string hex(std::string_view raw);
std::string base64(std::string_view raw);
std::string base64url(std::string_view raw);  // no padding
// Returns false on any character outside the URL-safe alphabet.
bool base64url_decode(std::string_view in, std::string& out);
bool constant_time_equal(std::string_view a, std::string_view b);

// The core Signer port over HMAC-SHA256 with a secret key.
class HmacSigner final : public Signer {
 public:
  explicit HmacSigner(std::string key) : key_(std::move(key)) {}
  std::string sign(std::string_view data) const override;
  bool verify(std::string_view data, std::string_view mac) const override;

 private:
  std::string key_;
};

}  // namespace sc::crypto
