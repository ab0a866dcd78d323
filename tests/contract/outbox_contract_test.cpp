// The outbox as every backend keeps it: the claim's order, lanes and
// per-kind shares, consent checked at claim time, leases and their expiry,
// outcomes, hand-back and hold, and the depth metrics read.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "contract/backends.h"

namespace sc::contract {
namespace {

template <class B>
class OutboxContract : public Contract<B> {};
TYPED_TEST_SUITE(OutboxContract, Backends, BackendNames);

TYPED_TEST(OutboxContract, ClaimReturnsTheMessageAsQueuedAndLeasesIt) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto sms_ch = db.add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  auto e = db.enqueue_email(ch, "a@example.com");
  auto s = db.enqueue_sms(sms_ch, "+14155550100");

  auto got = db.claim(1000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, e);
  EXPECT_EQ(got[0].kind, OutboxKind::kEmail);
  EXPECT_EQ(got[0].lane, OutboxLane::kTransactional);
  EXPECT_EQ(got[0].purpose, "confirm");
  EXPECT_EQ(got[0].channel_id, ch);
  EXPECT_EQ(got[0].broadcast_id, 0);
  EXPECT_EQ(got[0].attempts, 1);
  db.backend().outbox().decode(got[0]);
  db.backend().outbox().decode(got[1]);
  EXPECT_TRUE(got[0].payload.empty());
  const auto want = Db::sample_email("a@example.com");
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

  EXPECT_EQ(db.row(e).state, "sending");
  EXPECT_EQ(db.row(e).attempts, 1);
  // Never claimed twice while leased (until 1300).
  EXPECT_TRUE(db.claim(1001).empty());
  EXPECT_TRUE(db.claim(1299).empty());
  EXPECT_EQ(db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_expired(1300); }),
            0);
  EXPECT_EQ(db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_expired(1301); }),
            2);
}

TYPED_TEST(OutboxContract, ClaimHonoursTheLimitAndTheOrder) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(db.enqueue_email(ch, "a@example.com"));
  auto first = db.claim(10, 2);
  EXPECT_EQ(Db::ids_of(first), (std::vector<std::int64_t>{ids[0], ids[1]}));
  auto rest = db.claim(10, 10);
  EXPECT_EQ(Db::ids_of(rest), (std::vector<std::int64_t>{ids[2], ids[3], ids[4]}));
}

// Within a lane the message due longest goes first, whatever its id.
TYPED_TEST(OutboxContract, TheOldestDueIsClaimedFirst) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(db.enqueue_email(ch, "a@example.com"));
  ASSERT_EQ(db.claim(1000).size(), 3u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_retry(ids[0], SendResult::retryable("503", "busy"), 1300);
    t.outbox.mark_retry(ids[1], SendResult::retryable("503", "busy"), 1100);
    t.outbox.mark_retry(ids[2], SendResult::retryable("503", "busy"), 1200);
  });
  EXPECT_EQ(Db::ids_of(db.claim(1250)), (std::vector<std::int64_t>{ids[1], ids[2]}));
  EXPECT_EQ(Db::ids_of(db.claim(1300)), (std::vector<std::int64_t>{ids[0]}));
}

TYPED_TEST(OutboxContract, ReleaseExpiredHandsBackOnlyLapsedLeases) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto a = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 1, 1100).size(), 1u);
  auto b = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 1, 1500).size(), 1u);

  auto release = [&](std::int64_t now) {
    return db.outbox_tx([&](const OutboxTransaction& t) { return t.outbox.release_expired(now); });
  };
  EXPECT_EQ(release(1100), 0);
  EXPECT_EQ(release(1101), 1);
  EXPECT_EQ(db.state_of(a), "queued");
  EXPECT_EQ(db.state_of(b), "sending");
  auto again = db.claim(1101);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, a);
  EXPECT_EQ(again[0].attempts, 2);  // a transactional lease that lapsed was an attempt
}

