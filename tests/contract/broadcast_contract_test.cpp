// The broadcast ledger as every backend keeps it: the snapshot in chunks,
// who is in it and who is not, exactly once per channel, hand-over marks
// and crashes, pauses and cancels, idempotency keys, counts and pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "contract/backends.h"
#include "sc/core/broadcast_lifecycle.h"

namespace sc::contract {
namespace {

template <class B>
class BroadcastContract : public Contract<B> {};
TYPED_TEST_SUITE(BroadcastContract, Backends, BackendNames);

// The ids of n confirmed email channels c0@…, c1@…
std::vector<std::int64_t> confirmed_emails(Db& db, int n) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(
        db.add_channel("c" + std::to_string(i) + "@example.org", ConsentState::kConfirmed));
  return out;
}

std::vector<std::int64_t> mark_handed_over(Db& db, const std::vector<std::int64_t>& ids,
                                           std::int64_t lease_until) {
  return db.outbox_tx(
      [&](const OutboxTransaction& t) { return t.outbox.mark_handed_over(ids, lease_until); });
}

TYPED_TEST(BroadcastContract, SnapshotTakesEveryConfirmedChannelOfItsKindOnceInChunks) {
  auto& db = this->db();
  std::set<std::int64_t> expected;
  for (auto id : confirmed_emails(db, 7)) expected.insert(id);
  db.add_channel("pending@example.org", ConsentState::kPending);
  db.add_channel("gone@example.org", ConsentState::kUnsubscribed);
  db.add_channel("bounced@example.org", ConsentState::kUndeliverable);
  db.add_channel("+12025550100", ConsentState::kConfirmed, ChannelKind::kSms);
  const auto named =
      db.add_channel("named@example.org", ConsentState::kConfirmed, ChannelKind::kEmail, "Ann");
  expected.insert(named);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  EXPECT_EQ(db.snapshot(id, 3), 8);  // chunks of 3, 3, 2
  auto b = db.backend().broadcast_reads().get(id);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->snapshot_done);
  EXPECT_EQ(b->snapshot_cursor, named);
  // A second pass from the start adds nobody: a channel is in a ledger once.
  db.broadcast_tx([&](BroadcastStores& s) {
    auto again = s.find(id);
    again->snapshot_cursor = 0;
    EXPECT_EQ(s.snapshot_chunk(*again, 100, 1000), 0);
  });
  auto got = db.claim(1000, 1000);
  std::set<std::int64_t> channels;
  for (auto& m : got) {
    EXPECT_EQ(m.broadcast_id, id);
    EXPECT_EQ(m.lane, OutboxLane::kBulk);
    EXPECT_EQ(m.purpose, "broadcast");
    channels.insert(m.channel_id);
    db.backend().outbox().decode(m);
    EXPECT_EQ(m.email.outbox_id, m.id);
    if (m.channel_id == named) {
      EXPECT_EQ(m.email.to.address, "named@example.org");
      EXPECT_EQ(m.email.template_vars.at("first_name"), "Ann");
    } else {
      EXPECT_FALSE(m.email.to.address.empty());
    }
  }
  EXPECT_EQ(channels, expected);
  auto counts = db.counts(id);
  EXPECT_EQ(counts.total, 8);
  EXPECT_EQ(counts.sending, 8);
}

