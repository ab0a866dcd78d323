// SendGrid's Signed Event Webhook against the vectors of sendgrid-python and
// sendgrid-nodejs (tests/data/sendgrid_event_webhook_vectors.json, copied
// from ../shared/reference/providers with repo, path and commit), and against
// a fresh key for what the vectors do not cover.
#include "sc/providers/sendgrid_event_verifier.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "support/ecdsa_test_key.h"

namespace sc::providers {
namespace {

using nlohmann::json;

json vectors() {
  const auto path = (std::filesystem::path(SC_SOURCE_DIR) / "tests" / "unit" / "providers") / ".." /
                    ".." / "data" / "sendgrid_event_webhook_vectors.json";
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(SendgridEventVerifier, EveryOfficialVector) {
  const auto all = vectors();
  ASSERT_EQ(all["vectors"].size(), 7u);
  int valid = 0, invalid = 0;
  for (const auto& v : all["vectors"]) {
    const auto name = v["name"].get<std::string>();
    SendgridEventVerifier verifier(v["public_key"].get<std::string>());
    const bool got =
        verifier.verify(v["timestamp"].get<std::string>(), v["payload"].get<std::string>(),
                        v["signature"].get<std::string>());
    EXPECT_EQ(got, v["expect_valid"].get<bool>()) << name;
    (v["expect_valid"].get<bool>() ? valid : invalid)++;
  }
  EXPECT_EQ(valid, 3);
  EXPECT_EQ(invalid, 4);
}

TEST(SendgridEventVerifier, RawBytesCount) {
  // Re-serialising drops the \r\n SendGrid puts after the array: that must fail.
  const auto v = vectors()["vectors"][0];
  SendgridEventVerifier verifier(v["public_key"].get<std::string>());
  auto body = v["payload"].get<std::string>();
  ASSERT_TRUE(
      verifier.verify(v["timestamp"].get<std::string>(), body, v["signature"].get<std::string>()));
  body.resize(body.size() - 2);
  EXPECT_FALSE(
      verifier.verify(v["timestamp"].get<std::string>(), body, v["signature"].get<std::string>()));
  EXPECT_FALSE(verifier.verify("1600112503", v["payload"].get<std::string>(),
                               v["signature"].get<std::string>()));
}

TEST(SendgridEventVerifier, AcceptsPemAndPastedKeys) {
  test::EcdsaTestKey key;
  const std::string body = "[{\"event\":\"delivered\"}]\r\n";
  const auto sig = key.sign("1700000000", body);
  EXPECT_TRUE(SendgridEventVerifier(key.public_key_base64()).verify("1700000000", body, sig));
  EXPECT_TRUE(SendgridEventVerifier(key.public_key_pem()).verify("1700000000", body, sig));
  // As pasted from a console: broken over lines.
  auto wrapped = key.public_key_base64();
  wrapped.insert(40, "\n");
  EXPECT_TRUE(SendgridEventVerifier(wrapped).verify("1700000000", body, sig));
}

TEST(SendgridEventVerifier, RefusesMalformedSignatures) {
  test::EcdsaTestKey key;
  SendgridEventVerifier verifier(key.public_key_base64());
  const std::string body = "[]";
  const auto sig = key.sign("1700000000", body);
  ASSERT_TRUE(verifier.verify("1700000000", body, sig));
  EXPECT_FALSE(verifier.verify("1700000000", body, ""));
  EXPECT_FALSE(verifier.verify("", body, sig));
  EXPECT_FALSE(verifier.verify("1700000000", body, "not base64 at all!"));
  EXPECT_FALSE(verifier.verify("1700000000", body, "AAAA"));
  // Another key's signature over the same bytes.
  test::EcdsaTestKey other;
  EXPECT_FALSE(verifier.verify("1700000000", body, other.sign("1700000000", body)));
}

TEST(SendgridEventVerifier, RefusesKeysThatAreNotP256) {
  EXPECT_THROW(SendgridEventVerifier(""), std::invalid_argument);
  EXPECT_THROW(SendgridEventVerifier("not a key"), std::invalid_argument);
  EXPECT_THROW(SendgridEventVerifier("AAAA"), std::invalid_argument);
  // An RSA key (SubjectPublicKeyInfo, 512 bits) is a key, but not SendGrid's kind.
  EXPECT_THROW(
      SendgridEventVerifier("MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMm4xDZ6eH7hYcCwuPbbcKcH6XeEXGSz"
                            "3L8kLqOVp7r6ce3tR0mcmRhfwOM5y8zVSNQA0vw31oNfQTubNmqxDysCAwEAAQ=="),
      std::invalid_argument);
  // A P-384 key.
  EXPECT_THROW(
      SendgridEventVerifier("MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEM6I43FQHnuSw6k9k6tqejjUB4JiEXEl3"
                            "YBUPZ3lGvxb8uhm9EpZO5Zc2+xGjgBI13EJYyIahlYgHyYgoTT/B7iHrnZKMh"
                            "bLODkY3va4YfT26OiuskBO0hgElPa55GFLH"),
      std::invalid_argument);
}

}  // namespace
}  // namespace sc::providers
