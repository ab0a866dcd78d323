// Subscribers, channels, topics and the consent log, as every backend keeps
// them; and a write transaction that throws keeps nothing.
#include <gtest/gtest.h>

#include "contract/backends.h"

namespace sc::contract {
namespace {

template <class B>
class SubscriberContract : public Contract<B> {};
TYPED_TEST_SUITE(SubscriberContract, Backends, BackendNames);

TYPED_TEST(SubscriberContract, ChannelsRoundTripAndUpdate) {
  auto& db = this->db();
  auto id = db.add_channel("Reader@Example.com", ConsentState::kPending);
  db.write([&](const Transaction& s) {
    auto ch = s.subscribers.channel_by_id(id);
    ASSERT_TRUE(ch.has_value());
    EXPECT_EQ(ch->address, "Reader@Example.com");
    EXPECT_EQ(ch->kind, ChannelKind::kEmail);
    EXPECT_EQ(ch->state, ConsentState::kPending);
    EXPECT_EQ(ch->created_at, 100);
    EXPECT_EQ(ch->confirm_sent_at, 0);
    // Addresses match without regard to case; the stored spelling is kept.
    auto found = s.subscribers.find_channel(ChannelKind::kEmail, "reader@example.com");
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->id, id);
    EXPECT_EQ(found->address, "Reader@Example.com");
    EXPECT_FALSE(s.subscribers.find_channel(ChannelKind::kSms, "reader@example.com").has_value());
    EXPECT_FALSE(s.subscribers.channel_by_id(id + 100).has_value());
    s.subscribers.update_channel_state(id, ConsentState::kConfirmed, 150);
    s.subscribers.mark_confirm_sent(id, 140);
    auto after = s.subscribers.channel_by_id(id);
    EXPECT_EQ(after->state, ConsentState::kConfirmed);
    EXPECT_EQ(after->updated_at, 150);
    EXPECT_EQ(after->confirm_sent_at, 140);
    auto sub = s.subscribers.subscriber_by_id(ch->subscriber_id);
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(sub->created_at, 100);
    EXPECT_FALSE(s.subscribers.subscriber_by_id(9999).has_value());
  });
  // The same address in another case is the same channel: a second insert is refused.
  EXPECT_ANY_THROW(db.add_channel("READER@example.COM"));
  // The same address of the other kind is another channel.
  EXPECT_NE(db.add_channel("Reader@Example.com", ConsentState::kPending, ChannelKind::kSms), id);
}

// Every state change bumps the channel's version (confirm links carry it);
// a confirmation sent is not a state change.
TYPED_TEST(SubscriberContract, EveryStateChangeBumpsTheStateVersion) {
  auto& db = this->db();
  auto id = db.add_channel("a@example.com", ConsentState::kPending);
  db.write([&](const Transaction& s) {
    EXPECT_EQ(s.subscribers.channel_by_id(id)->state_version, 0);
    s.subscribers.update_channel_state(id, ConsentState::kConfirmed, 150);
    EXPECT_EQ(s.subscribers.channel_by_id(id)->state_version, 1);
    s.subscribers.mark_confirm_sent(id, 160);
    EXPECT_EQ(s.subscribers.channel_by_id(id)->state_version, 1);
    s.subscribers.update_channel_state(id, ConsentState::kUnsubscribed, 150);  // the same second
    s.subscribers.update_channel_state(id, ConsentState::kPending, 150);
    auto ch = s.subscribers.find_channel(ChannelKind::kEmail, "a@example.com");
    EXPECT_EQ(ch->state_version, 3);
    EXPECT_EQ(ch->updated_at, 150);
  });
}

TYPED_TEST(SubscriberContract, TopicRequestsWaitOnTheChannelAndAreTakenOnce) {
  auto& db = this->db();
  auto a = db.add_channel("a@example.com", ConsentState::kConfirmed);
  auto b = db.add_channel("b@example.com", ConsentState::kConfirmed);
  db.write([&](const Transaction& s) {
    const auto sub = s.subscribers.channel_by_id(a)->subscriber_id;
    s.topics.add_topics(sub, {"news"});
    s.topics.add_topics(sub, {"news"});  // repeats are fine
    EXPECT_EQ(s.topics.topics_of(sub), (std::vector<std::string>{"news"}));
    s.topics.request_topics(a, {"jobs", "events"}, 200);
    s.topics.request_topics(a, {"late"}, 300);
    s.topics.request_topics(b, {"other"}, 200);
    s.topics.request_topics(a, {"jobs"}, 250);  // asked again: the later time counts
    // What is held, sorted, per channel (the topic email names these).
    EXPECT_EQ(s.topics.topic_requests_of(a), (std::vector<std::string>{"events", "jobs", "late"}));
    EXPECT_EQ(s.topics.topic_requests_of(b), (std::vector<std::string>{"other"}));
    EXPECT_TRUE(s.topics.topic_requests_of(b + 100).empty());
    // A link issued at 240 approves what was asked up to then: jobs was asked again at 250.
    EXPECT_EQ(s.topics.take_topic_requests(a, 240), (std::vector<std::string>{"events"}));
    EXPECT_EQ(s.topics.take_topic_requests(a, 260), (std::vector<std::string>{"jobs"}));
    EXPECT_TRUE(s.topics.take_topic_requests(a, 260).empty());  // taken once
    EXPECT_EQ(s.topics.take_topic_requests(a, 300), (std::vector<std::string>{"late"}));
    EXPECT_TRUE(s.topics.topic_requests_of(a).empty());
    EXPECT_EQ(s.topics.topics_of(sub),
              (std::vector<std::string>{"news"}));  // taking adds nothing by itself
  });
  // The other channel's request is untouched, in a later transaction too.
  db.write([&](const Transaction& s) {
    EXPECT_EQ(s.topics.topic_requests_of(b), (std::vector<std::string>{"other"}));
  });
}

// An operator's change: a subscriber's channels (email first), the profile
// and the topics replaced as a whole; nothing for an unknown id.
TYPED_TEST(SubscriberContract, AnOperatorChangesTheProfileAndReplacesTheTopics) {
  auto& db = this->db();
  const auto sms =
      db.add_channel("+16502530001", ConsentState::kConfirmed, ChannelKind::kSms, "Al");
  const auto other = db.add_channel("other@example.com", ConsentState::kConfirmed);
  db.write([&](const Transaction& s) {
    const auto sub = s.subscribers.channel_by_id(sms)->subscriber_id;
    Channel email;
    email.subscriber_id = sub;
    email.address = "al@example.com";
    email.created_at = 100;
    email.updated_at = 100;
    const auto email_id = s.subscribers.insert_channel(email);
    const auto chans = s.subscribers.channels_of(sub);
    ASSERT_EQ(chans.size(), 2u);
    EXPECT_EQ(chans[0].id, email_id);
    EXPECT_EQ(chans[0].kind, ChannelKind::kEmail);
    EXPECT_EQ(chans[1].id, sms);
    EXPECT_EQ(chans[1].state, ConsentState::kConfirmed);
    EXPECT_TRUE(s.subscribers.channels_of(sub + 1000).empty());

    s.subscribers.update_profile(sub, "Alma", "SW1A 1AA");
    EXPECT_EQ(s.subscribers.subscriber_by_id(sub)->first_name, "Alma");
    EXPECT_EQ(s.subscribers.subscriber_by_id(sub)->postal_code, "SW1A 1AA");
    EXPECT_EQ(s.subscribers.subscriber_by_id(sub)->created_at, 100);
    s.subscribers.update_profile(sub + 1000, "Nobody", "");  // unknown: nothing

    const auto other_sub = s.subscribers.channel_by_id(other)->subscriber_id;
    s.topics.add_topics(sub, {"news", "jobs"});
    s.topics.add_topics(other_sub, {"news"});
    s.topics.replace_topics(sub, {"events", "news"});
    EXPECT_EQ(s.topics.topics_of(sub), (std::vector<std::string>{"events", "news"}));
    s.topics.replace_topics(sub, {});
    EXPECT_TRUE(s.topics.topics_of(sub).empty());
    EXPECT_EQ(s.topics.topics_of(other_sub), (std::vector<std::string>{"news"}));
    EXPECT_EQ(s.subscribers.subscriber_by_id(other_sub)->first_name, "");
  });
}

TYPED_TEST(SubscriberContract, AThrowingTransactionKeepsNothing) {
  auto& db = this->db();
  const auto ch = db.add_channel("kept@example.com", ConsentState::kConfirmed);
  std::int64_t sid = 0;
  EXPECT_THROW(db.write([&](const Transaction& tx) {
    Subscriber s;
    s.created_at = 1;
    sid = tx.subscribers.insert_subscriber(s);
    Channel c;
    c.subscriber_id = sid;
    c.address = "gone@example.com";
    tx.subscribers.insert_channel(c);
    tx.subscribers.update_channel_state(ch, ConsentState::kUnsubscribed, 300);
    tx.topics.add_topics(sid, {"news"});
    tx.topics.request_topics(ch, {"jobs"}, 300);
    ConsentEvent e;
    e.subscriber_id = sid;
    e.address = "gone@example.com";
    tx.consent_log.append_consent(e, nullptr);
    OutboxEntry entry;
    entry.channel_id = ch;
    entry.purpose = "confirm";
    tx.messages.enqueue_email(entry, Db::sample_email("kept@example.com"));
    tx.sms_confirms.record_sms_confirm({"198.51.100.7", "+16502530001", "+1650253"}, 100, 0);
    StoredInboundText t;
    t.message_sid = "SMrolled";
    t.keyword = "none";
    tx.inbound_texts.insert_inbound_text(t);
    tx.deliveries.first_provider_event("sendgrid", "ev-rolled", 100);
    tx.audit.append(AuditEntry{0, 100, "ops", "subscriber.lookup", "x", "::1", ""});
    throw std::runtime_error("validation failed late");
  }),
               std::runtime_error);
  db.write([&](const Transaction& tx) {
    EXPECT_FALSE(tx.subscribers.subscriber_by_id(sid));
    EXPECT_FALSE(tx.subscribers.find_channel(ChannelKind::kEmail, "gone@example.com"));
    EXPECT_EQ(tx.subscribers.channel_by_id(ch)->state, ConsentState::kConfirmed);
    EXPECT_EQ(tx.subscribers.channel_by_id(ch)->state_version, 0);
    EXPECT_TRUE(tx.topics.topics_of(sid).empty());
    EXPECT_TRUE(tx.topics.topic_requests_of(ch).empty());
    EXPECT_EQ(tx.sms_confirms.count_sms_confirms(SmsLimit::kDaily, "", 0), 0);
    EXPECT_FALSE(tx.inbound_texts.inbound_text_seen("SMrolled"));
    EXPECT_TRUE(tx.deliveries.first_provider_event("sendgrid", "ev-rolled", 101));
  });
  EXPECT_TRUE(db.claim(5000).empty());
  EXPECT_TRUE(db.backend().admin().audit_page(0, 10).entries.empty());
  auto v = db.backend().reads().subscriber_by_channel(ChannelKind::kEmail, "kept@example.com");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->consent_log.empty());
  // The storage is still usable after the rollback.
  EXPECT_GT(db.add_channel("after@example.com"), ch);
}

