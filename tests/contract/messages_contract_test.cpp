// Inbound texts, delivery reports, provider events and the SMS
// confirmation ledger, as every backend keeps them.
#include <gtest/gtest.h>

#include "contract/backends.h"

namespace sc::contract {
namespace {

template <class B>
class MessagesContract : public Contract<B> {};
TYPED_TEST_SUITE(MessagesContract, Backends, BackendNames);

std::int64_t store_text(Db& db, const std::string& sid, const std::string& keyword,
                        const std::string& body = "hi") {
  return db.write([&](const Transaction& tx) {
    StoredInboundText t;
    t.message_sid = sid;
    t.from = "+14155550100";
    t.body = body;
    t.keyword = keyword;
    t.opt_out_type = keyword == "opt_out" ? "STOP" : "";
    t.outcome = "ignored";
    t.received_at = 500;
    return tx.inbound_texts.insert_inbound_text(t);
  });
}

TYPED_TEST(MessagesContract, EachMessageSidOnceAndReviewedFields) {
  auto& db = this->db();
  const auto id = store_text(db, "SM1", "none", "please stop");
  auto seen = [&](const char* sid) {
    return db.write([&](const Transaction& tx) { return tx.inbound_texts.inbound_text_seen(sid); });
  };
  EXPECT_TRUE(seen("SM1"));
  EXPECT_FALSE(seen("SM2"));
  // A second row for the same sid is refused; the transaction rolls back alone.
  EXPECT_ANY_THROW(store_text(db, "SM1", "none"));
  EXPECT_EQ(db.backend().reads().inbound_for_review(10, 0).size(), 1u);
  db.write([&](const Transaction& tx) {
    tx.inbound_texts.mark_inbound_text_reviewed(id, "ops", "opt_out", 600);
  });
  auto t = db.write([&](const Transaction& tx) { return tx.inbound_texts.inbound_text_by_id(id); });
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->message_sid, "SM1");
  EXPECT_EQ(t->from, "+14155550100");
  EXPECT_EQ(t->body, "please stop");
  EXPECT_EQ(t->keyword, "none");
  EXPECT_EQ(t->outcome, "ignored");
  EXPECT_EQ(t->received_at, 500);
  EXPECT_EQ(t->reviewed_at, 600);
  EXPECT_EQ(t->reviewed_by, "ops");
  EXPECT_EQ(t->review_action, "opt_out");
  EXPECT_FALSE(
      db.write([&](const Transaction& tx) { return tx.inbound_texts.inbound_text_by_id(999); }));
}

TYPED_TEST(MessagesContract, ReviewListIsNewestFirstPagedAndOnlyNonKeywords) {
  auto& db = this->db();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(store_text(db, "SMn" + std::to_string(i), "none"));
  store_text(db, "SMk", "opt_out");
  auto& reads = db.backend().reads();
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

TYPED_TEST(MessagesContract, ConsentLogKeepsTheTextAndUnknownNumbersAreFoundByAddress) {
  auto& db = this->db();
  const auto ch = db.add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  const auto sid = db.subscriber_of(ch);
  db.write([&](const Transaction& tx) {
    ConsentEvent e;
    e.subscriber_id = sid;
    e.channel_id = ch;
    e.channel = ChannelKind::kSms;
    e.address = "+14155550100";
    e.action = ConsentAction::kHelp;
    e.source = ConsentSource::kKeyword;
    e.message_sid = "SMh";
    e.text_received = "help me";
    e.opt_out_type = "HELP";
    e.at = 700;
    tx.consent_log.append_consent(e, nullptr);
    ConsentEvent u;  // a STOP from a number nobody signed up
    u.channel = ChannelKind::kSms;
    u.address = "+14155550199";
    u.action = ConsentAction::kWithdraw;
    u.source = ConsentSource::kKeyword;
    u.message_sid = "SMu";
    u.text_received = "STOP";
    u.at = 710;
    tx.consent_log.append_consent(u, nullptr);
  });
  auto& reads = db.backend().reads();
  auto v = reads.subscriber_by_channel(ChannelKind::kSms, "+14155550100");
  ASSERT_TRUE(v);
  ASSERT_EQ(v->consent_log.size(), 1u);
  EXPECT_EQ(v->consent_log[0].action, "help");
  EXPECT_EQ(v->consent_log[0].channel, "sms");
  EXPECT_EQ(v->consent_log[0].message_sid, "SMh");
  EXPECT_EQ(v->consent_log[0].text_received, "help me");
  EXPECT_EQ(v->consent_log[0].opt_out_type, "HELP");
  auto unknown = reads.unknown_number_log("+14155550199");
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].action, "withdraw");
  EXPECT_EQ(unknown[0].source, "keyword");
  EXPECT_EQ(unknown[0].message_sid, "SMu");
  EXPECT_EQ(unknown[0].at, 710);
  EXPECT_TRUE(reads.unknown_number_log("+14155550100").empty());  // that one has a subscriber
}

