#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "storage_fixture.h"

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
  std::map<std::int64_t, db_inspect::OutboxRow> rows() {
    std::map<std::int64_t, db_inspect::OutboxRow> out;
    for (auto& r : db_inspect::outbox_rows(path_, 0, 1000)) out[r.id] = r;
    return out;
  }
  std::string state_of(std::int64_t id) { return rows().at(id).state; }
};

TEST_F(OutboxStoreTest, ClaimReturnsThePayloadAsQueuedAndLeasesIt) {
  auto ch = add_channel("a@example.com");
  auto sms_ch = add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  auto e = enqueue_email(ch, "a@example.com");
  auto s = enqueue_sms(sms_ch, "+14155550100");

  auto got = claim(1000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, e);
  EXPECT_EQ(got[0].kind, OutboxKind::kEmail);
  EXPECT_EQ(got[0].purpose, "confirm");
  EXPECT_EQ(got[0].attempts, 1);
  const auto want = sample_email("a@example.com");
  EXPECT_FALSE(got[0].payload.empty());
  decode_payload(got[0]);
  decode_payload(got[1]);
  EXPECT_TRUE(got[0].payload.empty());
  const auto& m = got[0].email;
  EXPECT_EQ(m.outbox_id, e);
  EXPECT_EQ(m.message_id, want.message_id);
  EXPECT_EQ(m.date_unix, want.date_unix);
  EXPECT_EQ(m.from.address, want.from.address);
  EXPECT_EQ(m.from.display_name, want.from.display_name);
  EXPECT_EQ(m.to.address, want.to.address);
  EXPECT_EQ(m.subject, want.subject);
  EXPECT_EQ(m.text, want.text);
  EXPECT_EQ(m.html, want.html);
  EXPECT_EQ(m.list_unsubscribe_url, want.list_unsubscribe_url);
  EXPECT_EQ(m.extra_headers, want.extra_headers);
  EXPECT_EQ(m.template_name, want.template_name);
  EXPECT_EQ(m.template_vars, want.template_vars);
  EXPECT_EQ(got[1].id, s);
  EXPECT_EQ(got[1].kind, OutboxKind::kSms);
  EXPECT_EQ(got[1].sms.to, "+14155550100");
  EXPECT_EQ(got[1].sms.body, "Reply YES");
  EXPECT_EQ(got[1].sms.outbox_id, s);

  auto r = rows();
  EXPECT_EQ(r.at(e).state, "sending");
  EXPECT_EQ(r.at(e).attempts, 1);
  EXPECT_EQ(query("SELECT lease_until FROM outbox WHERE id = " + std::to_string(e)), "1300");

  // Never claimed twice while leased.
  EXPECT_TRUE(claim(1001).empty());
  EXPECT_TRUE(claim(1299).empty());
}

TEST_F(OutboxStoreTest, ClaimHonoursTheLimitAndTheOrder) {
  auto ch = add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(enqueue_email(ch, "a@example.com"));
  auto first = claim(10, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].id, ids[0]);
  EXPECT_EQ(first[1].id, ids[1]);
  auto rest = claim(10, 10);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id, ids[2]);
}

TEST_F(OutboxStoreTest, ReleaseExpiredHandsBackOnlyLapsedLeases) {
  auto ch = add_channel("a@example.com");
  auto a = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000, 1, 1100).size(), 1u);
  auto b = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000, 1, 1500).size(), 1u);

  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_expired(1100); }), 0);
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_expired(1101); }), 1);
  EXPECT_EQ(state_of(a), "queued");
  EXPECT_EQ(state_of(b), "sending");
  auto again = claim(1101);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, a);
  EXPECT_EQ(again[0].attempts, 2);
}

TEST_F(OutboxStoreTest, ReleaseAllHandsBackEveryLease) {
  auto ch = add_channel("a@example.com");
  enqueue_email(ch, "a@example.com");
  enqueue_email(ch, "a@example.com");
  enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000, 2).size(), 2u);
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_all(2000); }), 2);
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_all(2000); }), 0);
  EXPECT_EQ(claim(1000).size(), 3u);
}

TEST_F(OutboxStoreTest, MarkSentRecordsTheProviderAndIsFinal) {
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000).size(), 1u);
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_sent(id, "sendgrid", SendResult::sent("202", "SG-abc"), 1001);
  });
  auto r = rows().at(id);
  EXPECT_EQ(r.state, "sent");
  EXPECT_EQ(r.provider, "sendgrid");
  EXPECT_EQ(r.provider_message_id, "SG-abc");
  EXPECT_EQ(r.last_code, "202");
  EXPECT_EQ(query("SELECT finished_at FROM outbox WHERE id = " + std::to_string(id)), "1001");
  // Nothing moves a sent message again.
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_retry(id, SendResult::retryable("429", "later"), 2000);
    c.outbox().mark_failed(id, "sendgrid", SendResult::permanent("400", "bad"), 2000);
    c.outbox().release_all(2000);
  });
  EXPECT_EQ(state_of(id), "sent");
  EXPECT_TRUE(claim(5000).empty());
}

