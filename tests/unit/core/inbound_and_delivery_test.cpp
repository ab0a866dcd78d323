// What comes back (issue 10) as core decides it, over the in-memory store:
// each MessageSid is processed once, every answered text is on record, an
// operator's opt-out, and delivery states that only move forward.
#include <gtest/gtest.h>

#include "sc/core/consent_service.h"
#include "sc/core/sms_status.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

using unit::CountingIds;
using unit::FakeSigner;
using unit::MemoryConsentStore;
using unit::RecordingComposer;

constexpr std::int64_t kT0 = 1'700'000'000;
constexpr const char* kPhone = "+14155550100";

class InboundTest : public ::testing::Test {
 protected:
  FakeSigner signer_{"k"};
  RecordingComposer composer_;
  CountingIds ids_;
  ConsentService svc_{ServiceConfig{}, signer_, composer_, nullptr, ids_};
  MemoryConsentStore store_;
  RequestContext ctx_{"54.1.2.3", "TwilioProxy/1.1"};

  Channel& pending() {
    Subscriber s;
    s.created_at = kT0;
    const auto sid = store_.insert_subscriber(s);
    Channel c;
    c.subscriber_id = sid;
    c.kind = ChannelKind::kSms;
    c.address = kPhone;
    c.state = ConsentState::kPending;
    c.id = store_.insert_channel(c);
    return store_.channel(ChannelKind::kSms, kPhone);
  }
  InboundText text(SmsKeyword k, std::string sid, std::string body, std::string from = kPhone) {
    InboundText t;
    t.from = std::move(from);
    t.keyword = k;
    t.message_id = std::move(sid);
    t.body = std::move(body);
    return t;
  }
};

TEST_F(InboundTest, EachMessageSidIsProcessedOnce) {
  pending();
  auto yes = svc_.receive_text(store_.tx(), text(SmsKeyword::kOptIn, "SM1", "Yes"), ctx_, kT0);
  EXPECT_TRUE(yes.changed);
  EXPECT_EQ(yes.reply_template, "sms_subscribed");
  const auto events = store_.events.size();
  auto again =
      svc_.receive_text(store_.tx(), text(SmsKeyword::kOptIn, "SM1", "Yes"), ctx_, kT0 + 1);
  EXPECT_TRUE(again.duplicate);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.reply_template, "");
  EXPECT_EQ(store_.events.size(), events);
  ASSERT_EQ(store_.inbound.size(), 1u);
  const auto& stored = store_.inbound.begin()->second;
  EXPECT_EQ(stored.message_sid, "SM1");
  EXPECT_EQ(stored.body, "Yes");
  EXPECT_EQ(stored.keyword, "opt_in");
  EXPECT_EQ(stored.outcome, "confirmed");
  EXPECT_EQ(stored.received_at, kT0);

  // STOP, then the old YES again: stays unsubscribed.
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kOptOut, "SM2", "STOP"), ctx_, kT0 + 10);
  auto replay =
      svc_.receive_text(store_.tx(), text(SmsKeyword::kOptIn, "SM1", "Yes"), ctx_, kT0 + 20);
  EXPECT_TRUE(replay.duplicate);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kUnsubscribed);
}

TEST_F(InboundTest, EveryAnsweredTextIsOnRecordWithItsTextAndSid) {
  pending();
  auto t = text(SmsKeyword::kOptOut, "SM5", "stop");
  t.provider_answered = true;
  t.opt_out_type = "STOP";
  auto out = svc_.receive_text(store_.tx(), t, ctx_, kT0);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(out.reply_template, "");  // Twilio answered it
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].action, ConsentAction::kWithdraw);
  EXPECT_EQ(store_.events[0].message_sid, "SM5");
  EXPECT_EQ(store_.events[0].text_received, "stop");
  EXPECT_EQ(store_.events[0].opt_out_type, "STOP");
  EXPECT_EQ(store_.events[0].detail, "sms SM5");
  EXPECT_EQ(store_.events[0].context.ip, "54.1.2.3");

  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kHelp, "SM6", "info"), ctx_, kT0 + 1);
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kOptOut, "SM7", "STOP"), ctx_, kT0 + 2);
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kNone, "SM8", "see you"), ctx_, kT0 + 3);
  ASSERT_EQ(store_.events.size(), 3u);  // "see you" was neither answered nor a change
  EXPECT_EQ(store_.events[1].action, ConsentAction::kHelp);
  EXPECT_EQ(store_.events[1].text_received, "info");
  EXPECT_EQ(store_.events[2].action, ConsentAction::kReceived);
  EXPECT_EQ(store_.events[2].message_sid, "SM7");
  EXPECT_EQ(store_.inbound.size(), 4u);
  EXPECT_EQ(store_.inbound.rbegin()->second.keyword, "none");
  EXPECT_EQ(store_.inbound.rbegin()->second.outcome, "ignored");
}