// A chunk written ahead: the max_rows channels after the next max_rows
// (after_chunks 1) enter the ledger, the cursor stays; a snapshot that then
// skips that range (advance_broadcast) has every recipient once.
TYPED_TEST(BroadcastContract, AChunkWrittenAheadTakesTheChunkAfterTheNextAndLeavesTheCursor) {
  auto& db = this->db();
  const auto ids = confirmed_emails(db, 25);
  db.add_channel("gone@example.org", ConsentState::kUnsubscribed);
  const auto id = db.create_broadcast(ChannelKind::kEmail);
  const auto ahead = db.broadcast_tx([&](BroadcastStores& s) {
    const auto b = s.find(id);
    return s.snapshot_ahead(*b, 10, 1, 1000);
  });
  EXPECT_EQ(ahead.from, ids[9]);
  EXPECT_EQ(ahead.to, ids[19]);
  EXPECT_EQ(ahead.added, 10);
  auto b = db.backend().broadcast_reads().get(id);
  EXPECT_EQ(b->snapshot_cursor, 0);
  EXPECT_FALSE(b->snapshot_done);
  EXPECT_EQ(db.counts(id).total, 10);
  // Written again (another runner, a retry): nobody twice.
  db.broadcast_tx(
      [&](BroadcastStores& s) { EXPECT_EQ(s.snapshot_ahead(*s.find(id), 10, 1, 1000).added, 0); });
  // Two chunks on: 21-25, the snapshot's tail (and nothing past it).
  db.broadcast_tx([&](BroadcastStores& s) {
    const auto tail = s.snapshot_ahead(*s.find(id), 10, 2, 1000);
    EXPECT_EQ(tail.from, ids[19]);
    EXPECT_EQ(tail.to, ids[24]);
    EXPECT_EQ(tail.added, 5);
    const auto past = s.snapshot_ahead(*s.find(id), 10, 3, 1000);
    EXPECT_EQ(past.from, past.to);
    EXPECT_EQ(past.added, 0);
  });
  EXPECT_EQ(db.counts(id).total, 15);
  // The locked chunks: 1-10, then (the range written ahead skipped) 21-25.
  int added = 0;
  for (int step = 0; step < 3; ++step)
    db.broadcast_tx([&](BroadcastStores& s) {
      added += advance_broadcast(s.drafts, s.ledger, id, 10, 1000, &ahead).queued ? 1 : 0;
    });
  b = db.backend().broadcast_reads().get(id);
  EXPECT_TRUE(b->snapshot_done);
  EXPECT_EQ(b->snapshot_cursor, ids[24]);
  EXPECT_EQ(added, 1);  // 21-25 were written ahead too
  std::set<std::int64_t> channels;
  for (auto& m : db.claim(1000, 1000)) EXPECT_TRUE(channels.insert(m.channel_id).second);
  EXPECT_EQ(channels, std::set<std::int64_t>(ids.begin(), ids.end()));
}

// Nothing is written ahead near the end (the next chunk is the last), nor
// for a broadcast that is not sending (paused since the runner listed it).
TYPED_TEST(BroadcastContract, NothingIsWrittenAheadOfTheLastChunkOrForABroadcastNotSending) {
  auto& db = this->db();
  const auto ids = confirmed_emails(db, 15);
  const auto id = db.create_broadcast(ChannelKind::kEmail);
  db.broadcast_tx([&](BroadcastStores& s) {
    const auto b = s.find(id);
    const auto last = s.snapshot_ahead(*b, 20, 1, 1000);
    EXPECT_EQ(last.from, last.to);
    EXPECT_EQ(last.added, 0);
    s.set_status(id, BroadcastStatus::kPaused, "paused by test", 1000);
    const auto paused = s.snapshot_ahead(*b, 5, 1, 1000);
    EXPECT_EQ(paused.added, 0);
    EXPECT_EQ(s.snapshot_chunk(*b, 5, 1000), 0);
  });
  EXPECT_EQ(db.counts(id).total, 0);
}

TYPED_TEST(BroadcastContract, TopicsLimitTheAudience) {
  auto& db = this->db();
  auto a = db.add_channel("a@example.org", ConsentState::kConfirmed);
  auto b = db.add_channel("b@example.org", ConsentState::kConfirmed);
  db.add_channel("c@example.org", ConsentState::kConfirmed);
  const auto sa = db.subscriber_of(a), sb = db.subscriber_of(b);
  db.write([&](const Transaction& tx) {
    tx.topics.add_topics(sa, {"events"});
    tx.topics.add_topics(sb, {"jobs", "events"});
  });
  auto id = db.create_broadcast(ChannelKind::kEmail, {"events"});
  EXPECT_EQ(db.snapshot(id, 1), 2);
  std::set<std::int64_t> channels;
  for (const auto& r : db.backend().broadcast_reads().recipients(id, "", 10, 0, 1000))
    channels.insert(r.channel_id);
  EXPECT_EQ(channels, (std::set<std::int64_t>{a, b}));
  db.broadcast_tx([&](BroadcastStores& s) {
    EXPECT_TRUE(s.unknown_topics({"events", "jobs"}).empty());
    EXPECT_EQ(s.unknown_topics({"evnets", "jobs"}), std::vector<std::string>{"evnets"});
  });
}