TEST_F(OutboxStoreTest, MarkRetryRequeuesForLater) {
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000).size(), 1u);
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_retry(id, SendResult::retryable("curl:7", "connection refused"), 1060);
  });
  auto r = rows().at(id);
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.next_attempt_at, 1060);
  EXPECT_EQ(r.last_code, "curl:7");
  EXPECT_EQ(r.last_error, "connection refused");
  EXPECT_TRUE(claim(1059).empty());
  auto again = claim(1060);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
}

TEST_F(OutboxStoreTest, MarkFailedKeepsTheProvidersCodeAndText) {
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000).size(), 1u);
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_failed(id, "smtp", SendResult::permanent("smtp:550", "5.1.1 user unknown"),
                           1002);
  });
  auto r = rows().at(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.provider, "smtp");
  EXPECT_EQ(r.last_code, "smtp:550");
  EXPECT_EQ(r.last_error, "5.1.1 user unknown");
  EXPECT_TRUE(claim(99999).empty());
}

TEST_F(OutboxStoreTest, ClaimSkipsMessagesToChannelsThatNoLongerConsent) {
  auto gone = add_channel("gone@example.com", ConsentState::kConfirmed);
  auto pending = add_channel("pending@example.com", ConsentState::kPending);
  auto confirmed = add_channel("ok@example.com", ConsentState::kConfirmed);
  auto to_gone = enqueue_email(gone, "gone@example.com");
  auto bc_pending = enqueue_email(pending, "pending@example.com", 7);
  auto bc_ok = enqueue_email(confirmed, "ok@example.com", 7);
  auto confirm_pending = enqueue_email(pending, "pending@example.com");
  set_state(gone, ConsentState::kUnsubscribed);  // left after the message was queued

  auto got = claim(1000);
  std::vector<std::int64_t> ids;
  for (const auto& m : got) ids.push_back(m.id);
  // The transactional confirmation first, then the broadcast (two lanes).
  EXPECT_EQ(ids, (std::vector<std::int64_t>{confirm_pending, bc_ok}));
  auto r = rows();
  EXPECT_EQ(r.at(to_gone).state, "skipped");
  EXPECT_EQ(r.at(bc_pending).state, "skipped");
  EXPECT_FALSE(r.at(to_gone).last_error.empty());
  EXPECT_EQ(r.at(to_gone).attempts, 0);
  // Skipped is final: releasing the leases touches only the two others. The
  // confirmation is queued again (at least once); the broadcast message,
  // handed over, may have reached the provider, so it becomes unknown (never twice).
  writer_->run([&](WriteContext& c) { c.outbox().mark_handed_over({bc_ok}, 1300); });
  EXPECT_EQ(writer_->run([](WriteContext& c) { return c.outbox().release_all(2000); }), 2);
  EXPECT_EQ(rows().at(bc_ok).state, "unknown");
  auto again = claim(2000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, confirm_pending);

  auto counts = db_inspect::outbox_counts(path_);
  EXPECT_EQ(counts.skipped, 2);
  EXPECT_EQ(counts.sending, 1);  // the confirmation; the broadcast message is unknown
  EXPECT_EQ(counts.queued, 0);
  EXPECT_EQ(counts.sent, 0);
  EXPECT_EQ(counts.failed, 0);
}

TEST_F(OutboxStoreTest, AnUnsubscribeAfterARetryStopsTheNextAttempt) {
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  auto id = enqueue_email(ch, "a@example.com", 3);
  ASSERT_EQ(claim(1000).size(), 1u);
  writer_->run([&](WriteContext& c) {
    c.outbox().mark_retry(id, SendResult::retryable("503", "busy"), 1010);
  });
  set_state(ch, ConsentState::kUnsubscribed);
  EXPECT_TRUE(claim(1010).empty());
  EXPECT_EQ(state_of(id), "skipped");
}

