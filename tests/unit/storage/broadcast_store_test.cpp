// What only the SQLite ledger shows: the indexes its reads use, and the
// metrics reads of the read pool. The ledger's behaviour is in the storage
// contract (tests/contract/broadcast_contract_test.cpp).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "sc/core/broadcast.h"
#include "storage_fixture.h"

namespace sc::storage {
namespace {

class BroadcastStoreTest : public StorageTest {
 protected:
  std::int64_t create(ChannelKind kind, std::vector<std::string> topics = {}) {
    return writer_->run([&](WriteContext& c) {
      Broadcast b;
      b.channel = kind;
      b.subject = "S";
      b.text = "Hello {{first_name}}";
      b.topics = std::move(topics);
      b.created_at = 1000;
      auto id = c.broadcast_tx().drafts.insert(b);
      c.broadcast_tx().drafts.set_status(id, BroadcastStatus::kSending, "", 1000);
      return id;
    });
  }
};

// The count and the waiting pages of held recipients (quiet hours) read the
// partial index of held rows, and need no sort.
TEST_F(BroadcastStoreTest, HeldRecipientsAreReadThroughTheirPartialIndex) {
  // The store names it: INDEXED BY fails to prepare when it cannot be used.
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  for (const char* sql :
       {"EXPLAIN QUERY PLAN SELECT COUNT(*), MIN(next_attempt_at) FROM outbox"
        " INDEXED BY outbox_broadcast_waiting"
        " WHERE broadcast_id = 1 AND broadcast_id <> 0 AND state = 'queued'"
        " AND wait_reason IS NOT NULL AND next_attempt_at > 5",
        "EXPLAIN QUERY PLAN SELECT id FROM outbox INDEXED BY outbox_broadcast_waiting"
        " WHERE broadcast_id = 1 AND broadcast_id <> 0"
        " AND state = 'queued' AND wait_reason IS NOT NULL AND next_attempt_at > 5 AND id > 0"
        " ORDER BY id LIMIT 10"}) {
    SQLite::Statement q(db, sql);
    std::string plan;
    while (q.executeStep()) plan += q.getColumn(3).getString() + " | ";
    EXPECT_NE(plan.find("outbox_broadcast_waiting"), std::string::npos) << sql << "\n" << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
  }
}

TEST_F(BroadcastStoreTest, MetricsReadStatusesAndTheBroadcastsInProgress) {
  auto sending = create(ChannelKind::kEmail);
  auto done_long_ago = create(ChannelKind::kEmail);
  auto done_now = create(ChannelKind::kSms);
  auto draft = writer_->run([&](WriteContext& c) {
    Broadcast b;
    b.text = "t";
    b.created_at = 1;
    return c.broadcast_tx().drafts.insert(b);
  });
  writer_->run([&](WriteContext& c) {
    c.broadcast_tx().drafts.set_status(done_long_ago, BroadcastStatus::kCompleted, "", 1000);
    c.broadcast_tx().drafts.set_status(done_now, BroadcastStatus::kCancelled, "", 9000);
  });
  ReadPool reads(path_, 1);
  auto statuses = reads.broadcast_status_counts();
  std::sort(statuses.begin(), statuses.end());
  EXPECT_EQ(statuses, (std::vector<std::pair<std::string, std::int64_t>>{
                          {"cancelled", 1}, {"completed", 1}, {"draft", 1}, {"sending", 1}}));
  std::vector<std::int64_t> ids;
  for (const auto& b : reads.broadcasts_in_progress(5000, 10)) ids.push_back(b.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{done_now, sending}));  // newest first
  ids.clear();
  for (const auto& b : reads.broadcasts_in_progress(5000, 1)) ids.push_back(b.id);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{done_now}));
  (void)draft;
}

}  // namespace
}  // namespace sc::storage