TYPED_TEST(OutboxContract, ReleaseAllHandsBackEveryLease) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  for (int i = 0; i < 3; ++i) db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 2).size(), 2u);
  auto release_own = [&] {
    return db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_own(2000); });
  };
  EXPECT_EQ(release_own(), 2);
  EXPECT_EQ(release_own(), 0);
  EXPECT_EQ(db.claim(1000).size(), 3u);
}

TYPED_TEST(OutboxContract, MarkSentRecordsTheProviderAndIsFinal) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto queued = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 1).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_sent(id, "sendgrid", SendResult::sent("202", "SG-abc"), 1001);
  });
  auto r = db.row(id);
  EXPECT_EQ(r.state, "sent");
  EXPECT_EQ(r.provider, "sendgrid");
  EXPECT_EQ(r.provider_message_id, "SG-abc");
  EXPECT_EQ(r.last_code, "202");
  // Nothing moves a sent message again, and an outcome moves only a leased one.
  db.outbox_tx([&](const OutboxTransaction& t) {
    for (auto m : {id, queued}) {
      t.outbox.mark_retry(m, SendResult::retryable("429", "later"), 2000);
      t.outbox.mark_failed(m, "sendgrid", SendResult::permanent("400", "bad"), 2000);
      t.outbox.mark_unknown(m, "sendgrid", SendResult::retryable("timeout", "?"), 2000);
      t.outbox.hand_back(m, 2000);
    }
    t.outbox.mark_sent(queued, "sendgrid", SendResult::sent("202", "SG-no"), 1001);
    t.outbox.release_own(2000);
  });
  EXPECT_EQ(db.state_of(id), "sent");
  EXPECT_EQ(db.row(id).provider_message_id, "SG-abc");
  EXPECT_EQ(db.state_of(queued), "queued");
  EXPECT_EQ(db.row(queued).attempts, 0);
  EXPECT_EQ(db.row(queued).next_attempt_at, 0);
  EXPECT_EQ(Db::ids_of(db.claim(5000)), std::vector<std::int64_t>{queued});
}

TYPED_TEST(OutboxContract, MarkSentManyRecordsEachLeasedMessageAsMarkSentWould) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  const auto a = db.enqueue_email(ch, "a@example.com");
  const auto b = db.enqueue_email(ch, "a@example.com");
  const auto done = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000).size(), 3u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_sent(done, "smtp", SendResult::sent("250", "first"), 1001);
  });
  const auto queued = db.enqueue_email(ch, "a@example.com");
  // Provider ids as providers write them: quotes, backslashes, non-ASCII, empty.
  const std::string email = "sendgrid", sms = "twilio";
  const auto ra = SendResult::sent("202", "SG \"quoted\" \\ ü <x>");
  const auto rb = SendResult::sent("201", "");
  const auto again = SendResult::sent("250", "second");
  std::vector<std::int64_t> recorded;
  db.outbox_tx([&](const OutboxTransaction& t) {
    recorded = t.outbox.mark_sent_many(
        {{a, &email, &ra}, {b, &sms, &rb}, {done, &email, &again}, {queued, &email, &again}}, 1002);
  });
  std::sort(recorded.begin(), recorded.end());
  EXPECT_EQ(recorded, (std::vector<std::int64_t>{a, b}));
  auto ra_row = db.row(a);
  EXPECT_EQ(ra_row.state, "sent");
  EXPECT_EQ(ra_row.provider, "sendgrid");
  EXPECT_EQ(ra_row.provider_message_id, "SG \"quoted\" \\ ü <x>");
  EXPECT_EQ(ra_row.last_code, "202");
  EXPECT_EQ(db.row(b).provider, "twilio");
  EXPECT_EQ(db.row(b).provider_message_id, "");
  // A finished message keeps its first outcome; a queued one is not leased.
  EXPECT_EQ(db.row(done).provider_message_id, "first");
  EXPECT_EQ(db.state_of(queued), "queued");
  db.outbox_tx(
      [&](const OutboxTransaction& t) { EXPECT_TRUE(t.outbox.mark_sent_many({}, 1003).empty()); });
}