// Provider reports find the sent message by provider and the provider's id.
TYPED_TEST(MessagesContract, DeliveryReportsFindTheSentMessageByProviderAndId) {
  auto& db = this->db();
  const auto ch = db.add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  const auto id = db.enqueue_sms(ch, "+14155550100");
  ASSERT_EQ(db.claim(1000, 10, 2000).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_sent(id, "twilio", SendResult::sent("201", "SMsent"), 1001);
  });
  auto sent = [&](const char* provider, const char* pid) {
    return db.write(
        [&](const Transaction& tx) { return tx.deliveries.sent_message(provider, pid); });
  };
  auto ref = sent("twilio", "SMsent");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->outbox_id, id);
  EXPECT_EQ(ref->channel_id, ch);
  EXPECT_EQ(ref->broadcast_id, 0);
  EXPECT_EQ(ref->delivery_state, "");
  EXPECT_FALSE(sent("sendgrid", "SMsent"));
  EXPECT_FALSE(sent("twilio", "SMnone"));
  db.write(
      [&](const Transaction& tx) { tx.deliveries.set_delivery(id, "undelivered", "30003", 1100); });
  EXPECT_EQ(sent("twilio", "SMsent")->delivery_state, "undelivered");
  // A text is no email: the email lookups do not find it.
  EXPECT_FALSE(db.write([&](const Transaction& tx) { return tx.deliveries.email_delivery(id); }));
}

TYPED_TEST(MessagesContract, FindsEmailRowsByIdAndByProviderMessageId) {
  auto& db = this->db();
  const auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  const auto id = db.enqueue_email(ch, "a@example.com");
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  const auto bulk = db.enqueue_email(ch, "a@example.com", bc);
  ASSERT_EQ(db.claim(1000, 100, 2000).size(), 2u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_sent(id, "sendgrid", SendResult::sent("202", "X-abc"), 1001);
  });
  auto by_id = [&](std::int64_t outbox_id) {
    return db.write([&](const Transaction& tx) { return tx.deliveries.email_delivery(outbox_id); });
  };
  auto by_pid = [&](const char* pid) {
    return db.write(
        [&](const Transaction& tx) { return tx.deliveries.email_delivery_by_provider_id(pid); });
  };
  auto row = by_id(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->id, id);
  EXPECT_EQ(row->channel_id, ch);
  EXPECT_EQ(row->broadcast_id, 0);
  EXPECT_TRUE(row->delivery_state.empty());
  EXPECT_EQ(row->delivery_at, 0);
  ASSERT_TRUE(by_pid("X-abc"));
  EXPECT_EQ(by_pid("X-abc")->id, id);
  EXPECT_EQ(by_id(bulk)->broadcast_id, bc);
  EXPECT_FALSE(by_id(9999));
  EXPECT_FALSE(by_pid("nope"));
  db.write(
      [&](const Transaction& tx) { tx.deliveries.set_delivery(id, "bounced", "5.1.1", 1500); });
  row = by_pid("X-abc");
  EXPECT_EQ(row->delivery_state, "bounced");
  EXPECT_EQ(row->delivery_at, 1500);
}

TYPED_TEST(MessagesContract, RemembersEachProviderEventOnceAndForgetsOldOnes) {
  auto& db = this->db();
  auto first = [&](const char* provider, const char* id, std::int64_t at) {
    return db.write([&](const Transaction& tx) {
      return tx.deliveries.first_provider_event(provider, id, at);
    });
  };
  EXPECT_TRUE(first("sendgrid", "ev1", 1'000'000));
  EXPECT_FALSE(first("sendgrid", "ev1", 1'000'001));
  EXPECT_TRUE(first("twilio", "ev1", 1'000'002));               // ids are per provider
  EXPECT_FALSE(first("twilio", "ev1", 1'000'000 + 7 * 86400));  // kept a week
  // A week later the old ids are forgotten as new ones arrive.
  EXPECT_TRUE(first("sendgrid", "ev2", 1'000'000 + 8 * 86400));
  EXPECT_TRUE(first("sendgrid", "ev1", 1'000'000 + 8 * 86400));
}

TYPED_TEST(MessagesContract, SmsConfirmsCountPerKeyInsideTheWindowAndOldOnesAreForgotten) {
  auto& db = this->db();
  auto record = [&](const std::string& client, const std::string& number, std::int64_t at,
                    std::int64_t forget_before = 0) {
    db.write([&](const Transaction& tx) {
      tx.sms_confirms.record_sms_confirm({client, number, number_prefix(number)}, at,
                                         forget_before);
    });
  };
  auto count = [&](SmsLimit scope, const std::string& key, std::int64_t since) {
    return db.write([&](const Transaction& tx) {
      return tx.sms_confirms.count_sms_confirms(scope, key, since);
    });
  };
  record("198.51.100.7", "+16502530001", 100);
  record("198.51.100.7", "+16502530002", 200);
  record("203.0.113.5", "+16502540001", 300);
  EXPECT_EQ(count(SmsLimit::kClient, "198.51.100.7", 0), 2);
  EXPECT_EQ(count(SmsLimit::kClient, "198.51.100.7", 100), 1);  // after `since` only
  EXPECT_EQ(count(SmsLimit::kClient, "203.0.113.5", 0), 1);
  EXPECT_EQ(count(SmsLimit::kClient, "192.0.2.1", 0), 0);
  EXPECT_EQ(count(SmsLimit::kNumber, "+16502530002", 0), 1);
  EXPECT_EQ(count(SmsLimit::kPrefix, "+1650253", 0), 2);
  EXPECT_EQ(count(SmsLimit::kPrefix, "+1650254", 0), 1);
  EXPECT_EQ(count(SmsLimit::kDaily, "", 0), 3);
  EXPECT_EQ(count(SmsLimit::kDaily, "ignored", 250), 1);
  // Written past the longest window: what came before 3600 is forgotten.
  record("198.51.100.7", "+16502530003", 90000, 90000 - 86400);
  EXPECT_EQ(count(SmsLimit::kDaily, "", 0), 1);
  EXPECT_EQ(count(SmsLimit::kNumber, "+16502530003", 0), 1);
  EXPECT_EQ(count(SmsLimit::kNumber, "+16502530001", 0), 0);
}

}  // namespace
}  // namespace sc::contract
