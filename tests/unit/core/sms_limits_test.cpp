// The SMS pumping defences of the sign-up: the limits on confirmation texts
// (per client, number, prefix, day), the cooldown of a number that left, and
// the form's trap field.
#include "sc/core/sms_limits.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sc/core/consent_service.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

using unit::CountingIds;
using unit::FakeSigner;
using unit::MemoryConsentStore;
using unit::RecordingComposer;
using unit::text_keyword;

constexpr std::int64_t kT0 = 1'700'000'000;

// Digits after a '+' are taken as they are (E.164 already).
class PlusPhones final : public PhoneNormalizer {
 public:
  Result<std::string> normalize(std::string_view raw) const override {
    if (raw.size() < 8 || raw.front() != '+') return invalid("invalid_phone", "bad", "phone");
    return std::string(raw);
  }
};

// A number in its own block of 10,000 (a different prefix per i).
std::string spread_number(int i) { return "+1650" + std::to_string(2000 + i) + "0000"; }
// The i-th number of one block.
std::string block_number(int i) {
  auto tail = std::to_string(1000 + i);
  return "+1650253" + tail;
}

class SmsLimitsTest : public ::testing::Test {
 protected:
  SmsLimitsTest() { rebuild(); }

  void rebuild() {
    ServiceConfig c;
    c.confirm_cooldown_seconds = 600;
    c.sms_limits = limits_;
    c.sms_consent = ConsentText{"sms-v1", "I agree to texts", std::string(64, 's')};
    svc_ = std::make_unique<ConsentService>(c, signer_, composer_, &phones_, ids_);
  }

  ValidatedSignup phone_signup(const std::string& number) {
    SignupRequest r;
    r.phone = number;
    r.sms_consent = true;
    auto v = svc_->validate(r);
    EXPECT_TRUE(v.ok()) << number;
    return v.ok() ? v.value() : ValidatedSignup{};
  }
  SignupOutcome sign_up(const std::string& number, const std::string& ip, std::int64_t now) {
    return svc_->sign_up(store_.tx(), phone_signup(number), RequestContext{ip, "test"}, now);
  }

  SmsConfirmLimits limits_;
  FakeSigner signer_{"k"};
  RecordingComposer composer_;
  PlusPhones phones_;
  CountingIds ids_;
  std::unique_ptr<ConsentService> svc_;
  MemoryConsentStore store_;
};

TEST(NumberPrefix, DropsTheLastFourDigits) {
  EXPECT_EQ(number_prefix("+16502530000"), "+1650253");
  EXPECT_EQ(number_prefix("+447700900123"), "+44770090");
  EXPECT_EQ(number_prefix("+12345"), "+1");
  EXPECT_EQ(number_prefix("+1234"), "+1234");  // too short to have a block
  EXPECT_EQ(number_prefix(""), "");
}

TEST(SmsLimitNames, AreTheMetricLabels) {
  EXPECT_EQ(to_string(SmsLimit::kClient), "ip");
  EXPECT_EQ(to_string(SmsLimit::kNumber), "number");
  EXPECT_EQ(to_string(SmsLimit::kPrefix), "prefix");
  EXPECT_EQ(to_string(SmsLimit::kDaily), "daily");
  EXPECT_EQ(to_string(SmsLimit::kNone), "");
}

TEST(SmsConfirmLimitsDefaults, HoldAFloodFromOneClientToTenTexts) {
  SmsConfirmLimits d;
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.per_client, 10);
  EXPECT_EQ(d.per_number, 3);
  EXPECT_EQ(d.per_prefix, 10);
  EXPECT_EQ(d.daily_cap, 1000);
  EXPECT_EQ(SmsConfirmLimits::kClientWindow, 3600);
  EXPECT_EQ(SmsConfirmLimits::kLongestWindow, 86400);
}

TEST_F(SmsLimitsTest, AFloodFromOneClientGetsTenTextsAndTheSameAnswers) {
  for (int i = 0; i < 1000; ++i) {
    auto out = sign_up(spread_number(i % 500) + (i < 500 ? "" : "1"), "198.51.100.7", kT0 + i);
    // The answer names the channel as for anyone; only the metric sees the limit.
    EXPECT_TRUE(out.sms);
    EXPECT_EQ(out.queued_sms, i < 10) << i;
    EXPECT_EQ(out.sms_limited, i < 10 ? SmsLimit::kNone : SmsLimit::kClient) << i;
  }
  EXPECT_EQ(store_.texts.size(), 10u);
  EXPECT_EQ(store_.sms_confirms.size(), 10u);
}

