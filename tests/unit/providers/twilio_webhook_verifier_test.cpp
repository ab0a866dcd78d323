// core's WebhookVerifier port over the X-Twilio-Signature check.
#include "sc/providers/twilio_webhook_verifier.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "sc/providers/twilio_signature.h"

namespace sc::providers {
namespace {

constexpr const char* kUrl = "https://signup.example.org/webhooks/twilio/sms";
constexpr const char* kSid = "SM0123456789abcdef0123456789abcdef";

TEST(TwilioWebhookVerifier, AcceptsTwiliosSignatureAndNothingElse) {
  const FormParams p{{"From", "+16502530000"}, {"Body", "STOP"}, {"MessageSid", kSid}};
  const TwilioWebhookVerifier v("auth-token");
  const WebhookVerifier& port = v;
  EXPECT_TRUE(port.verify(kUrl, p, twilio_signature("auth-token", kUrl, p)));
  EXPECT_FALSE(port.verify(kUrl, p, twilio_signature("other-token", kUrl, p)));
  EXPECT_FALSE(port.verify(std::string(kUrl) + "?x=1", p, twilio_signature("auth-token", kUrl, p)));
  auto extra = p;
  extra.emplace_back("Body", "YES");
  EXPECT_FALSE(port.verify(kUrl, extra, twilio_signature("auth-token", kUrl, p)));
  EXPECT_FALSE(port.verify(kUrl, p, ""));
}

// The weakness the shape check closes: names and values are signed run
// together, so moving To into MessageSid's value keeps the signature valid.
TEST(TwilioWebhookVerifier, ARecutRequestStillVerifiesButItsSidHasTheWrongShape) {
  const TwilioWebhookVerifier v("auth-token");
  const FormParams genuine{{"AccountSid", "AC0123456789abcdef0123456789abcdef"},
                           {"Body", "YES"},
                           {"From", "+16502530000"},
                           {"MessageSid", kSid},
                           {"To", "+15005550006"}};
  const auto sig = twilio_signature("auth-token", kUrl, genuine);
  const FormParams folded{{"AccountSid", "AC0123456789abcdef0123456789abcdef"},
                          {"Body", "YES"},
                          {"From", "+16502530000"},
                          {"MessageSid", std::string(kSid) + "To+15005550006"}};
  ASSERT_TRUE(v.verify(kUrl, genuine, sig));
  ASSERT_TRUE(v.verify(kUrl, folded, sig));  // the signature alone cannot tell
  EXPECT_EQ(v.malformed_param(genuine), "");
  EXPECT_EQ(v.malformed_param(folded), "MessageSid");
}

TEST(TwilioWebhookVerifier, TakesOnlyTwiliosSidShapes) {
  const TwilioWebhookVerifier v("auth-token");
  const std::string hex = "0123456789abcdef0123456789abcdef";
  auto bad = [&](const std::string& name, const std::string& value) {
    return v.malformed_param({{"MessageSid", kSid}, {name, value}});
  };
  for (const char* name : {"MessageSid", "SmsSid", "SmsMessageSid"}) {
    EXPECT_EQ(bad(name, "SM" + hex), "") << name;
    EXPECT_EQ(bad(name, "MM" + hex), "") << name;                            // a media message
    EXPECT_EQ(bad(name, "SM0123456789ABCDEF0123456789ABCDEF"), "") << name;  // OpenAPI: a-fA-F
    EXPECT_EQ(bad(name, "SM" + hex.substr(1)), name) << name;                // 31 digits
    EXPECT_EQ(bad(name, "SM" + hex + "0"), name) << name;                    // 33
    EXPECT_EQ(bad(name, "SM" + hex.substr(1) + "g"), name) << name;
    EXPECT_EQ(bad(name, "sm" + hex), name) << name;
    EXPECT_EQ(bad(name, "MG" + hex), name) << name;
    EXPECT_EQ(bad(name, ""), name) << name;
  }
  EXPECT_EQ(bad("AccountSid", "AC" + hex), "");
  EXPECT_EQ(bad("AccountSid", "AC123"), "AccountSid");
  EXPECT_EQ(bad("AccountSid", "SM" + hex), "AccountSid");
  EXPECT_EQ(bad("MessagingServiceSid", "MG" + hex), "");
  EXPECT_EQ(bad("MessagingServiceSid", "MG" + hex + "ToCity"), "MessagingServiceSid");
  // Parameters Twilio gives no fixed shape are not judged here.
  EXPECT_EQ(bad("Body", "anything at all"), "");
  // A repeat is judged too, not only the first.
  EXPECT_EQ(v.malformed_param({{"MessageSid", kSid}, {"MessageSid", "SM1"}}), "MessageSid");
}

TEST(TwilioWebhookVerifier, NeedsAToken) {
  EXPECT_THROW(TwilioWebhookVerifier(""), std::invalid_argument);
}

}  // namespace
}  // namespace sc::providers
