// The broadcast ledger on real SQLite: the set-based snapshot in chunks, who
// is in it and who is not, exactly once per channel, unknown outcomes, counts.
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

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
  // Snapshots in chunks of `chunk` until done; returns the rows added.
  int snapshot(std::int64_t id, int chunk) {
    int added = 0;
    for (int round = 0; round < 1000; ++round) {
      bool done = false;
      writer_->run([&](WriteContext& c) {
        auto b = c.broadcast_tx().drafts.find(id);
        if (b->snapshot_done) {
          done = true;
          return;
        }
        added += c.broadcast_tx().ledger.snapshot_chunk(*b, chunk, 1000);
      });
      if (done) return added;
    }
    ADD_FAILURE() << "the snapshot never finished";
    return added;
  }
  std::vector<ClaimedMessage> claim(std::int64_t now) {
    return writer_->run(
        [&](WriteContext& c) { return claim_due(c.outbox(), now, 1000, now + 300); });
  }
};

TEST_F(BroadcastStoreTest, SnapshotTakesEveryConfirmedChannelOfItsKindOnceInChunks) {
  std::set<std::int64_t> expected;
  for (int i = 0; i < 7; ++i)
    expected.insert(
        add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed));
  add_channel("pending@example.org", ConsentState::kPending);
  add_channel("gone@example.org", ConsentState::kUnsubscribed);
  add_channel("bounced@example.org", ConsentState::kUndeliverable);
  add_channel("+12025550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto id = create(ChannelKind::kEmail);
  EXPECT_EQ(snapshot(id, 3), 7);  // chunks of 3, 3, 1
  // A second pass from the start adds nobody: a channel is in a ledger once.
  writer_->run([&](WriteContext& c) {
    auto b = c.broadcast_tx().drafts.find(id);
    b->snapshot_cursor = 0;
    EXPECT_EQ(c.broadcast_tx().ledger.snapshot_chunk(*b, 100, 1000), 0);
  });
  auto got = claim(1000);
  std::set<std::int64_t> channels;
  for (auto& m : got) {
    EXPECT_EQ(m.broadcast_id, id);
    EXPECT_EQ(m.lane, OutboxLane::kBulk);
    channels.insert(m.channel_id);
    decode_payload(m);
    EXPECT_FALSE(m.email.to.address.empty());
  }
  EXPECT_EQ(channels, expected);
  ReadPool reads(path_, 1);
  auto counts = reads.broadcast_counts(id, 1000);
  EXPECT_EQ(counts.total, 7);
  EXPECT_EQ(counts.sending, 7);
}

TEST_F(BroadcastStoreTest, TopicsLimitTheAudience) {
  auto a = add_channel("a@example.org", ConsentState::kConfirmed);
  auto b = add_channel("b@example.org", ConsentState::kConfirmed);
  add_channel("c@example.org", ConsentState::kConfirmed);
  writer_->run([&](WriteContext& c) {
    c.tx().topics.add_topics(c.tx().subscribers.channel_by_id(a)->subscriber_id, {"events"});
    c.tx().topics.add_topics(c.tx().subscribers.channel_by_id(b)->subscriber_id,
                             {"jobs", "events"});
  });
  auto id = create(ChannelKind::kEmail, {"events"});
  EXPECT_EQ(snapshot(id, 1), 2);
  writer_->run([&](WriteContext& c) {
    EXPECT_TRUE(c.broadcast_tx().drafts.unknown_topics({"events", "jobs"}).empty());
    EXPECT_EQ(c.broadcast_tx().drafts.unknown_topics({"evnets"}),
              std::vector<std::string>{"evnets"});
  });
}

