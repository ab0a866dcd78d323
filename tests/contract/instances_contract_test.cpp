// Several instances on one database, as every backend keeps it: a lease
// records the instance that holds it; marks are fenced on it; an instance
// starting releases only what its own name left leased; a lapsed lease of a
// dead instance is taken over by anyone (claimed: queued again; handed over:
// unknown, never sent again); one instance at a time holds a broadcast's
// runner lease, with a term.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "contract/backends.h"

namespace sc::contract {
namespace {

template <class B>
class InstancesContract : public Contract<B> {};
TYPED_TEST_SUITE(InstancesContract, Backends, BackendNames);

// The dispatcher's transactions, as one instance runs them.
struct Outbox {
  OutboxTransactions& tx;

  template <class F>
  auto run(F&& f) {
    std::optional<std::invoke_result_t<F&, OutboxStore&>> out;
    tx.run([&](const OutboxTransaction& t) { out.emplace(f(t.outbox)); });
    return std::move(*out);
  }
  std::vector<ClaimedMessage> claim(std::int64_t now, std::int64_t lease_until) {
    return run([&](OutboxStore& s) {
      return claim_due(s, now, ClaimLimits{100, 100, 100}, lease_until);
    });
  }
  std::vector<std::int64_t> hand_over(const std::vector<std::int64_t>& ids,
                                      std::int64_t lease_until) {
    return run([&](OutboxStore& s) { return s.mark_handed_over(ids, lease_until); });
  }
  int release_own(std::int64_t now) {
    return run([&](OutboxStore& s) { return s.release_own(now); });
  }
  int release_expired(std::int64_t now) {
    return run([&](OutboxStore& s) { return s.release_expired(now); });
  }
};

std::vector<std::int64_t> sorted_ids(const std::vector<ClaimedMessage>& ms) {
  auto ids = Db::ids_of(ms);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TYPED_TEST(InstancesContract, AMarkChangesOnlyARowItsInstanceStillHolds) {
  auto& db = this->db();
  auto a_instance = db.backend().instance("a");
  auto b_instance = db.backend().instance("b");
  Outbox a{a_instance->outbox()}, b{b_instance->outbox()};
  const auto ch = db.add_channel("t@example.com");
  const auto confirm = db.enqueue_email(ch, "t@example.com");
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  const auto bulk1 = db.enqueue_email(db.add_channel("b1@example.com", ConsentState::kConfirmed),
                                      "b1@example.com", bc);
  const auto bulk2 = db.enqueue_email(db.add_channel("b2@example.com", ConsentState::kConfirmed),
                                      "b2@example.com", bc);

  // a claims everything until 1300, then stalls past its lease; b takes over.
  ASSERT_EQ(sorted_ids(a.claim(1000, 1300)), (std::vector<std::int64_t>{confirm, bulk1, bulk2}));
  EXPECT_TRUE(b.claim(1001, 1301).empty());  // leased: never claimed twice
  EXPECT_EQ(b.release_expired(1301), 3);
  ASSERT_EQ(sorted_ids(b.claim(1301, 1600)), (std::vector<std::int64_t>{confirm, bulk1, bulk2}));

  // a's marks find rows it no longer holds: nothing changes, each says so.
  const auto sent = SendResult::sent("250", "a-id");
  EXPECT_FALSE(a.run([&](OutboxStore& s) { return s.mark_sent(confirm, "smtp", sent, 1302); }));
  const std::string smtp = "smtp";
  EXPECT_TRUE(a.run([&](OutboxStore& s) {
                 return s.mark_sent_many({{confirm, &smtp, &sent}, {bulk1, &smtp, &sent}}, 1302);
               }).empty());
  EXPECT_FALSE(a.run([&](OutboxStore& s) {
    return s.mark_retry(confirm, SendResult::retryable("421", "later"), 1400);
  }));
  EXPECT_FALSE(a.run([&](OutboxStore& s) { return s.hand_back(confirm, 1400); }));
  EXPECT_FALSE(a.run([&](OutboxStore& s) {
    return s.mark_unknown(bulk1, "smtp", SendResult::retryable("timeout", "no answer"), 1302);
  }));
  EXPECT_TRUE(a.hand_over({bulk1, bulk2}, 1600).empty());
  a.run([&](OutboxStore& s) {
    s.skip({bulk2}, 1302);
    return 0;
  });
  for (auto id : {confirm, bulk1, bulk2}) EXPECT_EQ(db.row(id).state, "sending") << id;
  // Counted once by a's claim, once by b's (a confirmation that may have
  // gone keeps its attempt; a claimed bulk one got it back at the takeover).
  EXPECT_EQ(db.row(confirm).attempts, 2);
  EXPECT_EQ(db.row(bulk1).attempts, 1);
  EXPECT_EQ(db.row(bulk2).attempts, 1);
  EXPECT_EQ(db.row(confirm).provider_message_id, "");

  // b's own marks go through.
  EXPECT_EQ(b.hand_over({bulk1, bulk2}, 1600), (std::vector<std::int64_t>{bulk1, bulk2}));
  EXPECT_TRUE(b.run([&](OutboxStore& s) {
    return s.mark_sent(confirm, "smtp", SendResult::sent("250", "b-id"), 1303);
  }));
  EXPECT_TRUE(b.run([&](OutboxStore& s) {
    return s.mark_retry(bulk1, SendResult::retryable("421", "later"), 1400);
  }));
  EXPECT_TRUE(b.run([&](OutboxStore& s) { return s.hand_back(bulk2, 1400); }));
  EXPECT_EQ(db.row(confirm).state, "sent");
  EXPECT_EQ(db.row(confirm).provider_message_id, "b-id");
  EXPECT_EQ(db.row(bulk1).state, "queued");
  EXPECT_EQ(db.row(bulk2).state, "queued");
  // And once b is done with them, a's late marks still change nothing.
  EXPECT_FALSE(a.run([&](OutboxStore& s) { return s.mark_sent(bulk1, "smtp", sent, 1304); }));
  EXPECT_EQ(db.row(bulk1).state, "queued");
}

TYPED_TEST(InstancesContract, AStartReleasesItsOwnNamesLeasesAndLeavesAnotherLiveInstancesAlone) {
  auto& db = this->db();
  auto a_instance = db.backend().instance("host-a:8080");
  auto b_instance = db.backend().instance("host-b:8080");
  Outbox a{a_instance->outbox()}, b{b_instance->outbox()};
  // Both started (each releases what its name left, here nothing).
  EXPECT_EQ(a.release_own(999), 0);
  EXPECT_EQ(b.release_own(999), 0);
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  std::vector<std::int64_t> confirms, bulk;
  for (int i = 0; i < 4; ++i) {
    const auto addr = "c" + std::to_string(i) + "@example.com";
    confirms.push_back(db.enqueue_email(db.add_channel(addr), addr));
    const auto baddr = "b" + std::to_string(i) + "@example.com";
    bulk.push_back(db.enqueue_email(db.add_channel(baddr, ConsentState::kConfirmed), baddr, bc));
  }
  // Each claims half (a smaller claim limit each), and hands over one bulk message.
  auto claim_two = [](Outbox& o, std::int64_t now) {
    return o.run([&](OutboxStore& s) {
      return claim_due(s, now, ClaimLimits{4, 2, 0}, now + 300);
    });
  };
  auto claim_bulk = [](Outbox& o, std::int64_t now) {
    return o.run([&](OutboxStore& s) {
      return claim_due(s, now, ClaimLimits{2, 2, 0}, now + 300);
    });
  };
  const auto a_confirms = sorted_ids(claim_two(a, 1000));
  const auto b_confirms = sorted_ids(claim_two(b, 1000));
  const auto a_bulk = sorted_ids(claim_bulk(a, 1000));
  const auto b_bulk = sorted_ids(claim_bulk(b, 1000));
  ASSERT_EQ(a_confirms, (std::vector<std::int64_t>{confirms[0], confirms[1]}));
  ASSERT_EQ(b_confirms, (std::vector<std::int64_t>{confirms[2], confirms[3]}));
  ASSERT_EQ(a_bulk, (std::vector<std::int64_t>{bulk[0], bulk[1]}));
  ASSERT_EQ(b_bulk, (std::vector<std::int64_t>{bulk[2], bulk[3]}));
  ASSERT_EQ(a.hand_over({bulk[0]}, 1300).size(), 1u);
  ASSERT_EQ(b.hand_over({bulk[2]}, 1300).size(), 1u);

  // a dies; it starts again under its name (a new id), long before any lease runs out.
  a_instance.reset();
  auto a2_instance = db.backend().instance("host-a:8080");
  Outbox a2{a2_instance->outbox()};
  EXPECT_EQ(a2.release_own(1001), 4);
  EXPECT_EQ(db.state_of(confirms[0]), "queued");
  EXPECT_EQ(db.state_of(confirms[1]), "queued");
  EXPECT_EQ(db.state_of(bulk[0]), "unknown");  // it may have reached the provider
  EXPECT_EQ(db.state_of(bulk[1]), "queued");   // claimed, never handed over
  EXPECT_EQ(db.row(bulk[1]).attempts, 0);
  // b's leases are untouched, and b's marks still go through.
  for (auto id : {confirms[2], confirms[3], bulk[2], bulk[3]})
    EXPECT_EQ(db.state_of(id), "sending");
  EXPECT_TRUE(b.run([&](OutboxStore& s) {
    return s.mark_sent(confirms[2], "smtp", SendResult::sent("250", "x"), 1002);
  }));
  EXPECT_EQ(b.hand_over({bulk[3]}, 1300), (std::vector<std::int64_t>{bulk[3]}));
  // A second start of a's name finds nothing more of its own.
  EXPECT_EQ(a2.release_own(1002), 0);
  EXPECT_EQ(db.state_of(bulk[3]), "sending");
  // What a2 claims now is what a left: none of b's.
  const auto again = sorted_ids(a2.claim(1003, 1303));
  EXPECT_EQ(again, (std::vector<std::int64_t>{confirms[0], confirms[1], bulk[1]}));
}

TYPED_TEST(InstancesContract, ALapsedLeaseOfADeadInstanceIsTakenOverAndNeverSentTwice) {
  auto& db = this->db();
  auto dead_instance = db.backend().instance("dead");
  auto live_instance = db.backend().instance("live");
  Outbox dead{dead_instance->outbox()}, live{live_instance->outbox()};
  dead.release_own(999);
  live.release_own(999);
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  const auto confirm = db.enqueue_email(db.add_channel("c@example.com"), "c@example.com");
  const auto handed = db.enqueue_email(db.add_channel("h@example.com", ConsentState::kConfirmed),
                                       "h@example.com", bc);
  const auto claimed = db.enqueue_email(db.add_channel("k@example.com", ConsentState::kConfirmed),
                                        "k@example.com", bc);
  ASSERT_EQ(dead.claim(1000, 1300).size(), 3u);
  ASSERT_EQ(dead.hand_over({handed}, 1300).size(), 1u);
  dead_instance.reset();  // SIGKILL: nothing released

  // Another instance's start leaves them alone; so does every look before the lease runs out.
  EXPECT_EQ(live.release_own(1001), 0);
  EXPECT_EQ(live.release_expired(1300), 0);
  EXPECT_TRUE(live.claim(1300, 1600).empty());
  EXPECT_EQ(live.release_expired(1301), 3);
  EXPECT_EQ(db.state_of(confirm), "queued");  // a confirmation: at least once
  EXPECT_EQ(db.state_of(claimed), "queued");  // never reached a provider
  EXPECT_EQ(db.row(claimed).attempts, 0);
  EXPECT_EQ(db.state_of(handed), "unknown");  // may have: never sent again
  const auto taken = sorted_ids(live.claim(1301, 1600));
  EXPECT_EQ(taken, (std::vector<std::int64_t>{confirm, claimed}));
  // The handed-over one is listed among the broadcast's unknown recipients.
  const auto unknown = db.backend().broadcast_reads().recipients(bc, "unknown", 10, 0, 1301);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].outbox_id, handed);
  EXPECT_EQ(unknown[0].address, "h@example.com");
}

TYPED_TEST(InstancesContract, OneInstanceAtATimeHoldsABroadcastsRunLease) {
  auto& db = this->db();
  auto a_instance = db.backend().instance("a");
  auto b_instance = db.backend().instance("b");
  Outbox{a_instance->outbox()}.release_own(999);  // started
  Outbox{b_instance->outbox()}.release_own(999);
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  auto take = [&](Instance& i, std::int64_t now, std::int64_t until) {
    std::optional<std::int64_t> term;
    i.broadcast_transactions().run_background(
        [&](BroadcastDrafts& d, BroadcastLedger&) { term = d.take_run_lease(bc, now, until); });
    return term;
  };
  EXPECT_EQ(take(*a_instance, 1000, 1030), 1);
  EXPECT_EQ(take(*b_instance, 1001, 1031), std::nullopt);
  EXPECT_EQ(take(*a_instance, 1020, 1050), 1);  // renewed: the same term
  EXPECT_EQ(take(*b_instance, 1050, 1080), std::nullopt);
  // a stops renewing: once its lease has run out, b takes it, under a new term.
  EXPECT_EQ(take(*b_instance, 1051, 1081), 2);
  EXPECT_EQ(take(*a_instance, 1052, 1082), std::nullopt);
  EXPECT_EQ(take(*b_instance, 1060, 1090), 2);
  // Another broadcast's lease is its own.
  const auto other = db.create_broadcast(ChannelKind::kEmail);
  std::optional<std::int64_t> term;
  a_instance->broadcast_transactions().run_background(
      [&](BroadcastDrafts& d, BroadcastLedger&) { term = d.take_run_lease(other, 1061, 1091); });
  EXPECT_EQ(term, 1);
  // a dies and starts again under its name: its leases are let go at once
  // (the term goes on), b's kept.
  a_instance.reset();
  auto a2_instance = db.backend().instance("a");
  Outbox{a2_instance->outbox()}.release_own(1062);
  EXPECT_EQ(take(*b_instance, 1063, 1093), 2);
  term.reset();
  b_instance->broadcast_transactions().run_background(
      [&](BroadcastDrafts& d, BroadcastLedger&) { term = d.take_run_lease(other, 1063, 1093); });
  EXPECT_EQ(term, 2);
}

}  // namespace
}  // namespace sc::contract
