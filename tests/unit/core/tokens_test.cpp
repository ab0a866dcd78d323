#include "sc/core/tokens.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "support/unit_fakes.h"

namespace sc {
namespace {

using unit::FakeSigner;

constexpr std::int64_t kNow = 1'700'000'000;

class TokenCodecTest : public ::testing::Test {
 protected:
  FakeSigner signer_{"key-one"};
  TokenCodec codec_{signer_};

  std::string confirm_token(std::int64_t id = 42, std::int64_t exp = kNow + 3600) const {
    return codec_.issue({TokenPurpose::kConfirm, id, exp});
  }
  static void expect_bad(const Result<TokenClaims>& r) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorCode::kBadToken);
    EXPECT_EQ(r.error().code, "invalid_token");
  }
};

TEST_F(TokenCodecTest, ConfirmRoundTrip) {
  auto t = confirm_token(42, kNow + 3600);
  EXPECT_EQ(t.rfind("c.42.", 0), 0u) << t;
  auto r = codec_.verify(t, TokenPurpose::kConfirm, kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->purpose, TokenPurpose::kConfirm);
  EXPECT_EQ(r->channel_id, 42);
  EXPECT_EQ(r->expires_at, kNow + 3600);
}

// A confirm token may carry the channel's state version (issue 8.2); the MAC
// covers it, and a token without one reads as version 0.
TEST_F(TokenCodecTest, ConfirmTokenCarriesTheStateVersionUnderItsMac) {
  auto t = codec_.issue({TokenPurpose::kConfirm, 42, kNow + 3600, 3});
  EXPECT_EQ(t.rfind("c.42." + std::to_string(kNow + 3600) + ".3.", 0), 0u) << t;
  auto r = codec_.verify(t, TokenPurpose::kConfirm, kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, 3);
  EXPECT_EQ(r->channel_id, 42);
  EXPECT_EQ(codec_.verify(confirm_token(42, kNow + 3600), TokenPurpose::kConfirm, kNow)->version,
            0);
  // Another version under the same MAC, the version dropped, or a spelling
  // of 0 are all forgeries.
  auto prefix = "c.42." + std::to_string(kNow + 3600) + ".";
  auto mac = t.substr(prefix.size() + 2);
  expect_bad(codec_.verify(prefix + "4." + mac, TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(prefix + mac, TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(prefix + "0." + mac, TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(prefix + "03." + mac, TokenPurpose::kConfirm, kNow));
  // Unsubscribe tokens carry none.
  auto u = codec_.issue({TokenPurpose::kUnsubscribe, 7, 0, 5});
  EXPECT_EQ(u.rfind("u.7.0.", 0), 0u);
  EXPECT_EQ(codec_.verify(u, TokenPurpose::kUnsubscribe, kNow)->version, 0);
  expect_bad(codec_.verify("u.7.0.5." + u.substr(6), TokenPurpose::kUnsubscribe, kNow));
}

TEST_F(TokenCodecTest, UnsubscribeRoundTripNeverExpires) {
  auto t = codec_.issue({TokenPurpose::kUnsubscribe, 7, 0});
  EXPECT_EQ(t.rfind("u.7.0.", 0), 0u) << t;
  auto r = codec_.verify(t, TokenPurpose::kUnsubscribe, kNow + 10LL * 365 * 86400);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->channel_id, 7);
  EXPECT_EQ(r->purpose, TokenPurpose::kUnsubscribe);
}

// A preferences link (the person's own page) never expires and is no other
// kind of link: its MAC covers the purpose.
TEST_F(TokenCodecTest, PreferencesRoundTripIsNoOtherKindOfLink) {
  auto t = codec_.issue({TokenPurpose::kPreferences, 9, 0});
  EXPECT_EQ(t.rfind("p.9.0.", 0), 0u) << t;
  auto r = codec_.verify(t, TokenPurpose::kPreferences, kNow + 10LL * 365 * 86400);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->channel_id, 9);
  EXPECT_EQ(r->purpose, TokenPurpose::kPreferences);
  expect_bad(codec_.verify(t, TokenPurpose::kUnsubscribe, kNow));
  expect_bad(codec_.verify("u" + t.substr(1), TokenPurpose::kUnsubscribe, kNow));
  auto u = codec_.issue({TokenPurpose::kUnsubscribe, 9, 0});
  expect_bad(codec_.verify("p" + u.substr(1), TokenPurpose::kPreferences, kNow));
}

TEST_F(TokenCodecTest, ExpiresAfterItsExpiryNotBefore) {
  auto t = confirm_token(42, kNow);
  EXPECT_TRUE(codec_.verify(t, TokenPurpose::kConfirm, kNow).ok());
  auto r = codec_.verify(t, TokenPurpose::kConfirm, kNow + 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorCode::kExpired);
  EXPECT_EQ(r.error().code, "expired_token");
}

TEST_F(TokenCodecTest, ConfirmTokenWithZeroExpiryIsRefused) {
  auto r = codec_.verify(confirm_token(42, 0), TokenPurpose::kConfirm, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().kind == ErrorCode::kExpired || r.error().kind == ErrorCode::kBadToken);
}

TEST_F(TokenCodecTest, TamperedIdIsRefused) {
  auto t = confirm_token(42);
  auto forged = "c.43" + t.substr(4);
  expect_bad(codec_.verify(forged, TokenPurpose::kConfirm, kNow));
}

TEST_F(TokenCodecTest, NonCanonicalNumbersAreRefused) {
  // "042" names the same id; the token must still have one spelling only.
  auto t = confirm_token(42);
  expect_bad(codec_.verify("c.042" + t.substr(4), TokenPurpose::kConfirm, kNow));
  auto u = codec_.issue({TokenPurpose::kUnsubscribe, 7, 0});
  expect_bad(codec_.verify("u.7.00" + u.substr(5), TokenPurpose::kUnsubscribe, kNow));
  expect_bad(codec_.verify("u.+7" + u.substr(3), TokenPurpose::kUnsubscribe, kNow));
}

TEST_F(TokenCodecTest, TamperedExpiryIsRefused) {
  auto t = confirm_token(42, kNow + 3600);
  auto exp = std::to_string(kNow + 3600);
  auto pos = t.find(exp);
  ASSERT_NE(pos, std::string::npos);
  auto forged = t;
  forged.replace(pos, exp.size(), std::to_string(kNow + 999999));
  expect_bad(codec_.verify(forged, TokenPurpose::kConfirm, kNow));
}

TEST_F(TokenCodecTest, TamperedMacIsRefused) {
  auto t = confirm_token();
  for (std::size_t i : {t.size() - 1, t.rfind('.') + 1}) {
    auto forged = t;
    forged[i] = forged[i] == '0' ? '1' : '0';
    expect_bad(codec_.verify(forged, TokenPurpose::kConfirm, kNow));
  }
}

TEST_F(TokenCodecTest, TruncatedIsRefused) {
  auto t = confirm_token();
  for (std::size_t n : {t.size() - 1, t.size() - 2, t.size() - 64, std::size_t{8}, std::size_t{2},
                        std::size_t{0}}) {
    expect_bad(codec_.verify(t.substr(0, n), TokenPurpose::kConfirm, kNow));
  }
}

TEST_F(TokenCodecTest, WrongPurposeIsRefusedBothWays) {
  auto c = confirm_token(42, kNow + 3600);
  expect_bad(codec_.verify(c, TokenPurpose::kUnsubscribe, kNow));
  auto u = codec_.issue({TokenPurpose::kUnsubscribe, 42, 0});
  expect_bad(codec_.verify(u, TokenPurpose::kConfirm, kNow));
  // Swapping the purpose letter does not help: the MAC covers it.
  expect_bad(codec_.verify("u" + c.substr(1), TokenPurpose::kUnsubscribe, kNow));
  expect_bad(codec_.verify("c" + u.substr(1), TokenPurpose::kConfirm, kNow));
}

TEST_F(TokenCodecTest, ForeignKeyIsRefused) {
  FakeSigner other("key-two");
  TokenCodec foreign(other);
  auto t = foreign.issue({TokenPurpose::kConfirm, 42, kNow + 3600});
  expect_bad(codec_.verify(t, TokenPurpose::kConfirm, kNow));
  ASSERT_TRUE(foreign.verify(t, TokenPurpose::kConfirm, kNow).ok());
}

TEST_F(TokenCodecTest, OverlongIsRefused) {
  auto t = confirm_token();
  expect_bad(
      codec_.verify(t + std::string(TokenCodec::kMaxLength, '0'), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(std::string(100000, 'c'), TokenPurpose::kConfirm, kNow));
  // A number too long to be an int64 must not wrap around.
  expect_bad(codec_.verify(
      "c.99999999999999999999999." + std::to_string(kNow + 10) + "." + std::string(64, '0'),
      TokenPurpose::kConfirm, kNow));
}

TEST_F(TokenCodecTest, NonHexAndMalformedAreRefused) {
  auto t = confirm_token();
  auto mac_at = t.rfind('.') + 1;
  auto upper = t;
  for (std::size_t i = mac_at; i < upper.size(); ++i)
    upper[i] = static_cast<char>(std::toupper(upper[i]));
  if (upper != t) expect_bad(codec_.verify(upper, TokenPurpose::kConfirm, kNow));
  auto g = t;
  g[mac_at] = 'g';
  expect_bad(codec_.verify(g, TokenPurpose::kConfirm, kNow));
  expect_bad(
      codec_.verify(t.substr(0, mac_at) + std::string(64, 'z'), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(t + "0", TokenPurpose::kConfirm, kNow));   // odd hex length
  expect_bad(codec_.verify(t + "00", TokenPurpose::kConfirm, kNow));  // MAC too long
  expect_bad(codec_.verify("c.-1." + t.substr(5), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify("c..42." + t.substr(5), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify("c:42:1:" + t.substr(mac_at), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify("x" + t.substr(1), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(t.substr(0, mac_at) + "\xff\xfe" + t.substr(mac_at + 2),
                           TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(std::string("c.42.\0", 6) + t.substr(5), TokenPurpose::kConfirm, kNow));
}

// A genuine MAC over an expiry further out than the service ever issues
// (c.1.9999999999.<mac>) is a link that would never expire: refused.
TEST_F(TokenCodecTest, ConfirmTokenWithExpiryBeyondTheMaximumIsRefused) {
  expect_bad(codec_.verify(confirm_token(1, 9'999'999'999), TokenPurpose::kConfirm, kNow));
  expect_bad(codec_.verify(confirm_token(1, kNow + TokenCodec::kMaxConfirmTtlSeconds + 1),
                           TokenPurpose::kConfirm, kNow));
  EXPECT_TRUE(codec_
                  .verify(confirm_token(1, kNow + TokenCodec::kMaxConfirmTtlSeconds),
                          TokenPurpose::kConfirm, kNow)
                  .ok());
  // A deployment that issues shorter links can lower the ceiling to its own TTL.
  TokenCodec week(signer_, 7 * 86400);
  expect_bad(week.verify(confirm_token(1, kNow + 7 * 86400 + 1), TokenPurpose::kConfirm, kNow));
  EXPECT_TRUE(week.verify(confirm_token(1, kNow + 7 * 86400), TokenPurpose::kConfirm, kNow).ok());
}

}  // namespace
}  // namespace sc
