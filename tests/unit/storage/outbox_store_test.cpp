// What only the SQLite outbox shows: the payload stored as JSON and decoded
// off the writer, the lease as stored, the due index the claim reads, and
// the queue time SQLite stamps. The outbox's behaviour is in the storage
// contract (tests/contract/outbox_contract_test.cpp).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "storage_fixture.h"
#include "support/db_inspect.h"

namespace sc::storage {
namespace {

class OutboxStoreTest : public StorageTest {
 protected:
  std::vector<ClaimedMessage> claim(std::int64_t now, int limit = 100,
                                    std::int64_t lease_until = 0) {
    if (lease_until == 0) lease_until = now + 300;
    return writer_->run(
        [&](WriteContext& c) { return claim_due(c.outbox(), now, limit, lease_until); });
  }
};

// The claim returns the payload as stored; decode_payload parses it on the
// dispatcher's thread, never on the writer's.
TEST_F(OutboxStoreTest, ClaimLeavesThePayloadForTheDispatcherToDecode) {
  auto ch = add_channel("a@example.com");
  auto sms_ch = add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  auto e = enqueue_email(ch, "a@example.com");
  enqueue_sms(sms_ch, "+14155550100");
  auto got = claim(1000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].payload.empty());
  EXPECT_FALSE(got[1].payload.empty());
  EXPECT_TRUE(got[0].email.to.address.empty());
  decode_payload(got[0]);
  decode_payload(got[1]);
  EXPECT_TRUE(got[0].payload.empty());
  EXPECT_EQ(got[0].email.to.address, "a@example.com");
  EXPECT_EQ(got[0].email.outbox_id, e);
  EXPECT_EQ(got[1].sms.to, "+14155550100");
  // A transactional lease is stored as it is (a bulk one is negative until handed over).
  EXPECT_EQ(query("SELECT lease_until FROM outbox WHERE id = " + std::to_string(e)), "1300");
  ClaimedMessage corrupt;
  corrupt.id = 99;
  corrupt.payload = "{not json";
  EXPECT_THROW(decode_payload(corrupt), StorageError);
}

TEST_F(OutboxStoreTest, TheClaimReadsTheDueIndexNeverTheWholeTable) {
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  enqueue_email(ch, "a@example.com", 9);
  auto confirm = enqueue_email(ch, "a@example.com");
  EXPECT_EQ(query("SELECT group_concat(lane) FROM (SELECT lane FROM outbox ORDER BY id)"), "1,0");
  EXPECT_EQ(claim(1000, 1)[0].id, confirm);
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 'queued' AND lane = "
                      "1 AND kind = 'email'"
                      " AND next_attempt_at <= 5 ORDER BY next_attempt_at, id LIMIT 10");
  std::string plan;
  while (q.executeStep()) plan += q.getColumn(3).getString() + " | ";
  EXPECT_NE(plan.find("USING INDEX outbox_due"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// A message never tried waits since it was queued (created_at: the entry's
// queued_at, the service's clock, never the database's).
TEST_F(OutboxStoreTest, DepthCountsTheWaitFromTheQueueTimeAndCountsByState) {
  auto ch = add_channel("gone@example.com", ConsentState::kConfirmed);
  for (int i = 0; i < 2; ++i) enqueue_email(ch, "a@example.com");
  ReadPool reads(path_, 1);
  const auto created = std::stoll(query("SELECT MIN(created_at) FROM outbox"));
  EXPECT_EQ(created, kQueuedAt);
  EXPECT_EQ(reads.outbox_depth(1000).oldest_due_since, created);
  ASSERT_EQ(claim(1000, 1).size(), 1u);
  set_state(ch, ConsentState::kUnsubscribed);
  EXPECT_TRUE(claim(1000).empty());  // skipped
  auto counts = db_inspect::outbox_counts(path_);
  EXPECT_EQ(counts.skipped, 1);
  EXPECT_EQ(counts.sending, 1);
  EXPECT_EQ(counts.queued, 0);
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_retry(1, SendResult::retryable("503", "busy"), 5000);
  });
  EXPECT_EQ(reads.outbox_depth(4999).oldest_due_since, 0);
  EXPECT_EQ(reads.outbox_depth(5000).oldest_due_since, std::max<std::int64_t>(created, 5000));
}

}  // namespace
}  // namespace sc::storage
