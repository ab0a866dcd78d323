#include <gtest/gtest.h>

#include <thread>

#include "storage_fixture.h"
#include "support/temp_dir.h"

namespace sc::storage {
namespace {

using ReadPoolTest = StorageTest;

TEST_F(ReadPoolTest, SubscriberByChannelGathersChannelsTopicsAndTheConsentLog) {
  ConsentText text{"email-v2", "wording", std::string(64, 'c')};
  register_consent_text(path_, ChannelKind::kEmail, text, 1);
  writer_->run([&](WriteContext& c) {
    const auto& s = c.tx();
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
    s.topics.add_topics(sid, {"news"});  // repeats are fine
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

  ReadPool reads(path_, 2);
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

TEST_F(ReadPoolTest, CountsAndHealth) {
  ReadPool reads(path_, 1);
  EXPECT_TRUE(reads.healthy());
  EXPECT_EQ(db_inspect::outbox_counts(path_).queued, 0);
  auto ch = add_channel("a@example.com");
  enqueue_email(ch, "a@example.com");
  enqueue_email(ch, "a@example.com");
  const auto c = db_inspect::outbox_counts(path_);
  EXPECT_EQ(c.queued, 2);
  EXPECT_EQ(c.sending + c.sent + c.failed + c.skipped, 0);
}

TEST(ReadPoolHealth, AnUnmigratedDatabaseIsNotHealthy) {
  testing::TempDir dir;
  { WriteQueue w(dir.str("empty.db")); }  // creates the file, no schema
  ReadPool reads(dir.str("empty.db"), 1);
  EXPECT_FALSE(reads.healthy());
}

TEST_F(ReadPoolTest, ConcurrentReadersSeeCommittedWrites) {
  ReadPool reads(path_, 2);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!reads.healthy()) ++bad;
        try {
          reads.subscriber_by_channel(ChannelKind::kEmail,
                                      "r0@example.com");  // either answer, but no error
        } catch (...) {
          ++bad;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) add_channel("r" + std::to_string(i) + "@example.com");
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(
        reads.subscriber_by_channel(ChannelKind::kEmail, "r" + std::to_string(i) + "@example.com")
            .has_value())
        << i;
  }
}

}  // namespace
}  // namespace sc::storage