TEST_F(BroadcastStoreTest, LeasedBroadcastMessagesBecomeUnknownAndAreResentOnlyWhenAsked) {
  for (int i = 0; i < 3; ++i)
    add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
  auto id = create(ChannelKind::kEmail);
  snapshot(id, 100);
  auto leased = claim(1000);
  ASSERT_EQ(leased.size(), 3u);
  std::vector<std::int64_t> ids;
  for (const auto& m : leased) ids.push_back(m.id);
  EXPECT_EQ(
      writer_->run([&](WriteContext& c) { return c.outbox().mark_handed_over(ids, 1300); }).size(),
      3u);
  // The process died with them handed over: they may have gone, so never again on their own.
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_all(2000); }), 3);
  EXPECT_TRUE(claim(2000).empty());
  ReadPool reads(path_, 1);
  EXPECT_EQ(reads.broadcast_counts(id, 1000).unknown, 3);
  EXPECT_EQ(reads.broadcast_recipients(id, "unknown", 10, 0, 1000).size(), 3u);
  // The operator's explicit choice puts them back.
  EXPECT_EQ(writer_->run([&](WriteContext& c) {
    return c.broadcast_tx().ledger.requeue(id, "unknown", 3000);
  }),
            3);
  EXPECT_EQ(claim(3000).size(), 3u);
}

// The dispatcher claims the next batch while the previous one is with the
// provider: a crash then must not turn the claimed batch, which never left,
// into unknowns.
TEST_F(BroadcastStoreTest, ClaimedButNeverHandedOverIsQueuedAgainAfterACrash) {
  for (int i = 0; i < 4; ++i)
    add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
  auto id = create(ChannelKind::kEmail);
  snapshot(id, 100);
  auto leased = claim(1000);
  ASSERT_EQ(leased.size(), 4u);
  // Two go to the provider; the other two wait for the batch before them.
  auto marked = writer_->run([&](WriteContext& c) {
    return c.outbox().mark_handed_over({leased[0].id, leased[1].id}, 1300);
  });
  EXPECT_EQ(marked, (std::vector<std::int64_t>{leased[0].id, leased[1].id}));
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_all(2000); }), 4);
  ReadPool reads(path_, 1);
  EXPECT_EQ(reads.broadcast_counts(id, 1000).unknown, 2);
  auto again = claim(2000);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].id, leased[2].id);
  EXPECT_EQ(again[1].id, leased[3].id);
  EXPECT_EQ(again[0].attempts, 1);  // the first claim was no attempt

  // A claimed row whose lease ran out before it was handed over is queued
  // again; a late hand-over then marks nothing, so its batch does not send it.
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_expired(2301); }), 2);
  EXPECT_TRUE(writer_
                  ->run([&](WriteContext& c) {
                    return c.outbox().mark_handed_over({leased[2].id, leased[3].id}, 2600);
                  })
                  .empty());
  auto third = claim(2302);
  ASSERT_EQ(third.size(), 2u);
  // Handed over, a lease that runs out means unknown (it may have gone).
  writer_->run([&](WriteContext& c) {
    EXPECT_EQ(c.outbox().mark_handed_over({third[0].id}, 2400).size(), 1u);
  });
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_expired(2401); }), 1);
  EXPECT_EQ(reads.broadcast_counts(id, 1000).unknown, 3);
  EXPECT_EQ(reads.broadcast_counts(id, 1000).queued + reads.broadcast_counts(id, 1000).sending, 1);
}