TYPED_TEST(BroadcastContract, HasAudienceIsTheSnapshotsOwnCondition) {
  auto& db = this->db();
  const auto a = db.add_channel("a@example.org", ConsentState::kConfirmed);
  db.add_channel("pending@example.org", ConsentState::kPending);
  db.add_channel("+12025550100", ConsentState::kUnsubscribed, ChannelKind::kSms);
  const auto sa = db.subscriber_of(a);
  db.write([&](const Transaction& tx) { tx.topics.add_topics(sa, {"events"}); });
  db.broadcast_tx([&](BroadcastStores& s) {
    Broadcast b;
    b.channel = ChannelKind::kEmail;
    EXPECT_TRUE(s.has_audience(b));
    b.topics = {"jobs", "events"};
    EXPECT_TRUE(s.has_audience(b));
    b.topics = {"jobs"};
    EXPECT_FALSE(s.has_audience(b));
    b.topics = {};
    b.channel = ChannelKind::kSms;  // only an unsubscribed number
    EXPECT_FALSE(s.has_audience(b));
  });
}

TYPED_TEST(BroadcastContract, LeasedBroadcastMessagesBecomeUnknownAndAreResentOnlyWhenAsked) {
  auto& db = this->db();
  confirmed_emails(db, 3);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  db.snapshot(id, 100);
  auto leased = db.claim(1000);
  ASSERT_EQ(leased.size(), 3u);
  EXPECT_EQ(mark_handed_over(db, Db::ids_of(leased), 1300).size(), 3u);
  // The process died with them handed over: they may have gone, so never again on their own.
  EXPECT_EQ(db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_own(2000); }), 3);
  EXPECT_TRUE(db.claim(2000).empty());
  EXPECT_EQ(db.counts(id).unknown, 3);
  EXPECT_EQ(db.backend().broadcast_reads().recipients(id, "unknown", 10, 0, 1000).size(), 3u);
  EXPECT_EQ(db.broadcast_tx([&](BroadcastStores& s) { return s.requeue(id, "failed", 3000); }), 0);
  // The operator's explicit choice puts them back, as new attempts.
  EXPECT_EQ(db.broadcast_tx([&](BroadcastStores& s) { return s.requeue(id, "unknown", 3000); }), 3);
  EXPECT_TRUE(db.claim(2999).empty());
  auto again = db.claim(3000);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].attempts, 1);
}

