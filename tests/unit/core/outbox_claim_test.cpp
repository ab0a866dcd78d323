// The claim policy (claim_due, src/core/outbox.cpp) over the in-memory
// outbox's primitives: the same rules run over SQLite (outbox_store_test).
#include <gtest/gtest.h>

#include <vector>

#include "sc/core/outbox.h"
#include "support/memory_outbox.h"

namespace sc {
namespace {

class ClaimTest : public ::testing::Test {
 protected:
  std::int64_t email(std::int64_t due, std::int64_t broadcast_id = 0, std::int64_t channel = 1) {
    OutboundEmail m;
    m.to = {"r@example.org", ""};
    return outbox_.add_email(channel, m, broadcast_id, due);
  }
  std::int64_t sms(std::int64_t due, std::int64_t broadcast_id = 0, std::int64_t channel = 2) {
    OutboundSms m;
    m.to = "+14155550100";
    return outbox_.add_sms(channel, m, due, broadcast_id);
  }
  std::vector<std::int64_t> claim(ClaimLimits limits, std::int64_t now = 1000) {
    std::vector<std::int64_t> ids;
    outbox_.run([&](const OutboxTransaction& c) {
      for (const auto& m : claim_due(c.outbox, now, limits, now + 300)) ids.push_back(m.id);
    });
    return ids;
  }
  unit::MemoryOutbox outbox_;
};

TEST_F(ClaimTest, EveryDueTransactionalMessageGoesAheadOfAnyBulkOneEachOldestDueFirst) {
  const auto bulk_old = email(10, 7);
  const auto tx_late = email(500);
  const auto tx_early = email(20);
  const auto bulk_new = email(30, 7);
  const auto not_due = email(2000);
  EXPECT_EQ(claim({10, 10, 10}), (std::vector{tx_early, tx_late, bulk_old, bulk_new}));
  EXPECT_EQ(outbox_.row(not_due).state, "queued");
  // Transactional messages are handed over at once; bulk ones only claimed
  // until the dispatcher marks them (mark_handed_over).
  EXPECT_EQ(outbox_.row(tx_early).lease, LeaseState::kHandedOver);
  EXPECT_EQ(outbox_.row(bulk_old).lease, LeaseState::kClaimed);
  EXPECT_EQ(outbox_.row(bulk_old).attempts, 1);
}

TEST_F(ClaimTest, ABacklogOfBulkWaitsWhileTransactionalFillsTheLimit) {
  for (int i = 0; i < 5; ++i) email(0, 7);
  const auto a = email(900), b = email(901);
  EXPECT_EQ(claim({2, 2, 2}), (std::vector{a, b}));
  EXPECT_EQ(outbox_.count("queued"), 5u);
}

TEST_F(ClaimTest, EachKindFirstGetsHalfOfWhatIsLeftThenEitherFills) {
  for (int i = 0; i < 10; ++i) {
    email(i);
    sms(i);
  }
  auto ids = claim({6, 100, 100});
  int emails = 0;
  for (auto id : ids) emails += outbox_.row(id).kind == OutboxKind::kEmail ? 1 : 0;
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(emails, 3);  // a backlog of emails never holds the texts
}

TEST_F(ClaimTest, AKindWithLittleDueLeavesItsShareToTheOther) {
  const auto e = email(0);
  for (int i = 0; i < 10; ++i) sms(i);
  auto ids = claim({6, 100, 100});
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids[0], e);
}

TEST_F(ClaimTest, AKindItsProviderCannotTakeIsLeftQueued) {
  for (int i = 0; i < 4; ++i) {
    email(i);
    sms(i);
  }
  auto ids = claim({8, 0, 8});
  ASSERT_EQ(ids.size(), 4u);
  for (auto id : ids) EXPECT_EQ(outbox_.row(id).kind, OutboxKind::kSms);
  EXPECT_EQ(claim({8, 2, 0}).size(), 2u);
}

TEST_F(ClaimTest, MessagesToChannelsThatLeftAreSkippedAndCountAgainstTheTotal) {
  outbox_.set_channel_state(5, ConsentState::kUnsubscribed);
  outbox_.set_channel_state(6, ConsentState::kPending);
  const auto left = email(0, 0, 5);
  const auto pending_tx = email(1, 0, 6);
  const auto later = email(2);
  EXPECT_EQ(claim({2, 2, 2}), (std::vector{pending_tx}));  // the skipped one used a slot
  EXPECT_EQ(outbox_.row(left).state, "skipped");
  EXPECT_EQ(outbox_.row(left).attempts, 0);  // never attempted
  EXPECT_EQ(outbox_.row(left).last_error, "recipient no longer consents");
  EXPECT_EQ(outbox_.row(later).state, "queued");
}

TEST_F(ClaimTest, BroadcastsGoOnlyToConfirmedChannels) {
  outbox_.set_channel_state(5, ConsentState::kPending);
  outbox_.set_channel_state(6, ConsentState::kUndeliverable);
  outbox_.set_channel_state(8, ConsentState::kConfirmed);
  const auto pending = email(0, 7, 5);
  const auto bounced = sms(0, 7, 6);
  const auto confirmed = email(0, 7, 8);
  EXPECT_EQ(claim({10, 10, 10}), (std::vector{confirmed}));
  EXPECT_EQ(outbox_.row(pending).state, "skipped");
  EXPECT_EQ(outbox_.row(bounced).state, "skipped");
}

TEST(MaySendTest, ConsentAtSendTime) {
  LeasedMessage m;
  m.channel_state = ConsentState::kPending;
  EXPECT_TRUE(may_send(m));  // a confirmation goes to a pending channel
  m.channel_state = std::nullopt;
  EXPECT_TRUE(may_send(m));
  m.message.broadcast_id = 3;
  EXPECT_FALSE(may_send(m));  // a broadcast needs a confirmed channel
  m.channel_state = ConsentState::kConfirmed;
  EXPECT_TRUE(may_send(m));
  m.channel_state = ConsentState::kUnsubscribed;
  m.message.broadcast_id = 0;
  EXPECT_FALSE(may_send(m));
}

// A store may lease in any order (SQLite's RETURNING has none): the policy
// sends the oldest due first.
class ShuffledStore final : public OutboxStore {
 public:
  std::vector<LeasedMessage> lease_due(OutboxLane lane, OutboxKind kind, int, std::int64_t,
                                       std::int64_t, LeaseState) override {
    if (lane != OutboxLane::kTransactional || kind != OutboxKind::kEmail || leased_) return {};
    leased_ = true;
    std::vector<LeasedMessage> out;
    for (auto [id, due] : {std::pair<std::int64_t, std::int64_t>{3, 50}, {1, 70}, {2, 50}}) {
      LeasedMessage m;
      m.message.id = id;
      m.due = due;
      m.channel_state = ConsentState::kConfirmed;
      out.push_back(m);
    }
    return out;
  }
  void skip(const std::vector<std::int64_t>&, std::int64_t) override {}
  bool finish(std::int64_t, Finish, const std::string&, const SendResult&, std::int64_t) override {
    return true;
  }
  bool mark_retry(std::int64_t, const SendResult&, std::int64_t) override { return true; }
  std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                             std::int64_t) override {
    return ids;
  }
  bool requeue(std::int64_t, std::int64_t, const std::string&) override { return true; }
  void pause_broadcast(std::int64_t, const std::string&, std::int64_t) override {}
  int release_expired(std::int64_t) override { return 0; }
  int release_own(std::int64_t) override { return 0; }

 private:
  bool leased_ = false;
};

TEST(ClaimOrderTest, OldestDueFirstWhateverOrderTheStoreLeasesIn) {
  ShuffledStore store;
  std::vector<std::int64_t> ids;
  for (const auto& m : claim_due(store, 1000, 10, 1300)) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{2, 3, 1}));
}

}  // namespace
}  // namespace sc