// Issue 14 point 5: a pause or cancel commits through the same writer as the
// hand-over marks, so once it has, nothing more of the broadcast is marked
// (hence sent); its claimed rows go back to the queue, the attempt not
// counted, and are then held (paused) or skipped (cancelled).
TEST_F(BroadcastStoreTest, NothingOfABroadcastPausedOrCancelledSinceTheClaimIsHandedOver) {
  for (int i = 0; i < 4; ++i)
    add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
  auto id = create(ChannelKind::kEmail);
  snapshot(id, 100);
  auto leased = claim(1000);
  ASSERT_EQ(leased.size(), 4u);
  EXPECT_EQ(
      writer_
          ->run([&](WriteContext& c) { return c.outbox().mark_handed_over({leased[0].id}, 1300); })
          .size(),
      1u);
  writer_->run([&](WriteContext& c) {
    c.broadcast_tx().drafts.set_status(id, BroadcastStatus::kPaused, "paused by ops", 1001);
  });
  EXPECT_TRUE(writer_
                  ->run([&](WriteContext& c) {
                    return c.outbox().mark_handed_over({leased[1].id, leased[2].id}, 1300);
                  })
                  .empty());
  ReadPool reads(path_, 1);
  auto counts = reads.broadcast_counts(id, 1000);
  EXPECT_EQ(counts.queued, 2);   // handed back, never sent
  EXPECT_EQ(counts.sending, 2);  // the one with the provider, and one not yet asked for
  for (const auto& r : reads.broadcast_recipients(id, "queued", 10, 0, 1000))
    EXPECT_EQ(r.attempts, 0);
  EXPECT_TRUE(claim(1002).empty());  // paused: nothing is claimed
  // Cancelled: the same for the last one.
  writer_->run([&](WriteContext& c) {
    c.broadcast_tx().drafts.set_status(id, BroadcastStatus::kCancelled, "cancelled by ops", 1003);
  });
  EXPECT_TRUE(
      writer_
          ->run([&](WriteContext& c) { return c.outbox().mark_handed_over({leased[3].id}, 1300); })
          .empty());
  EXPECT_EQ(reads.broadcast_counts(id, 1000).queued, 3);
}

TEST_F(BroadcastStoreTest, APausedBroadcastIsNotClaimedAndACancelledOneIsSkipped) {
  for (int i = 0; i < 4; ++i)
    add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
  auto id = create(ChannelKind::kEmail);
  snapshot(id, 100);
  writer_->run([&](WriteContext& c) {
    c.outbox().pause_broadcast(id, "50 errors in a row", 1000);
    EXPECT_EQ(c.broadcast_tx().drafts.find(id)->status, BroadcastStatus::kPaused);
    EXPECT_EQ(c.broadcast_tx().drafts.find(id)->pause_reason, "50 errors in a row");
  });
  EXPECT_TRUE(claim(1000).empty());
  writer_->run([&](WriteContext& c) {
    c.broadcast_tx().drafts.set_status(id, BroadcastStatus::kCancelled, "", 1000);
    EXPECT_EQ(c.broadcast_tx().drafts.active().size(), 1u);  // queued rows to clear
    EXPECT_EQ(c.broadcast_tx().ledger.skip_queued(id, 3, 1000), 3);
    EXPECT_EQ(c.broadcast_tx().ledger.skip_queued(id, 3, 1000), 1);
    EXPECT_TRUE(c.broadcast_tx().drafts.active().empty());
    EXPECT_FALSE(c.broadcast_tx().ledger.has_unfinished(id));
  });
  ReadPool reads(path_, 1);
  EXPECT_EQ(reads.broadcast_counts(id, 1000).skipped, 4);
}

TEST_F(BroadcastStoreTest, AnIdempotencyKeyIsFoundOnlyUnderTheAdminKeyThatUsedIt) {
  writer_->run([&](WriteContext& c) {
    Broadcast b;
    b.text = "t";
    b.subject = "s";
    b.idempotency_key = "key-1";
    b.idempotency_body_digest = "d1";
    b.created_by = "newsroom";
    b.created_at = 1;
    auto id = c.broadcast_tx().drafts.insert(b);
    ASSERT_TRUE(c.broadcast_tx().drafts.find_by_idempotency_key("newsroom", "key-1"));
    EXPECT_EQ(c.broadcast_tx().drafts.find_by_idempotency_key("newsroom", "key-1")->id, id);
    EXPECT_EQ(c.broadcast_tx()
                  .drafts.find_by_idempotency_key("newsroom", "key-1")
                  ->idempotency_body_digest,
              "d1");
    EXPECT_FALSE(c.broadcast_tx().drafts.find_by_idempotency_key("newsroom", "key-2"));
    EXPECT_FALSE(c.broadcast_tx().drafts.find_by_idempotency_key("other-key", "key-1"));
    // The same text under another admin key is another request.
    b.created_by = "other-key";
    auto other = c.broadcast_tx().drafts.insert(b);
    EXPECT_NE(other, id);
    EXPECT_EQ(c.broadcast_tx().drafts.find_by_idempotency_key("other-key", "key-1")->id, other);
    // Under the same admin key it is refused by the unique index.
    b.created_by = "newsroom";
    EXPECT_ANY_THROW(c.broadcast_tx().drafts.insert(b));
  });
}

