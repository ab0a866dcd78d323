#include "sc/providers/sendgrid_event_verifier.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace sc::providers {
namespace {

// Standard base64 (padding and line breaks allowed, as keys are pasted);
// false on anything else.
bool decode_base64(std::string_view in, std::string& out) {
  out.assign(in.size() / 4 * 3 + 3, '\0');
  EVP_ENCODE_CTX* ctx = EVP_ENCODE_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("EVP_ENCODE_CTX_new failed");
  EVP_DecodeInit(ctx);
  int len = 0, tail = 0;
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  const int ok = EVP_DecodeUpdate(ctx, dst, &len, reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
  const int fin = ok >= 0 ? EVP_DecodeFinal(ctx, dst + len, &tail) : -1;
  EVP_ENCODE_CTX_free(ctx);
  if (ok < 0 || fin < 0) return false;
  out.resize(static_cast<std::size_t>(len + tail));
  return true;
}

EVP_PKEY* parse_key(std::string_view text) {
  if (text.find("-----BEGIN") != std::string_view::npos) {
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    if (bio == nullptr) throw std::runtime_error("BIO_new_mem_buf failed");
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return key;
  }
  std::string der;
  if (text.empty() || !decode_base64(text, der) || der.empty()) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  // Trailing bytes after the key: not what SendGrid shows.
  if (key != nullptr && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    EVP_PKEY_free(key);
    return nullptr;
  }
  return key;
}

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return false;
  return std::strcmp(group, "prime256v1") == 0;
}

}  // namespace

struct SendgridEventVerifier::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

SendgridEventVerifier::SendgridEventVerifier(std::string_view public_key)
    : key_(std::make_unique<Key>()) {
  key_->pkey = parse_key(public_key);
  if (key_->pkey == nullptr || !is_p256(key_->pkey)) {
    ERR_clear_error();
    throw std::invalid_argument(
        "not an EC P-256 public key (base64 DER SubjectPublicKeyInfo or PEM)");
  }
}

SendgridEventVerifier::~SendgridEventVerifier() = default;

bool SendgridEventVerifier::verify(std::string_view timestamp, std::string_view body,
                                   std::string_view signature) const {
  std::string der;
  if (timestamp.empty() || signature.empty() || !decode_base64(signature, der) || der.empty())
    return false;
  // One context per call: the key is shared read-only between threads.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed");
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
            EVP_DigestVerifyUpdate(ctx, timestamp.data(), timestamp.size()) == 1 &&
            EVP_DigestVerifyUpdate(ctx, body.data(), body.size()) == 1 &&
            EVP_DigestVerifyFinal(ctx, reinterpret_cast<const unsigned char*>(der.data()),
                                  der.size()) == 1;
  EVP_MD_CTX_free(ctx);
  // A refused signature leaves errors queued on this thread; another
  // OpenSSL user here (curl's TLS) must not read them as its own.
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace sc::providers