TYPED_TEST(OutboxContract, MarkRetryRequeuesForLater) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_retry(id, SendResult::retryable("curl:7", "connection refused"), 1060);
  });
  auto r = db.row(id);
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.next_attempt_at, 1060);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.last_code, "curl:7");
  EXPECT_EQ(r.last_error, "connection refused");
  EXPECT_TRUE(db.claim(1059).empty());
  auto again = db.claim(1060);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
}

TYPED_TEST(OutboxContract, MarkFailedKeepsTheProvidersCodeAndText) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_failed(id, "smtp", SendResult::permanent("smtp:550", "5.1.1 user unknown"), 1002);
  });
  auto r = db.row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.provider, "smtp");
  EXPECT_EQ(r.last_code, "smtp:550");
  EXPECT_EQ(r.last_error, "5.1.1 user unknown");
  EXPECT_TRUE(db.claim(99999).empty());
}

TYPED_TEST(OutboxContract, ClaimSkipsMessagesToChannelsThatNoLongerConsent) {
  auto& db = this->db();
  auto gone = db.add_channel("gone@example.com", ConsentState::kConfirmed);
  auto bounced = db.add_channel("bounced@example.com", ConsentState::kConfirmed);
  auto pending = db.add_channel("pending@example.com", ConsentState::kPending);
  auto confirmed = db.add_channel("ok@example.com", ConsentState::kConfirmed);
  auto bc = db.create_broadcast(ChannelKind::kEmail);
  auto to_gone = db.enqueue_email(gone, "gone@example.com");
  auto to_bounced = db.enqueue_email(bounced, "bounced@example.com");
  auto bc_pending = db.enqueue_email(pending, "pending@example.com", bc);
  auto bc_ok = db.enqueue_email(confirmed, "ok@example.com", bc);
  auto confirm_pending = db.enqueue_email(pending, "pending@example.com");
  db.set_state(gone, ConsentState::kUnsubscribed);  // left after the message was queued
  db.set_state(bounced, ConsentState::kUndeliverable);

  // The transactional confirmation first, then the broadcast (two lanes).
  EXPECT_EQ(Db::ids_of(db.claim(1000)), (std::vector<std::int64_t>{confirm_pending, bc_ok}));
  for (auto id : {to_gone, to_bounced, bc_pending}) {
    EXPECT_EQ(db.row(id).state, "skipped") << id;
    EXPECT_FALSE(db.row(id).last_error.empty()) << id;
    EXPECT_EQ(db.row(id).attempts, 0) << id;  // never attempted
  }
  // Skipped is final: releasing the leases touches only the two others. The
  // confirmation is queued again (at least once); the broadcast message,
  // handed over, may have reached the provider, so it becomes unknown (never twice).
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.mark_handed_over({bc_ok}, 1300); });
  EXPECT_EQ(db.outbox_tx([](const OutboxTransaction& t) { return t.outbox.release_own(2000); }), 2);
  EXPECT_EQ(db.state_of(bc_ok), "unknown");
  EXPECT_EQ(Db::ids_of(db.claim(2000)), std::vector<std::int64_t>{confirm_pending});
  auto c = db.counts(bc);
  EXPECT_EQ(c.skipped, 1);
  EXPECT_EQ(c.unknown, 1);
  EXPECT_EQ(c.total, 2);
}

TYPED_TEST(OutboxContract, AnUnsubscribeAfterARetryStopsTheNextAttempt) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  auto id = db.enqueue_bulk_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    t.outbox.mark_retry(id, SendResult::retryable("503", "busy"), 1010);
  });
  db.set_state(ch, ConsentState::kUnsubscribed);
  EXPECT_TRUE(db.claim(1010).empty());
  EXPECT_EQ(db.state_of(id), "skipped");
}