TEST_F(SmsLimitsTest, AHeldBackNumberIsKeptPendingAndGetsItsTextOnceTheWindowHasPassed) {
  for (int i = 0; i < 10; ++i) sign_up(spread_number(i), "198.51.100.7", kT0);
  auto held = sign_up(spread_number(10), "198.51.100.7", kT0 + 1);
  EXPECT_FALSE(held.queued_sms);
  const auto& ch = store_.channel(ChannelKind::kSms, spread_number(10));
  EXPECT_EQ(ch.state, ConsentState::kPending);
  EXPECT_EQ(ch.confirm_sent_at, 0);  // owed: no cooldown runs from a text never sent
  EXPECT_EQ(store_.events.back().address, spread_number(10));  // the request is on record
  EXPECT_EQ(store_.events.back().context.ip, "198.51.100.7");

  // Still inside the hour (a text at kT0 counts until kT0 + 3600).
  EXPECT_FALSE(sign_up(spread_number(10), "198.51.100.7", kT0 + 3599).queued_sms);
  auto later = sign_up(spread_number(10), "198.51.100.7", kT0 + 3600);
  EXPECT_TRUE(later.queued_sms);
  EXPECT_EQ(later.sms_limited, SmsLimit::kNone);
  EXPECT_EQ(store_.texts.back().sms.to, spread_number(10));
}

TEST_F(SmsLimitsTest, ADifferentClientStillGetsItsText) {
  for (int i = 0; i < 20; ++i) sign_up(spread_number(i), "198.51.100.7", kT0);
  auto out = sign_up(spread_number(99), "203.0.113.5", kT0 + 1);
  EXPECT_TRUE(out.queued_sms);
  EXPECT_EQ(store_.texts.size(), 11u);
}

TEST_F(SmsLimitsTest, TheClientKeyGivenByHttpIsWhatCounts) {
  // http passes the /64 of an IPv6 client: two addresses of one /64 are one client.
  for (int i = 0; i < 10; ++i) {
    auto ip = "2001:db8:1:2::" + std::to_string(i + 1);
    svc_->sign_up(store_.tx(), phone_signup(spread_number(i)), {ip, "t"}, kT0, "2001:db8:1:2::/64");
  }
  auto out = svc_->sign_up(store_.tx(), phone_signup(spread_number(10)), {"2001:db8:1:2::99", "t"},
                           kT0, "2001:db8:1:2::/64");
  EXPECT_EQ(out.sms_limited, SmsLimit::kClient);
  EXPECT_EQ(store_.sms_confirms.front().keys.client, "2001:db8:1:2::/64");
  // The consent log keeps the address itself.
  EXPECT_EQ(store_.events.back().context.ip, "2001:db8:1:2::99");
}

TEST_F(SmsLimitsTest, AClientWithoutAnAddressIsNotOneClient) {
  for (int i = 0; i < 15; ++i) EXPECT_TRUE(sign_up(spread_number(i), "", kT0).queued_sms) << i;
}

TEST_F(SmsLimitsTest, ANumberBlockIsLimitedAcrossClients) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(sign_up(block_number(i), "192.0.2." + std::to_string(i + 1), kT0).queued_sms);
  }
  auto out = sign_up(block_number(10), "192.0.2.200", kT0 + 10);
  EXPECT_FALSE(out.queued_sms);
  EXPECT_EQ(out.sms_limited, SmsLimit::kPrefix);
  // Another block is not affected.
  EXPECT_TRUE(sign_up(spread_number(1), "192.0.2.201", kT0 + 10).queued_sms);
}

TEST_F(SmsLimitsTest, ANumberGetsAtMostThreeTextsADayWhateverTheClient) {
  const auto n = spread_number(1);
  // The cooldown spaces them; the per-number limit caps them.
  EXPECT_TRUE(sign_up(n, "192.0.2.1", kT0).queued_sms);
  EXPECT_TRUE(sign_up(n, "192.0.2.2", kT0 + 600).queued_sms);
  EXPECT_TRUE(sign_up(n, "192.0.2.3", kT0 + 1200).queued_sms);
  auto fourth = sign_up(n, "192.0.2.4", kT0 + 1800);
  EXPECT_FALSE(fourth.queued_sms);
  EXPECT_EQ(fourth.sms_limited, SmsLimit::kNumber);
  // A day after the first, one of the three has left the window.
  EXPECT_TRUE(sign_up(n, "192.0.2.5", kT0 + 86400).queued_sms);
}

TEST_F(SmsLimitsTest, TheDailyCapHoldsEveryoneAndSlides) {
  limits_ = SmsConfirmLimits{};
  limits_.per_client = 0;  // 0 lifts one limit
  limits_.per_prefix = 0;
  limits_.daily_cap = 5;
  rebuild();
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(sign_up(block_number(i), "192.0.2.1", kT0 + i).queued_sms);
  auto capped = sign_up(spread_number(7), "203.0.113.9", kT0 + 100);
  EXPECT_EQ(capped.sms_limited, SmsLimit::kDaily);
  // Over any 24 hours: the text of kT0 counts until kT0 + 86400.
  EXPECT_FALSE(sign_up(spread_number(8), "203.0.113.9", kT0 + 86399).queued_sms);
  EXPECT_TRUE(sign_up(spread_number(8), "203.0.113.9", kT0 + 86400).queued_sms);
}

