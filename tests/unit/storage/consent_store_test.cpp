#include <gtest/gtest.h>

#include "storage_fixture.h"

namespace sc::storage {
namespace {

using SqliteConsentStoreTest = StorageTest;

TEST_F(SqliteConsentStoreTest, ChannelsRoundTripAndUpdate) {
  auto id = add_channel("Reader@Example.com", ConsentState::kPending);
  writer_->run([&](WriteContext& c) {
    const auto& s = c.tx();
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
  EXPECT_ANY_THROW(add_channel("READER@example.COM"));
}

// Every state change bumps the channel's version (confirm links carry it);
// a confirmation sent is not a state change.
TEST_F(SqliteConsentStoreTest, EveryStateChangeBumpsTheStateVersion) {
  auto id = add_channel("a@example.com", ConsentState::kPending);
  writer_->run([&](WriteContext& c) {
    const auto& s = c.tx();
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

TEST_F(SqliteConsentStoreTest, TopicRequestsWaitOnTheChannelAndAreTakenOnce) {
  auto a = add_channel("a@example.com", ConsentState::kConfirmed);
  auto b = add_channel("b@example.com", ConsentState::kConfirmed);
  writer_->run([&](WriteContext& c) {
    const auto& s = c.tx();
    const auto sub = s.subscribers.channel_by_id(a)->subscriber_id;
    s.topics.add_topics(sub, {"news"});
    EXPECT_EQ(s.topics.topics_of(sub), (std::vector<std::string>{"news"}));
    s.topics.request_topics(a, {"jobs", "events"}, 200);
    s.topics.request_topics(a, {"late"}, 300);
    s.topics.request_topics(b, {"other"}, 200);
    s.topics.request_topics(a, {"jobs"}, 250);  // asked again: the later time counts
    // What is held, sorted, per channel (the topic email names these).
    EXPECT_EQ(s.topics.topic_requests_of(a), (std::vector<std::string>{"events", "jobs", "late"}));
    EXPECT_EQ(s.topics.topic_requests_of(b), (std::vector<std::string>{"other"}));
    EXPECT_TRUE(s.topics.topic_requests_of(b + 100).empty());
    // A link issued at 260 approves what was asked up to then.
    EXPECT_EQ(s.topics.take_topic_requests(a, 260), (std::vector<std::string>{"events", "jobs"}));
    EXPECT_TRUE(s.topics.take_topic_requests(a, 260).empty());  // taken once
    EXPECT_EQ(s.topics.take_topic_requests(a, 300), (std::vector<std::string>{"late"}));
    EXPECT_EQ(s.topics.topics_of(sub),
              (std::vector<std::string>{"news"}));  // taking adds nothing by itself
  });
  EXPECT_EQ(query("SELECT group_concat(topic) FROM topic_requests"), "other");
}

TEST_F(SqliteConsentStoreTest, AFailedJobLeavesNoPartialWrites) {
  EXPECT_ANY_THROW(writer_->run([&](WriteContext& c) {
    Subscriber s;
    s.created_at = 1;
    auto sid = c.tx().subscribers.insert_subscriber(s);
    c.tx().topics.add_topics(sid, {"news"});
    OutboxEntry e;
    e.channel_id = 1;
    e.purpose = "confirm";
    c.tx().messages.enqueue_email(e, sample_email("a@example.com"));
    throw std::runtime_error("validation failed late");
  }));
  EXPECT_EQ(
      query("SELECT (SELECT COUNT(*) FROM subscribers) + (SELECT COUNT(*) FROM subscriber_topics) +"
            " (SELECT COUNT(*) FROM outbox)"),
      "0");
}

}  // namespace
}  // namespace sc::storage
