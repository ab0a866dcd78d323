// Migration 0007 on real SQLite: inbound texts kept by MessageSid (a
// repeat is refused by the UNIQUE constraint, not only by the service), the
// review list, the consent log's inbound columns, and delivery reports
// finding the sent message by the provider's id.
#include <gtest/gtest.h>

#include "storage_fixture.h"

namespace sc::storage {
namespace {

class InboundStore : public StorageTest {
 protected:
  std::int64_t store_text(const std::string& sid, const std::string& keyword,
                          const std::string& body = "hi") {
    return writer_->run([&](WriteContext& c) {
      StoredInboundText t;
      t.message_sid = sid;
      t.from = "+14155550100";
      t.body = body;
      t.keyword = keyword;
      t.outcome = "ignored";
      t.received_at = 500;
      return c.tx().inbound_texts.insert_inbound_text(t);
    });
  }
};

TEST_F(InboundStore, EachMessageSidOnceAndReviewedFields) {
  const auto id = store_text("SM1", "none", "please stop");
  EXPECT_TRUE(
      writer_->run([](WriteContext& c) { return c.tx().inbound_texts.inbound_text_seen("SM1"); }));
  EXPECT_FALSE(
      writer_->run([](WriteContext& c) { return c.tx().inbound_texts.inbound_text_seen("SM2"); }));
  // The database refuses a second row for the same sid; the job rolls back alone.
  EXPECT_ANY_THROW(store_text("SM1", "none"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM inbound_texts"), "1");
  writer_->run([&](WriteContext& c) {
    c.tx().inbound_texts.mark_inbound_text_reviewed(id, "ops", "opt_out", 600);
  });
  auto t =
      writer_->run([&](WriteContext& c) { return c.tx().inbound_texts.inbound_text_by_id(id); });
  ASSERT_TRUE(t);
  EXPECT_EQ(t->message_sid, "SM1");
  EXPECT_EQ(t->body, "please stop");
  EXPECT_EQ(t->keyword, "none");
  EXPECT_EQ(t->received_at, 500);
  EXPECT_EQ(t->reviewed_at, 600);
  EXPECT_EQ(t->reviewed_by, "ops");
  EXPECT_EQ(t->review_action, "opt_out");
  EXPECT_FALSE(
      writer_->run([&](WriteContext& c) { return c.tx().inbound_texts.inbound_text_by_id(999); }));
}

TEST_F(InboundStore, ReviewListIsNewestFirstPagedAndOnlyNonKeywords) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store_text("SMn" + std::to_string(i), "none"));
  store_text("SMk", "opt_out");
  ReadPool reads(path_, 1);
  auto page = reads.inbound_for_review(3, 0);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].id, ids[4]);
  EXPECT_EQ(page[2].id, ids[2]);
  auto rest = reads.inbound_for_review(3, page.back().id);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, ids[1]);
  EXPECT_EQ(rest[1].id, ids[0]);
  for (const auto& t : rest) EXPECT_EQ(t.keyword, "none");
}

TEST_F(InboundStore, ConsentLogKeepsTheTextAndUnknownNumbersAreFoundByAddress) {
  const auto ch = add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  writer_->run([&](WriteContext& c) {
    ConsentEvent e;
    e.subscriber_id = c.tx().subscribers.channel_by_id(ch)->subscriber_id;
    e.channel_id = ch;
    e.channel = ChannelKind::kSms;
    e.address = "+14155550100";
    e.action = ConsentAction::kHelp;
    e.source = ConsentSource::kKeyword;
    e.message_sid = "SMh";
    e.text_received = "help me";
    e.opt_out_type = "HELP";
    e.at = 700;
    c.tx().consent_log.append_consent(e, nullptr);
    ConsentEvent u;  // a STOP from a number nobody signed up
    u.channel = ChannelKind::kSms;
    u.address = "+14155550199";
    u.action = ConsentAction::kWithdraw;
    u.source = ConsentSource::kKeyword;
    u.message_sid = "SMu";
    u.text_received = "STOP";
    u.at = 710;
    c.tx().consent_log.append_consent(u, nullptr);
  });
  ReadPool reads(path_, 1);
  auto v = reads.subscriber_by_channel(ChannelKind::kSms, "+14155550100");
  ASSERT_TRUE(v);
  ASSERT_EQ(v->consent_log.size(), 1u);
  EXPECT_EQ(v->consent_log[0].action, "help");
  EXPECT_EQ(v->consent_log[0].message_sid, "SMh");
  EXPECT_EQ(v->consent_log[0].text_received, "help me");
  EXPECT_EQ(v->consent_log[0].opt_out_type, "HELP");
  auto unknown = reads.unknown_number_log("+14155550199");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].action, "withdraw");
  EXPECT_EQ(unknown[0].message_sid, "SMu");
  EXPECT_TRUE(reads.unknown_number_log("+14155550100").empty());  // that one has a subscriber
}

TEST_F(InboundStore, DeliveryReportsFindTheSentMessageByProviderAndId) {
  const auto ch = add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  const auto id = enqueue_sms(ch, "+14155550100");
  writer_->run([&](WriteContext& c) {
    auto got = claim_due(c.outbox(), 1000, 10, 2000);
    ASSERT_EQ(got.size(), 1u);
    c.outbox().mark_sent(id, "twilio", SendResult::sent("201", "SMsent"), 1001);
  });
  auto ref = writer_->run(
      [](WriteContext& c) { return c.tx().deliveries.sent_message("twilio", "SMsent"); });
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->outbox_id, id);
  EXPECT_EQ(ref->channel_id, ch);
  EXPECT_EQ(ref->delivery_state, "");
  EXPECT_FALSE(writer_->run(
      [](WriteContext& c) { return c.tx().deliveries.sent_message("sendgrid", "SMsent"); }));
  EXPECT_FALSE(writer_->run(
      [](WriteContext& c) { return c.tx().deliveries.sent_message("twilio", "SMnone"); }));
  writer_->run(
      [&](WriteContext& c) { c.tx().deliveries.set_delivery(id, "undelivered", "30003", 1100); });
  EXPECT_EQ(
      query("SELECT delivery_state || '/' || delivery_code || '/' || delivery_at FROM outbox"),
      "undelivered/30003/1100");
  ref = writer_->run(
      [](WriteContext& c) { return c.tx().deliveries.sent_message("twilio", "SMsent"); });
  EXPECT_EQ(ref->delivery_state, "undelivered");
}

}  // namespace
}  // namespace sc::storage