// The dispatcher claims the next batch while the previous one is with the
// provider: a crash then must not turn the claimed batch, which never left,
// into unknowns.
TYPED_TEST(BroadcastContract, ClaimedButNeverHandedOverIsQueuedAgainAfterACrash) {
  auto& db = this->db();
  confirmed_emails(db, 4);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  db.snapshot(id, 100);
  auto leased = db.claim(1000);
  ASSERT_EQ(leased.size(), 4u);
  // Two go to the provider; the other two wait for the batch before them.
  EXPECT_EQ(mark_handed_over(db, {leased[0].id, leased[1].id}, 1300),
            (std::vector<std::int64_t>{leased[0].id, leased[1].id}));
  // Marked once: a second mark returns nothing.
  EXPECT_TRUE(mark_handed_over(db, {leased[0].id}, 1300).empty());
  EXPECT_EQ(db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_own(2000); }), 4);
  EXPECT_EQ(db.counts(id).unknown, 2);
  auto again = db.claim(2000);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].id, leased[2].id);
  EXPECT_EQ(again[1].id, leased[3].id);
  EXPECT_EQ(again[0].attempts, 1);  // the first claim was no attempt

  // A claimed row whose lease ran out before it was handed over is queued
  // again; a late hand-over then marks nothing, so its batch does not send it.
  auto release_expired = [&](std::int64_t now) {
    return db.outbox_tx([&](const OutboxTransaction& t) { return t.outbox.release_expired(now); });
  };
  EXPECT_EQ(release_expired(2300), 0);
  EXPECT_EQ(release_expired(2301), 2);
  EXPECT_TRUE(mark_handed_over(db, {leased[2].id, leased[3].id}, 2600).empty());
  auto third = db.claim(2302);
  ASSERT_EQ(third.size(), 2u);
  // Handed over, a lease that runs out means unknown (it may have gone).
  EXPECT_EQ(mark_handed_over(db, {third[0].id}, 2400).size(), 1u);
  EXPECT_EQ(release_expired(2400), 0);
  EXPECT_EQ(release_expired(2401), 1);
  EXPECT_EQ(db.counts(id).unknown, 3);
  EXPECT_EQ(db.counts(id).queued + db.counts(id).sending, 1);
  // A transactional message is never "handed over": its lease is its own.
  auto ch = db.add_channel("t@example.org");
  auto confirm = db.enqueue_email(ch, "t@example.org");
  ASSERT_EQ(db.claim(2500, 10, 2800).size(), 1u);  // third[1] is still leased
  EXPECT_TRUE(mark_handed_over(db, {confirm}, 2900).empty());
  EXPECT_EQ(release_expired(2801), 2);
  EXPECT_EQ(db.state_of(confirm), "queued");
}

// A pause or cancel commits through the same transactions as the hand-over
// marks, so once it has, nothing more of the broadcast is marked (hence
// sent); its claimed rows go back to the queue, the attempt not counted.
TYPED_TEST(BroadcastContract, NothingOfABroadcastPausedOrCancelledSinceTheClaimIsHandedOver) {
  auto& db = this->db();
  confirmed_emails(db, 4);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  db.snapshot(id, 100);
  auto leased = db.claim(1000);
  ASSERT_EQ(leased.size(), 4u);
  EXPECT_EQ(mark_handed_over(db, {leased[0].id}, 1300).size(), 1u);
  db.broadcast_tx([&](BroadcastStores& s) {
    s.set_status(id, BroadcastStatus::kPaused, "paused by ops", 1001);
  });
  EXPECT_TRUE(mark_handed_over(db, {leased[1].id, leased[2].id}, 1300).empty());
  auto counts = db.counts(id);
  EXPECT_EQ(counts.queued, 2);   // handed back, never sent
  EXPECT_EQ(counts.sending, 2);  // the one with the provider, and one not yet asked for
  for (const auto& r : db.backend().broadcast_reads().recipients(id, "queued", 10, 0, 1000))
    EXPECT_EQ(r.attempts, 0);
  EXPECT_TRUE(db.claim(1002).empty());  // paused: nothing is claimed
  db.broadcast_tx([&](BroadcastStores& s) {
    s.set_status(id, BroadcastStatus::kCancelled, "cancelled by ops", 1003);
  });
  EXPECT_TRUE(mark_handed_over(db, {leased[3].id}, 1300).empty());
  EXPECT_EQ(db.counts(id).queued, 3);
}

