// OpenSSL-backed primitives: HMAC, hashes, random bytes, encodings.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "sc/core/ports/services.h"

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
// The key is set up once (OpenSSL 3's one-shot HMAC() fetches the digest
// and keys the context on every call, ~4 us; a keyed context copied per
// call costs a fraction of that).
class HmacSigner final : public Signer {
 public:
  explicit HmacSigner(std::string key);
  ~HmacSigner() override;
  HmacSigner(const HmacSigner&) = delete;
  HmacSigner& operator=(const HmacSigner&) = delete;
  std::string sign(std::string_view data) const override;
  bool verify(std::string_view data, std::string_view mac) const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sc::crypto