TEST_F(InboundTest, StopFromAnUnknownNumberIsARevocationOnRecord) {
  auto out = svc_.receive_text(store_.tx(),
                               text(SmsKeyword::kOptOut, "SM9", "STOP", "+14155550199"), ctx_, kT0);
  EXPECT_EQ(out.reply_template, "sms_stopped");
  EXPECT_TRUE(store_.channels.empty());
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].subscriber_id, 0);
  EXPECT_EQ(store_.events[0].channel_id, 0);
  EXPECT_EQ(store_.events[0].address, "+14155550199");
  EXPECT_EQ(store_.events[0].channel, ChannelKind::kSms);
  EXPECT_EQ(store_.events[0].action, ConsentAction::kWithdraw);
  EXPECT_EQ(store_.events[0].source, ConsentSource::kKeyword);
}

TEST_F(InboundTest, AnOperatorMarksAStoredTextAsOptOutOnce) {
  pending();
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kNone, "SM3", "leave me alone"), ctx_, kT0);
  const auto id = store_.inbound.begin()->first;
  auto first = svc_.opt_out_inbound_text(store_.tx(), id, "ops-key", {}, kT0 + 5);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->changed);
  EXPECT_EQ(first->channel.state, ConsentState::kUnsubscribed);
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].source, ConsentSource::kAdmin);
  EXPECT_EQ(store_.events[0].message_sid, "SM3");
  EXPECT_EQ(store_.events[0].text_received, "leave me alone");
  EXPECT_EQ(store_.inbound.at(id).reviewed_by, "ops-key");
  auto second = svc_.opt_out_inbound_text(store_.tx(), id, "ops-key", {}, kT0 + 6);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->changed);
  EXPECT_EQ(store_.events.size(), 1u);
  auto missing = svc_.opt_out_inbound_text(store_.tx(), id + 100, "ops-key", {}, kT0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorCode::kNotFound);
}

// A keyword reply is no evidence of a stop request an operator could add:
// a YES marked "opt-out" would unsubscribe a number that asked to join.
TEST_F(InboundTest, AnOperatorCannotMarkAKeywordReplyAsOptOut) {
  pending();
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kOptIn, "SM20", "YES"), ctx_, kT0);
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kHelp, "SM21", "help"), ctx_, kT0 + 1);
  auto aoo = text(SmsKeyword::kOptIn, "SM22", "start");
  aoo.opt_out_type = "START";
  aoo.provider_answered = true;
  (void)svc_.receive_text(store_.tx(), aoo, ctx_, kT0 + 2);
  ASSERT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kConfirmed);
  const auto events = store_.events.size();
  ASSERT_EQ(store_.inbound.size(), 3u);
  for (const auto& [id, stored] : store_.inbound) {
    auto r = svc_.opt_out_inbound_text(store_.tx(), id, "ops-key", {}, kT0 + 5);
    ASSERT_FALSE(r) << stored.body;
    EXPECT_EQ(r.error().kind, ErrorCode::kConflict) << stored.body;
    EXPECT_EQ(r.error().code, "inbound_is_keyword") << stored.body;
    EXPECT_EQ(store_.inbound.at(id).reviewed_at, 0) << stored.body;
  }
  EXPECT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kConfirmed);
  EXPECT_EQ(store_.events.size(), events);
  // A plain-language request to stop may still be marked.
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kOptOut, "SM23", "please stop texting me"),
                          ctx_, kT0 + 6);
  (void)svc_.receive_text(store_.tx(), text(SmsKeyword::kOptIn, "SM24", "yes"), ctx_, kT0 + 7);
  ASSERT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kConfirmed);
  std::int64_t plain = 0;
  for (const auto& [id, stored] : store_.inbound)
    if (stored.message_sid == "SM23") plain = id;
  auto marked = svc_.opt_out_inbound_text(store_.tx(), plain, "ops-key", {}, kT0 + 8);
  ASSERT_TRUE(marked) << marked.error().message;
  EXPECT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kUnsubscribed);
}