TYPED_TEST(OutboxContract, TransactionalMessagesAreClaimedAheadOfOlderBulkOnes) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  std::vector<std::int64_t> bulk;
  for (int i = 0; i < 5; ++i) bulk.push_back(db.enqueue_bulk_email(ch, "a@example.com"));
  auto confirm = db.enqueue_email(ch, "a@example.com");
  for (auto id : bulk) EXPECT_EQ(db.row(id).lane, OutboxLane::kBulk);
  EXPECT_EQ(db.row(confirm).lane, OutboxLane::kTransactional);
  auto got = db.claim(1000, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, confirm);
  EXPECT_EQ(got[0].lane, OutboxLane::kTransactional);
  EXPECT_EQ(got[1].id, bulk[0]);
  EXPECT_EQ(got[1].lane, OutboxLane::kBulk);
  EXPECT_EQ(got[2].id, bulk[1]);
}

// Bulk messages go only while their broadcast is sending.
TYPED_TEST(OutboxContract, BulkMessagesOfABroadcastThatIsNotSendingWait) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  auto draft = db.create_broadcast(ChannelKind::kEmail, {}, BroadcastStatus::kDraft);
  auto paused = db.create_broadcast(ChannelKind::kEmail, {}, BroadcastStatus::kPaused);
  auto in_draft = db.enqueue_email(ch, "a@example.com", draft);
  auto in_paused = db.enqueue_email(ch, "a@example.com", paused);
  EXPECT_TRUE(db.claim(1000).empty());
  EXPECT_EQ(db.state_of(in_draft), "queued");
  EXPECT_EQ(db.state_of(in_paused), "queued");
  db.broadcast_tx(
      [&](BroadcastStores& s) { s.set_status(paused, BroadcastStatus::kSending, "", 1001); });
  EXPECT_EQ(Db::ids_of(db.claim(1001)), std::vector<std::int64_t>{in_paused});
}

TYPED_TEST(OutboxContract, PerKindLimitsHoldAndEmailsDoNotCrowdOutTexts) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  auto sms_ch = db.add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  for (int i = 0; i < 10; ++i) db.enqueue_email(ch, "a@example.com");
  for (int i = 0; i < 10; ++i) db.enqueue_sms(sms_ch, "+14155550100");
  auto count = [](const std::vector<ClaimedMessage>& ms, OutboxKind k) {
    return std::count_if(ms.begin(), ms.end(),
                         [&](const ClaimedMessage& m) { return m.kind == k; });
  };
  auto release_own = [&] {
    db.outbox_tx([](const OutboxTransaction& t) { t.outbox.release_own(2000); });
  };
  // A paused or rate-limited provider's kind gets only what it may take.
  auto got = db.claim(1000, ClaimLimits{8, 0, 8}, 2000);
  EXPECT_EQ(count(got, OutboxKind::kEmail), 0);
  EXPECT_EQ(count(got, OutboxKind::kSms), 8);
  release_own();
  // Both kinds due, total limit 6: each gets its share.
  got = db.claim(1000, ClaimLimits{6, 100, 100}, 2000);
  EXPECT_EQ(count(got, OutboxKind::kEmail), 3);
  EXPECT_EQ(count(got, OutboxKind::kSms), 3);
  release_own();
  // One kind's share left unused goes to the other.
  got = db.claim(1000, ClaimLimits{20, 2, 100}, 2000);
  EXPECT_EQ(count(got, OutboxKind::kEmail), 2);
  EXPECT_EQ(count(got, OutboxKind::kSms), 10);
}

TYPED_TEST(OutboxContract, HandBackQueuesTheMessageAgainWithoutCountingTheAttempt) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 10, 1300).size(), 1u);
  EXPECT_EQ(db.row(id).attempts, 1);
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.hand_back(id, 1005); });
  auto r = db.row(id);
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.attempts, 0);
  EXPECT_EQ(r.next_attempt_at, 1005);
  EXPECT_EQ(r.wait_reason, "");
  EXPECT_TRUE(db.claim(1004).empty());
  EXPECT_EQ(db.claim(1005).size(), 1u);
}