TEST_F(BroadcastStoreTest, HasAudienceIsTheSnapshotsOwnCondition) {
  const auto a = add_channel("a@example.org", ConsentState::kConfirmed);
  add_channel("pending@example.org", ConsentState::kPending);
  add_channel("+12025550100", ConsentState::kUnsubscribed, ChannelKind::kSms);
  writer_->run([&](WriteContext& c) {
    c.tx().topics.add_topics(c.tx().subscribers.channel_by_id(a)->subscriber_id, {"events"});
  });
  writer_->run([&](WriteContext& c) {
    Broadcast b;
    b.channel = ChannelKind::kEmail;
    EXPECT_TRUE(c.broadcast_tx().ledger.has_audience(b));
    b.topics = {"jobs", "events"};
    EXPECT_TRUE(c.broadcast_tx().ledger.has_audience(b));
    b.topics = {"jobs"};
    EXPECT_FALSE(c.broadcast_tx().ledger.has_audience(b));
    b.topics = {};
    b.channel = ChannelKind::kSms;  // only an unsubscribed number
    EXPECT_FALSE(c.broadcast_tx().ledger.has_audience(b));
  });
}

// Recipient pages merge one index range per state, so they must still come
// in id order, filtered, and resume after the last id of the page before.
TEST_F(BroadcastStoreTest, RecipientPagesAreInIdOrderAcrossStates) {
  for (int i = 0; i < 6; ++i)
    add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
  auto id = create(ChannelKind::kEmail);
  auto other = create(ChannelKind::kEmail);
  snapshot(id, 100);
  auto got = claim(1000);
  ASSERT_EQ(got.size(), 6u);
  std::vector<std::int64_t> ids;
  for (const auto& m : got) ids.push_back(m.id);
  std::sort(ids.begin(), ids.end());
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_sent(ids[0], "file", SendResult::sent("202", "m0"), 1001);
    c.outbox().mark_failed(ids[1], "file", SendResult::permanent("550", "no such user"), 1001);
    c.outbox().mark_unknown(ids[2], "file", SendResult::retryable("timeout", "no answer"), 1001);
    c.outbox().hand_back(ids[3], 2000);
    c.outbox().mark_sent(ids[5], "file", SendResult::sent("202", "m5"), 1001);
  });
  ReadPool reads(path_, 1);
  std::vector<std::int64_t> seen;
  std::vector<std::string> states;
  for (std::int64_t after = 0;;) {
    auto page = reads.broadcast_recipients(id, "", 4, after, 1000);
    for (const auto& r : page) {
      seen.push_back(r.outbox_id);
      states.push_back(r.state);
    }
    if (page.size() < 4) break;
    after = page.back().outbox_id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(states,
            (std::vector<std::string>{"sent", "failed", "unknown", "queued", "sending", "sent"}));
  auto sent = reads.broadcast_recipients(id, "sent", 1, 0, 1000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].outbox_id, ids[0]);
  EXPECT_EQ(sent[0].provider_message_id, "m0");
  sent = reads.broadcast_recipients(id, "sent", 10, ids[0], 1000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].outbox_id, ids[5]);
  auto failed = reads.broadcast_recipients(id, "failed", 10, 0, 1000);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code, "550");
  EXPECT_EQ(failed[0].error, "no such user");
  EXPECT_TRUE(reads.broadcast_recipients(id, "bogus", 10, 0, 1000).empty());
  EXPECT_TRUE(reads.broadcast_recipients(other, "", 10, 0, 1000).empty());
}

