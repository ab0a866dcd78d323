// core's WebhookVerifier port over the X-Twilio-Signature check.
#include "sc/providers/twilio_webhook_verifier.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "sc/providers/twilio_signature.h"

namespace sc::providers {
namespace {

constexpr const char* kUrl = "https://signup.example.org/webhooks/twilio/sms";

TEST(TwilioWebhookVerifier, AcceptsTwiliosSignatureAndNothingElse) {
  const FormParams p{{"From", "+16502530000"}, {"Body", "STOP"}, {"MessageSid", "SM1"}};
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

TEST(TwilioWebhookVerifier, NeedsAToken) {
  EXPECT_THROW(TwilioWebhookVerifier(""), std::invalid_argument);
}

}  // namespace
}  // namespace sc::providers