TYPED_TEST(BroadcastContract, APausedBroadcastIsNotClaimedAndACancelledOneIsSkipped) {
  auto& db = this->db();
  confirmed_emails(db, 4);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  db.snapshot(id, 100);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.pause_broadcast(id, "50 errors in a row", 1000);
  });
  auto paused = db.backend().broadcast_reads().get(id);
  EXPECT_EQ(paused->status, BroadcastStatus::kPaused);
  EXPECT_EQ(paused->pause_reason, "50 errors in a row");
  EXPECT_EQ(paused->updated_at, 1000);
  EXPECT_TRUE(db.claim(1000).empty());
  // Only a sending broadcast is paused by the dispatcher.
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.pause_broadcast(id, "again", 1001); });
  EXPECT_EQ(db.backend().broadcast_reads().get(id)->pause_reason, "50 errors in a row");
  db.broadcast_tx([&](BroadcastStores& s) {
    EXPECT_TRUE(s.has_unfinished(id));
    s.set_status(id, BroadcastStatus::kCancelled, "", 1000);
    EXPECT_EQ(s.active().size(), 1u);  // queued rows to clear
    EXPECT_EQ(s.skip_queued(id, 3, 1000), 3);
    EXPECT_EQ(s.skip_queued(id, 3, 1000), 1);
    EXPECT_EQ(s.skip_queued(id, 3, 1000), 0);
    EXPECT_TRUE(s.active().empty());
    EXPECT_FALSE(s.has_unfinished(id));
  });
  EXPECT_EQ(db.counts(id).skipped, 4);
  for (const auto& r : db.backend().broadcast_reads().recipients(id, "skipped", 10, 0, 1000))
    EXPECT_EQ(r.error, "broadcast cancelled");
}

TYPED_TEST(BroadcastContract, StatusChangesStampStartAndFinish) {
  auto& db = this->db();
  auto id = db.create_broadcast(ChannelKind::kEmail, {}, BroadcastStatus::kDraft);
  auto& reads = db.backend().broadcast_reads();
  EXPECT_EQ(reads.get(id)->status, BroadcastStatus::kDraft);
  EXPECT_EQ(reads.get(id)->started_at, 0);
  db.broadcast_tx([&](BroadcastStores& s) {
    Broadcast edit = *s.find(id);
    edit.subject = "New subject";
    edit.topics = {"news"};
    edit.updated_at = 1100;
    s.update_content(edit);
    s.set_status(id, BroadcastStatus::kSending, "", 1200);
    s.set_status(id, BroadcastStatus::kPaused, "paused by ops", 1300);
    s.set_status(id, BroadcastStatus::kSending, "", 1400);
    edit.subject = "Too late";  // only a draft's content changes
    s.update_content(edit);
  });
  auto b = reads.get(id);
  EXPECT_EQ(b->subject, "New subject");
  EXPECT_EQ(b->topics, std::vector<std::string>{"news"});
  EXPECT_EQ(b->started_at, 1200);  // the first start counts
  EXPECT_EQ(b->finished_at, 0);
  EXPECT_EQ(b->updated_at, 1400);
  EXPECT_EQ(b->pause_reason, "");
  db.broadcast_tx(
      [&](BroadcastStores& s) { s.set_status(id, BroadcastStatus::kCompleted, "", 1500); });
  EXPECT_EQ(reads.get(id)->finished_at, 1500);
  db.broadcast_tx([&](BroadcastStores& s) {
    EXPECT_TRUE(s.active().empty());
    s.set_status(id, BroadcastStatus::kSending, "", 1600);  // re-queued failures
    EXPECT_EQ(s.active().size(), 1u);
  });
  EXPECT_EQ(reads.get(id)->finished_at, 0);
  EXPECT_EQ(reads.get(id)->started_at, 1200);
}

TYPED_TEST(BroadcastContract, ListsNewestFirstInPages) {
  auto& db = this->db();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(db.create_broadcast(ChannelKind::kEmail));
  auto& reads = db.backend().broadcast_reads();
  auto page = reads.list(2, 0);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, ids[4]);
  EXPECT_EQ(page[1].id, ids[3]);
  page = reads.list(10, page.back().id);
  ASSERT_EQ(page.size(), 3u);
  EXPECT_EQ(page[0].id, ids[2]);
  EXPECT_EQ(page[2].id, ids[0]);
  EXPECT_FALSE(reads.get(ids[4] + 1));
}

