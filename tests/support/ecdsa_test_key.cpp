#include "support/ecdsa_test_key.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

namespace sc::test {
namespace {

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

}  // namespace

struct EcdsaTestKey::Impl {
  EVP_PKEY* key = nullptr;
  ~Impl() { EVP_PKEY_free(key); }
};

EcdsaTestKey::EcdsaTestKey() : impl_(std::make_unique<Impl>()) {
  impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (impl_->key == nullptr) throw std::runtime_error("EC key generation failed");
}

EcdsaTestKey::~EcdsaTestKey() = default;

std::string EcdsaTestKey::public_key_base64() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(impl_->key, &der);
  if (len <= 0) throw std::runtime_error("i2d_PUBKEY failed");
  auto out = base64(der, static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string EcdsaTestKey::public_key_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, impl_->key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string EcdsaTestKey::sign(std::string_view timestamp, std::string_view body) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string msg = std::string(timestamp) + std::string(body);
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("EVP_DigestSign failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    throw std::runtime_error("EVP_DigestSign failed");
  }
  EVP_MD_CTX_free(ctx);
  return base64(reinterpret_cast<const unsigned char*>(sig.data()), len);
}

}  // namespace sc::test
