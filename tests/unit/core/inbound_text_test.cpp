// Reading an inbound text's form parameters: sender, keyword, Advanced
// Opt-Out, message id; and receive_text, which applies it.
#include "sc/core/inbound_text.h"

#include <gtest/gtest.h>

#include "sc/core/consent_service.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

// Knows one spelling of one number; anything else fails to normalise.
class OneNumber final : public PhoneNormalizer {
 public:
  Result<std::string> normalize(std::string_view raw) const override {
    if (raw == "+1 (650) 253-0000" || raw == "+16502530000") return std::string("+16502530000");
    return invalid("invalid_phone", "not a number", "phone");
  }
};

TEST(InboundText, ReadsSenderKeywordAndMessageId) {
  OneNumber phones;
  auto t = interpret_inbound_text(
      {{"MessageSid", "SM0001"}, {"From", "+1 (650) 253-0000"}, {"Body", " yes. "}}, &phones);
  EXPECT_EQ(t.from, "+16502530000");
  EXPECT_EQ(t.keyword, SmsKeyword::kOptIn);
  EXPECT_FALSE(t.provider_answered);
  EXPECT_EQ(t.message_id, "SM0001");
}

TEST(InboundText, KeepsTheSenderAsSentWhenItDoesNotNormalise) {
  OneNumber phones;
  EXPECT_EQ(interpret_inbound_text({{"From", "short-code-12345"}, {"Body", "STOP"}}, &phones).from,
            "short-code-12345");
  // Texting not configured: no normaliser at all.
  auto t =
      interpret_inbound_text({{"From", "+1 (650) 253-0000"}, {"Body", "Stop texting me"}}, nullptr);
  EXPECT_EQ(t.from, "+1 (650) 253-0000");
  EXPECT_EQ(t.keyword, SmsKeyword::kOptOut);
}

TEST(InboundText, OptOutTypeWinsOverTheBody) {
  // Twilio's Advanced Opt-Out classified it and answered already.
  auto t = interpret_inbound_text(
      {{"Body", "please stop"}, {"OptOutType", "START"}, {"From", "+16502530000"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kOptIn);
  EXPECT_TRUE(t.provider_answered);
  t = interpret_inbound_text({{"Body", "yes"}, {"OptOutType", "STOP"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kOptOut);
  t = interpret_inbound_text({{"Body", "yes"}, {"OptOutType", "SOMETHING-NEW"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kNone);  // an unknown classification changes nothing
  EXPECT_TRUE(t.provider_answered);
}

TEST(InboundText, FirstValueOfARepeatedParameterCounts) {
  auto t = interpret_inbound_text({{"Body", "HELP"}, {"Body", "STOP"}}, nullptr);
  EXPECT_EQ(t.keyword, SmsKeyword::kHelp);
}

TEST(InboundText, ImplausibleMessageIdsAreDropped) {
  EXPECT_EQ(interpret_inbound_text({{"MessageSid", std::string(65, 'S')}}, nullptr).message_id, "");
  EXPECT_EQ(interpret_inbound_text({{"MessageSid", std::string(64, 'S')}}, nullptr).message_id,
            std::string(64, 'S'));
  EXPECT_EQ(interpret_inbound_text({{"MessageSid", "SM1\r\nX: y"}}, nullptr).message_id, "");
  EXPECT_EQ(interpret_inbound_text({{"MessageSid", "SM\xff"}}, nullptr).message_id, "");
  EXPECT_EQ(interpret_inbound_text({{"Body", "YES"}}, nullptr).message_id, "");
}

class ReceiveTextTest : public ::testing::Test {
 protected:
  unit::FakeSigner signer_{"k"};
  unit::RecordingComposer composer_;
  OneNumber phones_;
  unit::CountingIds ids_;
  ConsentService svc_{ServiceConfig{}, signer_, composer_, &phones_, ids_};
  unit::MemoryConsentStore store_;
  RequestContext ctx_{"203.0.113.9", "TwilioProxy/1.1"};
};

TEST_F(ReceiveTextTest, AnswersUnlessTheProviderDid) {
  SignupRequest r;
  r.phone = "+16502530000";
  r.sms_consent = true;
  auto v = svc_.validate(r);
  ASSERT_TRUE(v);
  (void)svc_.sign_up(store_.tx(), v.value(), ctx_, 1000);

  auto own = svc_.receive_text(
      store_.tx(),
      interpret_inbound_text({{"From", "+16502530000"}, {"Body", "yes"}, {"MessageSid", "SM1"}},
                             &phones_),
      ctx_, 1001);
  EXPECT_TRUE(own.changed);
  EXPECT_EQ(own.reply_template, "sms_subscribed");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kConfirmed);
  EXPECT_EQ(store_.events.back().detail, "sms SM1");

  auto twilio = svc_.receive_text(store_.tx(),
                                  interpret_inbound_text({{"From", "+16502530000"},
                                                          {"Body", "stop"},
                                                          {"OptOutType", "STOP"},
                                                          {"MessageSid", "SM2"}},
                                                         &phones_),
                                  ctx_, 1002);
  EXPECT_TRUE(twilio.changed);           // recorded here as well
  EXPECT_EQ(twilio.reply_template, "");  // but not answered twice
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kUnsubscribed);
}

}  // namespace
}  // namespace sc