TYPED_TEST(SubscriberContract, SubscriberByChannelGathersChannelsTopicsAndTheConsentLog) {
  auto& db = this->db();
  ConsentText text{"email-v2", "wording", std::string(64, 'c')};
  db.backend().register_consent_text(ChannelKind::kEmail, text);
  db.write([&](const Transaction& s) {
    Subscriber sub;
    sub.first_name = "Zo\xc3\xab";
    sub.postal_code = "12345";
    sub.created_at = 50;
    auto sid = s.subscribers.insert_subscriber(sub);
    Channel e;
    e.subscriber_id = sid;
    e.kind = ChannelKind::kEmail;
    e.address = "Zoe@example.com";
    e.state = ConsentState::kConfirmed;
    e.created_at = 50;
    e.updated_at = 60;
    auto eid = s.subscribers.insert_channel(e);
    Channel p = e;
    p.kind = ChannelKind::kSms;
    p.address = "+14155550100";
    p.state = ConsentState::kPending;
    s.subscribers.insert_channel(p);
    s.topics.add_topics(sid, {"news", "events"});
    s.topics.add_topics(sid, {"news"});
    ConsentEvent ev;
    ev.subscriber_id = sid;
    ev.channel_id = eid;
    ev.address = e.address;
    ev.detail = "signup-page";
    ev.context = {"203.0.113.5", "UA/1"};
    ev.at = 50;
    s.consent_log.append_consent(ev, &text);
    ev.action = ConsentAction::kConfirm;
    ev.source = ConsentSource::kLink;
    ev.at = 60;
    s.consent_log.append_consent(ev, nullptr);
  });

  auto& reads = db.backend().reads();
  EXPECT_TRUE(reads.healthy());
  auto v = reads.subscriber_by_channel(ChannelKind::kSms, "+14155550100");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->subscriber.first_name, "Zo\xc3\xab");
  EXPECT_EQ(v->subscriber.postal_code, "12345");
  EXPECT_EQ(v->subscriber.created_at, 50);
  ASSERT_EQ(v->channels.size(), 2u);
  EXPECT_EQ(v->channels[0].kind, ChannelKind::kEmail);
  EXPECT_EQ(v->channels[0].address, "Zoe@example.com");
  EXPECT_EQ(v->channels[0].state, ConsentState::kConfirmed);
  EXPECT_EQ(v->channels[0].updated_at, 60);
  EXPECT_EQ(v->channels[1].kind, ChannelKind::kSms);
  EXPECT_EQ(v->channels[1].state, ConsentState::kPending);
  EXPECT_EQ(v->topics, (std::vector<std::string>{"events", "news"}));
  ASSERT_EQ(v->consent_log.size(), 2u);
  EXPECT_EQ(v->consent_log[0].action, "grant");
  EXPECT_EQ(v->consent_log[0].source, "form");
  EXPECT_EQ(v->consent_log[0].detail, "signup-page");
  EXPECT_EQ(v->consent_log[0].ip, "203.0.113.5");
  EXPECT_EQ(v->consent_log[0].user_agent, "UA/1");
  EXPECT_EQ(v->consent_log[0].consent_text_version, "email-v2");
  EXPECT_EQ(v->consent_log[1].action, "confirm");
  EXPECT_EQ(v->consent_log[1].source, "link");
  EXPECT_EQ(v->consent_log[1].consent_text_version, "");

  // Email addresses are looked up without regard to case.
  auto by_email = reads.subscriber_by_channel(ChannelKind::kEmail, "zoe@EXAMPLE.com");
  ASSERT_TRUE(by_email.has_value());
  EXPECT_EQ(by_email->subscriber.id, v->subscriber.id);
  EXPECT_FALSE(reads.subscriber_by_channel(ChannelKind::kEmail, "nobody@example.com").has_value());
  EXPECT_FALSE(
      reads.subscriber_by_channel(ChannelKind::kEmail, "+14155550100").has_value());  // wrong kind
}