TYPED_TEST(BroadcastContract, AnIdempotencyKeyIsFoundOnlyUnderTheAdminKeyThatUsedIt) {
  auto& db = this->db();
  db.broadcast_tx([&](BroadcastStores& s) {
    Broadcast b;
    b.text = "t";
    b.subject = "s";
    b.idempotency_key = "key-1";
    b.idempotency_body_digest = "d1";
    b.created_by = "newsroom";
    b.created_at = 1;
    auto id = s.insert(b);
    ASSERT_TRUE(s.find_by_idempotency_key("newsroom", "key-1"));
    EXPECT_EQ(s.find_by_idempotency_key("newsroom", "key-1")->id, id);
    EXPECT_EQ(s.find_by_idempotency_key("newsroom", "key-1")->idempotency_body_digest, "d1");
    EXPECT_FALSE(s.find_by_idempotency_key("newsroom", "key-2"));
    EXPECT_FALSE(s.find_by_idempotency_key("other-key", "key-1"));
    // The same text under another admin key is another request.
    b.created_by = "other-key";
    auto other = s.insert(b);
    EXPECT_NE(other, id);
    EXPECT_EQ(s.find_by_idempotency_key("other-key", "key-1")->id, other);
    // Without a key, any number of them.
    b.idempotency_key = "";
    EXPECT_NE(s.insert(b), s.insert(b));
    EXPECT_FALSE(s.find_by_idempotency_key("other-key", ""));
  });
  // Under the same admin key it is refused (and the transaction rolled back).
  EXPECT_ANY_THROW(db.broadcast_tx([&](BroadcastStores& s) {
    Broadcast b;
    b.text = "t";
    b.idempotency_key = "key-1";
    b.created_by = "newsroom";
    s.insert(b);
  }));
  EXPECT_EQ(db.backend().broadcast_reads().list(10, 0).size(), 4u);
}

// Recipient pages come in id order, filtered, and resume after the last id
// of the page before.
TYPED_TEST(BroadcastContract, RecipientPagesAreInIdOrderAcrossStates) {
  auto& db = this->db();
  confirmed_emails(db, 6);
  auto id = db.create_broadcast(ChannelKind::kEmail);
  auto other = db.create_broadcast(ChannelKind::kEmail);
  db.snapshot(id, 100);
  auto got = db.claim(1000);
  ASSERT_EQ(got.size(), 6u);
  auto ids = Db::ids_of(got);
  std::sort(ids.begin(), ids.end());
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_sent(ids[0], "file", SendResult::sent("202", "m0"), 1001);
    t.outbox.mark_failed(ids[1], "file", SendResult::permanent("550", "no such user"), 1001);
    t.outbox.mark_unknown(ids[2], "file", SendResult::retryable("timeout", "no answer"), 1001);
    t.outbox.hand_back(ids[3], 2000);
    t.outbox.mark_sent(ids[5], "file", SendResult::sent("202", "m5"), 1001);
  });
  auto& reads = db.backend().broadcast_reads();
  std::vector<std::int64_t> seen;
  std::vector<std::string> states;
  for (std::int64_t after = 0;;) {
    auto page = reads.recipients(id, "", 4, after, 1000);
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
  auto sent = reads.recipients(id, "sent", 1, 0, 1000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].outbox_id, ids[0]);
  EXPECT_EQ(sent[0].provider, "file");
  EXPECT_EQ(sent[0].provider_message_id, "m0");
  EXPECT_EQ(sent[0].finished_at, 1001);
  EXPECT_EQ(sent[0].address, "c0@example.org");
  sent = reads.recipients(id, "sent", 10, ids[0], 1000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].outbox_id, ids[5]);
  auto failed = reads.recipients(id, "failed", 10, 0, 1000);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code, "550");
  EXPECT_EQ(failed[0].error, "no such user");
  EXPECT_TRUE(reads.recipients(id, "bogus", 10, 0, 1000).empty());
  EXPECT_TRUE(reads.recipients(other, "", 10, 0, 1000).empty());
  auto c = db.counts(id);
  EXPECT_EQ(c.total, 6);
  EXPECT_EQ(c.sent, 2);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.unknown, 1);
  EXPECT_EQ(c.queued, 1);
  EXPECT_EQ(c.sending, 1);
  // What providers report afterwards.
  db.write([&](const Transaction& tx) {
    tx.deliveries.set_delivery(ids[0], "delivered", "", 1100);
    tx.deliveries.set_delivery(ids[5], "bounced", "5.1.1", 1100);
  });
  c = db.counts(id);
  EXPECT_EQ(c.delivered, 1);
  EXPECT_EQ(c.undelivered, 1);
  EXPECT_EQ(reads.recipients(id, "sent", 10, ids[0], 1000)[0].delivery_state, "bounced");
}