class DeliveryTest : public InboundTest {
 protected:
  void sent(const std::string& sid, std::int64_t outbox_id, std::int64_t channel_id) {
    store_.sent[{"twilio", sid}] = {SentMessageRef{outbox_id, channel_id, 0, ""}, "", 0};
  }
  std::string state_of(const std::string& sid) {
    return store_.sent.at({"twilio", sid}).ref.delivery_state;
  }
};

TEST_F(DeliveryTest, StatesOnlyMoveForward) {
  sent("SMa", 7, 0);
  EXPECT_TRUE(record_sms_status(store_.consent(), store_, {"SMa", "sent", ""}, kT0).changed);
  EXPECT_TRUE(
      record_sms_status(store_.consent(), store_, {"SMa", "delivered", ""}, kT0 + 1).changed);
  for (const char* late : {"queued", "sending", "sent", "delivered", "undelivered", "failed"}) {
    auto o = record_sms_status(store_.consent(), store_, {"SMa", late, "30003"}, kT0 + 2);
    EXPECT_TRUE(o.known_message) << late;
    EXPECT_FALSE(o.changed) << late;
  }
  EXPECT_EQ(state_of("SMa"), "delivered");
  EXPECT_EQ(store_.sent.at({"twilio", "SMa"}).delivery_code, "");
  // Unknown sids, statuses that are no outbound message's, and other providers' ids.
  EXPECT_FALSE(
      record_sms_status(store_.consent(), store_, {"SMzz", "delivered", ""}, kT0).known_message);
  EXPECT_FALSE(
      record_sms_status(store_.consent(), store_, {"SMa", "received", ""}, kT0).known_message);
  EXPECT_FALSE(
      record_sms_status(store_.consent(), store_, {"", "delivered", ""}, kT0).known_message);
  EXPECT_GT(delivery_rank("read"), delivery_rank("delivered"));
  EXPECT_EQ(delivery_rank("delivered"), delivery_rank("undelivered"));
  EXPECT_LT(delivery_rank("sent"), delivery_rank("failed"));
}

TEST_F(DeliveryTest, LandlineOrUnknownHandsetMakesTheChannelUndeliverable) {
  auto& ch = pending();
  const auto channel_id = ch.id;
  sent("SMb", 8, channel_id);
  sent("SMc", 9, channel_id);
  auto off = record_sms_status(store_.consent(), store_, {"SMc", "undelivered", "30003"}, kT0);
  EXPECT_TRUE(off.changed);
  EXPECT_FALSE(off.channel_undeliverable);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kPending);
  auto landline =
      record_sms_status(store_.consent(), store_, {"SMb", "undelivered", "30006"}, kT0 + 1);
  EXPECT_TRUE(landline.channel_undeliverable);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, kPhone).state, ConsentState::kUndeliverable);
  ASSERT_EQ(store_.events.size(), 1u);
  EXPECT_EQ(store_.events[0].action, ConsentAction::kUndeliverable);
  EXPECT_EQ(store_.events[0].source, ConsentSource::kProvider);
  EXPECT_EQ(store_.events[0].detail, "twilio 30006 SMb");
  EXPECT_TRUE(twilio_code_undeliverable("30005"));
  EXPECT_FALSE(twilio_code_undeliverable("30450"));  // pumping protection: this message only
  EXPECT_FALSE(twilio_code_undeliverable("30007"));
}

}  // namespace
}  // namespace sc