// Quiet hours: a text held until its recipient's window opens reads as
// waiting (counts, pages, filters) until then, and as queued once it is due;
// a plain hand-back (a rate limit) never reads as waiting, and a claim
// forgets why a row waited.
TEST_F(BroadcastStoreTest, TextsHeldByQuietHoursReadAsWaitingUntilTheyAreDue) {
  for (int i = 0; i < 5; ++i)
    add_channel("+1212555010" + std::to_string(i), ConsentState::kConfirmed, ChannelKind::kSms);
  auto id = create(ChannelKind::kSms);
  snapshot(id, 100);
  auto got = claim(1000);
  ASSERT_EQ(got.size(), 5u);
  std::vector<std::int64_t> ids;
  for (const auto& m : got) ids.push_back(m.id);
  std::sort(ids.begin(), ids.end());
  writer_->run([&](WriteContext& c) {
    c.outbox().hold(ids[0], 5000, kWaitQuietHours);
    c.outbox().hold(ids[1], 4000, kWaitQuietHours);
    c.outbox().hand_back(ids[2], 1500);
    c.outbox().mark_sent(ids[3], "log", SendResult::sent("201", "SM3"), 1001);
  });
  EXPECT_EQ(db_inspect::query_value(
                path_, "SELECT attempts FROM outbox WHERE id = " + std::to_string(ids[0])),
            "0");  // waiting is not an attempt
  ReadPool reads(path_, 1);
  auto c = reads.broadcast_counts(id, 1000);
  EXPECT_EQ(c.total, 5);
  EXPECT_EQ(c.queued, 3);  // waiting is part of queued
  EXPECT_EQ(c.sending, 1);
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.waiting, 2);
  EXPECT_EQ(c.waiting_until, 4000);  // the earliest
  auto states = [&](const std::string& filter, std::int64_t now) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    for (const auto& r : reads.broadcast_recipients(id, filter, 100, 0, now))
      out.emplace_back(r.outbox_id, r.state + "@" + std::to_string(r.waiting_until));
    return out;
  };
  using Rows = std::vector<std::pair<std::int64_t, std::string>>;
  EXPECT_EQ(states("", 1000), (Rows{{ids[0], "waiting@5000"},
                                    {ids[1], "waiting@4000"},
                                    {ids[2], "queued@0"},
                                    {ids[3], "sent@0"},
                                    {ids[4], "sending@0"}}));
  EXPECT_EQ(states("waiting", 1000), (Rows{{ids[0], "waiting@5000"}, {ids[1], "waiting@4000"}}));
  EXPECT_EQ(states("queued", 1000), (Rows{{ids[2], "queued@0"}}));
  // Pages of waiting recipients resume after the last id.
  auto page = reads.broadcast_recipients(id, "waiting", 1, 0, 1000);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].outbox_id, ids[0]);
  page = reads.broadcast_recipients(id, "waiting", 1, ids[0], 1000);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].outbox_id, ids[1]);

  // 4000: the second one's window is open; it is queued (due) again.
  c = reads.broadcast_counts(id, 4000);
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(c.waiting_until, 5000);
  EXPECT_EQ(c.queued, 3);
  EXPECT_EQ(states("queued", 4000), (Rows{{ids[1], "queued@0"}, {ids[2], "queued@0"}}));
  EXPECT_EQ(states("waiting", 4000), (Rows{{ids[0], "waiting@5000"}}));
  // Claimed and handed back for another reason (a rate limit): queued, not waiting.
  auto again = claim(4000);
  ASSERT_EQ(again.size(), 2u);
  writer_->run([&](WriteContext& c2) {
    for (const auto& m : again) c2.outbox().hand_back(m.id, 4500);
  });
  c = reads.broadcast_counts(id, 4000);
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(states("queued", 4000), (Rows{{ids[1], "queued@0"}, {ids[2], "queued@0"}}));
  // All windows open: nothing waits.
  c = reads.broadcast_counts(id, 5000);
  EXPECT_EQ(c.waiting, 0);
  EXPECT_EQ(c.waiting_until, 0);
  EXPECT_TRUE(states("waiting", 5000).empty());

  // The count and the waiting pages can read the partial index of held rows
  // (the store names it: INDEXED BY fails to prepare when it cannot be used),
  // and need no sort.
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