TEST_F(OutboxStoreTest, TransactionalMessagesAreClaimedAheadOfOlderBulkOnes) {
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  std::vector<std::int64_t> bulk;
  for (int i = 0; i < 5; ++i) bulk.push_back(enqueue_email(ch, "a@example.com", 9));
  auto confirm = enqueue_email(ch, "a@example.com");
  EXPECT_EQ(query("SELECT group_concat(lane) FROM (SELECT lane FROM outbox ORDER BY id)"),
            "1,1,1,1,1,0");
  auto got = claim(1000, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, confirm);
  EXPECT_EQ(got[0].lane, OutboxLane::kTransactional);
  EXPECT_EQ(got[1].id, bulk[0]);
  EXPECT_EQ(got[1].lane, OutboxLane::kBulk);
  EXPECT_EQ(got[2].id, bulk[1]);
  // The claim reads the due index by lane and kind, never the whole table.
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

TEST_F(OutboxStoreTest, PerKindLimitsHoldAndEmailsDoNotCrowdOutTexts) {
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  auto sms_ch = add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  for (int i = 0; i < 10; ++i) enqueue_email(ch, "a@example.com");
  for (int i = 0; i < 10; ++i) enqueue_sms(sms_ch, "+14155550100");
  auto count = [](const std::vector<ClaimedMessage>& ms, OutboxKind k) {
    return std::count_if(ms.begin(), ms.end(),
                         [&](const ClaimedMessage& m) { return m.kind == k; });
  };
  // A paused or rate-limited provider's kind gets only what it may take.
  auto got = writer_->run([](WriteContext& c) {
    return claim_due(c.outbox(), 1000, ClaimLimits{8, 0, 8}, 2000);
  });
  EXPECT_EQ(count(got, OutboxKind::kEmail), 0);
  EXPECT_EQ(count(got, OutboxKind::kSms), 8);
  writer_->run([](WriteContext& c) { c.outbox().release_all(2000); });
  // Both kinds due, total limit 6: each gets its share.
  got = writer_->run([](WriteContext& c) {
    return claim_due(c.outbox(), 1000, ClaimLimits{6, 100, 100}, 2000);
  });
  EXPECT_EQ(count(got, OutboxKind::kEmail), 3);
  EXPECT_EQ(count(got, OutboxKind::kSms), 3);
  writer_->run([](WriteContext& c) { c.outbox().release_all(2000); });
  got = writer_->run([](WriteContext& c) {
    return claim_due(c.outbox(), 1000, ClaimLimits{20, 2, 100}, 2000);
  });
  EXPECT_EQ(count(got, OutboxKind::kEmail), 2);
  EXPECT_EQ(count(got, OutboxKind::kSms), 10);
}

TEST_F(OutboxStoreTest, HandBackQueuesTheMessageAgainWithoutCountingTheAttempt) {
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000, 10, 1300).size(), 1u);
  EXPECT_EQ(rows().at(id).attempts, 1);
  writer_->run([&](WriteContext& c) { c.outbox().hand_back(id, 1005); });
  auto r = rows().at(id);
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.attempts, 0);
  EXPECT_EQ(r.next_attempt_at, 1005);
  EXPECT_TRUE(claim(1004).empty());
  EXPECT_EQ(claim(1005).size(), 1u);
}

TEST_F(OutboxStoreTest, DepthCountsUnfinishedMessagesByLaneAndState) {
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  for (int i = 0; i < 3; ++i) enqueue_email(ch, "a@example.com", 4);
  for (int i = 0; i < 2; ++i) enqueue_email(ch, "a@example.com");
  ASSERT_EQ(claim(1000, 1).size(), 1u);  // one transactional is sending
  ReadPool reads(path_, 1);
  auto d = reads.outbox_depth(1000);
  std::map<std::string, std::int64_t> cells;
  for (const auto& c : d.cells) cells[std::string(to_string(c.lane)) + "/" + c.state] = c.count;
  EXPECT_EQ(cells,
            (std::map<std::string, std::int64_t>{
                {"bulk/queued", 3}, {"transactional/queued", 1}, {"transactional/sending", 1}}));
  // Waiting since it was queued (created_at is SQLite's clock, now).
  const auto created = std::stoll(query("SELECT MIN(created_at) FROM outbox"));
  EXPECT_EQ(d.oldest_due_since, created);
  EXPECT_GT(created, 1'600'000'000);
  // Nothing due at a time before every retry: then nothing waits.
  ASSERT_EQ(claim(1000, 10).size(), 4u);
  writer_->run([&](WriteContext& c) {
    for (std::int64_t id = 1; id <= 5; ++id)
      c.outbox().mark_retry(id, SendResult::retryable("503", "busy"), 5000);
  });
  EXPECT_EQ(reads.outbox_depth(4999).oldest_due_since, 0);
  EXPECT_EQ(reads.outbox_depth(5000).oldest_due_since, std::max<std::int64_t>(created, 5000));
}

}  // namespace
}  // namespace sc::storage