// Quiet hours: a text held until its recipient's window opens reads as
// waiting (counts, pages, filters) until then, and as queued once it is due;
// a plain hand-back (a rate limit) never reads as waiting.
TYPED_TEST(BroadcastContract, TextsHeldByQuietHoursReadAsWaitingUntilTheyAreDue) {
  auto& db = this->db();
  for (int i = 0; i < 5; ++i)
    db.add_channel("+1212555010" + std::to_string(i), ConsentState::kConfirmed, ChannelKind::kSms);
  auto id = db.create_broadcast(ChannelKind::kSms);
  db.snapshot(id, 100);
  auto got = db.claim(1000);
  ASSERT_EQ(got.size(), 5u);
  auto ids = Db::ids_of(got);
  std::sort(ids.begin(), ids.end());
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.hold(ids[0], 5000, kWaitQuietHours);
    t.outbox.hold(ids[1], 4000, kWaitQuietHours);
    t.outbox.hand_back(ids[2], 1500);
    t.outbox.mark_sent(ids[3], "log", SendResult::sent("201", "SM3"), 1001);
  });
  EXPECT_EQ(db.row(ids[0]).attempts, 0);  // waiting is not an attempt
  auto& reads = db.backend().broadcast_reads();
  auto c = db.counts(id, 1000);
  EXPECT_EQ(c.total, 5);
  EXPECT_EQ(c.queued, 3);  // waiting is part of queued
  EXPECT_EQ(c.sending, 1);
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.waiting, 2);
  EXPECT_EQ(c.waiting_until, 4000);  // the earliest
  auto states = [&](const std::string& filter, std::int64_t now) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    for (const auto& r : reads.recipients(id, filter, 100, 0, now))
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
  auto page = reads.recipients(id, "waiting", 1, 0, 1000);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].outbox_id, ids[0]);
  page = reads.recipients(id, "waiting", 1, ids[0], 1000);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].outbox_id, ids[1]);

  // 4000: the second one's window is open; it is queued (due) again.
  c = db.counts(id, 4000);
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(c.waiting_until, 5000);
  EXPECT_EQ(c.queued, 3);
  EXPECT_EQ(states("queued", 4000), (Rows{{ids[1], "queued@0"}, {ids[2], "queued@0"}}));
  EXPECT_EQ(states("waiting", 4000), (Rows{{ids[0], "waiting@5000"}}));
  // Claimed and handed back for another reason (a rate limit): queued, not waiting.
  auto again = db.claim(4000);
  ASSERT_EQ(again.size(), 2u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    for (const auto& m : again) t.outbox.hand_back(m.id, 4500);
  });
  c = db.counts(id, 4000);
  EXPECT_EQ(c.waiting, 1);
  EXPECT_EQ(states("queued", 4000), (Rows{{ids[1], "queued@0"}, {ids[2], "queued@0"}}));
  // All windows open: nothing waits.
  c = db.counts(id, 5000);
  EXPECT_EQ(c.waiting, 0);
  EXPECT_EQ(c.waiting_until, 0);
  EXPECT_TRUE(states("waiting", 5000).empty());
}

}  // namespace
}  // namespace sc::contract