// The consent log is the proof of every grant and withdrawal: rows are
// appended, never changed or removed (SQLite: triggers; memory: the fake
// refuses), and a text is logged only once it is registered.
TYPED_TEST(SubscriberContract, TheConsentLogIsAppendOnly) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  const auto sid = db.subscriber_of(ch);
  ConsentText text{"email-v1", "You agree ...", std::string(64, 'a')};
  auto append = [&](const ConsentText* t, std::int64_t at) {
    db.write([&](const Transaction& tx) {
      ConsentEvent e;
      e.subscriber_id = sid;
      e.channel_id = ch;
      e.address = "a@example.com";
      e.context = {"203.0.113.1", "UA"};
      e.at = at;
      if (t) {
        e.consent_text_version = t->version;
        e.consent_text_sha256 = t->sha256_hex;
      }
      tx.consent_log.append_consent(e, t);
    });
  };
  EXPECT_ANY_THROW(append(&text, 400));  // not registered
  db.backend().register_consent_text(ChannelKind::kEmail, text);
  db.backend().register_consent_text(ChannelKind::kEmail, text);  // idempotent
  append(&text, 500);
  append(nullptr, 600);
  for (auto tamper : {&Backend::update_consent_log, &Backend::delete_consent_log}) {
    try {
      if (!(db.backend().*tamper)()) continue;  // nothing below the ports to try it with
      ADD_FAILURE() << "a consent-log row was changed or removed";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  auto v = db.backend().reads().subscriber_by_channel(ChannelKind::kEmail, "a@example.com");
  ASSERT_TRUE(v);
  ASSERT_EQ(v->consent_log.size(), 2u);
  EXPECT_EQ(v->consent_log[0].at, 500);
  EXPECT_EQ(v->consent_log[0].ip, "203.0.113.1");
  EXPECT_EQ(v->consent_log[0].consent_text_version, "email-v1");
  EXPECT_EQ(v->consent_log[1].at, 600);
  EXPECT_EQ(v->consent_log[1].consent_text_version, "");
  // Still writable after the refused changes.
  append(nullptr, 700);
  EXPECT_EQ(db.backend()
                .reads()
                .subscriber_by_channel(ChannelKind::kEmail, "a@example.com")
                ->consent_log.size(),
            3u);
}

}  // namespace
}  // namespace sc::contract