TEST_F(SmsLimitsTest, OffLiftsEveryLimitAndCountsNothing) {
  limits_.enabled = false;
  limits_.daily_cap = 1;
  rebuild();
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(sign_up(block_number(i), "192.0.2.1", kT0).queued_sms);
  EXPECT_EQ(store_.texts.size(), 50u);
  EXPECT_TRUE(store_.sms_confirms.empty());
}

TEST_F(SmsLimitsTest, EmailIsNotLimitedByTheTextLimits) {
  for (int i = 0; i < 20; ++i) {
    SignupRequest r;
    r.email = "p" + std::to_string(i) + "@example.com";
    auto out = svc_->sign_up(store_.tx(), svc_->validate(r).value(), {"192.0.2.1", "t"}, kT0);
    EXPECT_TRUE(out.queued_email);
    EXPECT_EQ(out.sms_limited, SmsLimit::kNone);
  }
  EXPECT_EQ(store_.emails.size(), 20u);
}

TEST_F(SmsLimitsTest, ALimitedTextDoesNotHoldBackTheEmailOfTheSameForm) {
  for (int i = 0; i < 10; ++i) sign_up(spread_number(i), "192.0.2.1", kT0);
  SignupRequest r;
  r.email = "both@example.com";
  r.phone = spread_number(50);
  r.sms_consent = true;
  auto out = svc_->sign_up(store_.tx(), svc_->validate(r).value(), {"192.0.2.1", "t"}, kT0);
  EXPECT_TRUE(out.queued_email);
  EXPECT_FALSE(out.queued_sms);
  EXPECT_EQ(out.sms_limited, SmsLimit::kClient);
}

// Decision: a number that left (STOP) and is typed into the form again waits
// for the cooldown since its last confirmation text; an email does not.
TEST_F(SmsLimitsTest, AnUnsubscribedNumberWaitsForTheCooldown) {
  const auto n = spread_number(3);
  ASSERT_TRUE(sign_up(n, "192.0.2.1", kT0).queued_sms);
  auto stop = text_keyword(*svc_, store_, n, SmsKeyword::kOptOut, "SM1", {}, kT0 + 60);
  ASSERT_TRUE(stop.changed);
  ASSERT_EQ(store_.channel(ChannelKind::kSms, n).state, ConsentState::kUnsubscribed);

  auto again = sign_up(n, "192.0.2.66", kT0 + 120);
  EXPECT_TRUE(again.sms);  // the same answer
  EXPECT_FALSE(again.queued_sms);
  EXPECT_EQ(again.sms_limited, SmsLimit::kNone);  // not a limit: the cooldown
  EXPECT_EQ(store_.channel(ChannelKind::kSms, n).state, ConsentState::kPending);
  EXPECT_EQ(store_.texts.size(), 1u);

  // After the cooldown the next sign-up sends it; the owner's YES works at any time.
  EXPECT_TRUE(sign_up(n, "192.0.2.66", kT0 + 600).queued_sms);
  EXPECT_EQ(store_.texts.size(), 2u);
}

TEST_F(SmsLimitsTest, AnUnsubscribedNumberLongAgoGetsItsTextAtOnce) {
  const auto n = spread_number(4);
  sign_up(n, "192.0.2.1", kT0);
  text_keyword(*svc_, store_, n, SmsKeyword::kOptOut, "SM1", {}, kT0 + 60);
  EXPECT_TRUE(sign_up(n, "192.0.2.1", kT0 + 86400).queued_sms);
}

TEST_F(SmsLimitsTest, TheTrapFieldKeepsNothingAndAnswersAsUsual) {
  SignupRequest r;
  r.email = "bot@example.com";
  r.phone = spread_number(1);
  r.sms_consent = true;
  r.first_name = "Bot";
  r.honeypot = "http://spam.example";
  auto v = svc_->validate(r);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->honeypot);
  auto out = svc_->sign_up(store_.tx(), v.value(), {"192.0.2.1", "t"}, kT0);
  EXPECT_TRUE(out.email);
  EXPECT_TRUE(out.sms);
  EXPECT_TRUE(out.honeypot);
  EXPECT_FALSE(out.queued_email);
  EXPECT_FALSE(out.queued_sms);
  EXPECT_EQ(store_.writes(), 0u);
  EXPECT_TRUE(store_.channels.empty());
  EXPECT_TRUE(store_.events.empty());

  // An empty trap field is a person's sign-up.
  r.honeypot = "";
  auto person = svc_->validate(r);
  ASSERT_TRUE(person.ok());
  EXPECT_FALSE(person->honeypot);
}

TEST_F(SmsLimitsTest, TheTrapFieldDoesNotExcuseBadInput) {
  SignupRequest r;
  r.email = "not-an-email";
  r.honeypot = "x";
  auto v = svc_->validate(r);
  ASSERT_FALSE(v.ok());  // answered exactly like the same form without it
  EXPECT_EQ(v.error().field, "email");
}

}  // namespace
}  // namespace sc