// A held message waits with its reason until the next claim (which clears
// it); a plain hand-back clears it too.
TYPED_TEST(OutboxContract, HoldKeepsTheWaitReasonUntilTheNextClaim) {
  auto& db = this->db();
  auto ch = db.add_channel("+12125550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto bc = db.create_broadcast(ChannelKind::kSms);
  EXPECT_EQ(db.snapshot(bc, 10), 1);
  auto got = db.claim(1000);
  ASSERT_EQ(got.size(), 1u);
  const auto id = got[0].id;
  EXPECT_EQ(got[0].channel_id, ch);
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.hold(id, 4000, kWaitQuietHours); });
  auto r = db.row(id);
  EXPECT_EQ(r.state, "queued");
  EXPECT_EQ(r.attempts, 0);  // waiting is not an attempt
  EXPECT_EQ(r.next_attempt_at, 4000);
  EXPECT_EQ(r.wait_reason, kWaitQuietHours);
  EXPECT_TRUE(db.claim(3999).empty());
  ASSERT_EQ(db.claim(4000).size(), 1u);
  EXPECT_EQ(db.row(id).wait_reason, "");
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.hold(id, 5000, kWaitQuietHours); });
  ASSERT_EQ(db.claim(5000).size(), 1u);
  db.outbox_tx([&](const OutboxTransaction& t) { t.outbox.hand_back(id, 5500); });
  EXPECT_EQ(db.row(id).wait_reason, "");
  EXPECT_EQ(db.row(id).attempts, 0);
}

TYPED_TEST(OutboxContract, DepthCountsUnfinishedMessagesByLaneAndState) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  for (int i = 0; i < 3; ++i) db.enqueue_bulk_email(ch, "a@example.com");
  for (int i = 0; i < 2; ++i) db.enqueue_email(ch, "a@example.com");
  ASSERT_EQ(db.claim(1000, 1).size(), 1u);  // one transactional is sending
  auto cells = [&](std::int64_t now) {
    std::map<std::string, std::int64_t> out;
    for (const auto& c : db.backend().outbox().depth(now).cells) {
      if (c.count != 0) out[std::string(to_string(c.lane)) + "/" + c.state] = c.count;
    }
    return out;
  };
  EXPECT_EQ(cells(1000),
            (std::map<std::string, std::int64_t>{
                {"bulk/queued", 3}, {"transactional/queued", 1}, {"transactional/sending", 1}}));
  // Due messages have waited since they were queued (the entry's time).
  EXPECT_EQ(db.backend().outbox().depth(1000).oldest_due_since, Db::kQueuedAt);
  // Nothing due at a time before every retry: then nothing waits.
  auto all = db.claim(1000, 10);
  ASSERT_EQ(all.size(), 4u);
  db.outbox_tx([&](const OutboxTransaction& t) {
    for (const auto& m : all) t.outbox.mark_retry(m.id, SendResult::retryable("503", "busy"), 5000);
    t.outbox.release_own(2000);  // the first one, still leased
  });
  EXPECT_EQ(cells(1000),
            (std::map<std::string, std::int64_t>{{"bulk/queued", 3}, {"transactional/queued", 2}}));
  // The first one was released (due at 0), the rest wait for 5000.
  EXPECT_EQ(db.backend().outbox().depth(1000).oldest_due_since, Db::kQueuedAt);
  ASSERT_EQ(db.claim(1000, 1).size(), 1u);
  EXPECT_EQ(db.backend().outbox().depth(4999).oldest_due_since, 0);
  EXPECT_EQ(db.backend().outbox().depth(5000).oldest_due_since, 5000);
}

}  // namespace
}  // namespace sc::contract
