// The dispatcher against an in-memory outbox (no SQLite), driven through
// step() with a fake clock: lanes, hand-over marks, rate limits, concurrency
// caps, quiet hours and pausing a provider that refuses our credentials.
// Outcomes, retries, consent at claim time and leases run over every
// storage backend in tests/contract/dispatcher_contract_test.cpp.
#include "sc/dispatch/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "sc/core/quiet_hours.h"
#include "support/dispatcher_probe.h"
#include "support/memory_outbox.h"
#include "support/memory_storage.h"
#include "support/scripted_sender.h"
#include "support/unit_fakes.h"
#include "support/wait_for.h"

namespace sc {
namespace {

using unit::MemoryOutbox;

using unit::FakeEmail;
using unit::FakeSms;

OutboundEmail email_to(const std::string& to) {
  OutboundEmail m;
  m.message_id = "m-" + to + "@mail.example.org";
  m.from = {"news@mail.example.org", "Example"};
  m.to = {to, ""};
  m.subject = "Subject";
  m.text = "text body";
  return m;
}

OutboundSms sms_to(const std::string& to) {
  OutboundSms s;
  s.to = to;
  s.body = "Reply YES";
  return s;
}

SendResult auth_refused() {
  auto r = SendResult::permanent("smtp:535", "5.7.8 Authentication credentials invalid");
  r.auth_refused = true;
  return r;
}

class DispatcherTest : public ::testing::Test {
 protected:
  static Dispatcher::Options options() {
    Dispatcher::Options o;
    o.batch_size = 50;
    o.max_attempts = 5;
    o.base_backoff_seconds = 15;
    o.max_backoff_seconds = 100;
    o.lease_seconds = 300;
    o.idle_poll_ms = 20;
    return o;
  }
  std::int64_t queue_email(const std::string& to = "a@example.com") {
    return outbox_.add_email(7, email_to(to));
  }

  unit::FakeClock clock_{1000};
  MemoryOutbox outbox_;
  FakeEmail email_{"fake-email", clock_};
  FakeSms sms_{"fake-sms", clock_};  // expects nothing unless a test scripts it
};

// Retries of messages that failed together spread out: each delay lies in
// [delay * (1 - jitter), delay], and they are not all the same.
TEST_F(DispatcherTest, BackoffJitterSpreadsRetriesWithinItsFraction) {
  auto o = options();
  o.backoff_jitter = 0.5;
  Dispatcher d(outbox_, email_, sms_, clock_, o);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    const auto v = d.jittered_backoff_seconds(3);  // 60 s before jitter
    EXPECT_GE(v, 30);
    EXPECT_LE(v, 60);
    seen.insert(v);
  }
  EXPECT_GT(seen.size(), 10u);
}

TEST_F(DispatcherTest, ACorruptPayloadFailsForGoodWithoutReachingTheProvider) {
  auto id = queue_email();               // email_ has no script: a send fails the test
  outbox_.set_payload(id, "{not json");  // decode() throws for it, as storage's does
  Dispatcher d(outbox_, email_, sms_, clock_, options());
  EXPECT_EQ(d.step(), 1u);
  auto r = outbox_.row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.last_code, "payload");
  EXPECT_NE(r.last_error.find("corrupt"), std::string::npos) << r.last_error;
}

// The thread claims the next batch while one is with the provider. A crash
// at that moment must not make the claimed batch unknown: it never left. So
// a bulk message is marked handed over before its request, and only just
// before it: one request in flight (the sender's cap) and at most one more
// marked ahead (half the cap, at least one).
TEST_F(DispatcherTest, BulkMessagesAreHandedOverBeforeTheirRequestAndNotWhenMerelyClaimed) {
  outbox_.add_bulk_emails(8, 42);
  std::promise<void> gate;
  auto open = gate.get_future().share();
  std::atomic<bool> blocked{false};
  std::atomic<int> not_handed_over{0};
  email_.set_script([&](const OutboundEmail& m, int) {
    if (!outbox_.row(m.outbox_id).handed_over()) ++not_handed_over;
    if (m.outbox_id == 1) {
      blocked = true;
      open.wait();  // the first batch stays with the provider for a while
    }
    return SendResult::sent("202", std::to_string(m.outbox_id));
  });
  auto opts = options();
  opts.batch_size = 4;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  d.start();
  ASSERT_TRUE(testing::wait_for([&] { return blocked.load(); }));
  // The next batch is claimed meanwhile, and not handed over.
  ASSERT_TRUE(testing::wait_for([&] { return outbox_.row(8).state == "sending"; }));
  EXPECT_TRUE(outbox_.row(1).handed_over());
  for (std::int64_t id = 3; id <= 8; ++id) EXPECT_FALSE(outbox_.row(id).handed_over()) << id;
  // A crash now: what a restart finds. (A copy: the dispatcher goes on.)
  {
    MemoryOutbox after_crash;
    after_crash.add_bulk_emails(8, 42);
    after_crash.run([](const OutboxTransaction& c) {
      auto first = claim_due(c.outbox, 1000, 4, 2000);
      claim_due(c.outbox, 1000, 4, 2000);
      c.outbox.mark_handed_over({first[0].id, first[1].id}, 2000);
      c.outbox.release_own(2000);
    });
    EXPECT_EQ(after_crash.count("unknown"), 2u);
    EXPECT_EQ(after_crash.count("queued"), 6u);
  }
  gate.set_value();
  ASSERT_TRUE(testing::wait_for([&] { return outbox_.count("sent") == 8u; }));
  d.stop();
  EXPECT_EQ(not_handed_over.load(), 0);
}

// Issue 14 point 6: what a crash would leave unknown (handed over, outcome
// not written) never exceeds what is with the provider plus what is marked
// ahead: the sender's in-flight cap and half of it. It was the whole
// claimed batch (here 200) when the batch was marked at once.
TEST_F(DispatcherTest, AtAnyMomentOnlyTheRequestsInFlightAndHalfTheCapAreHandedOverUnrecorded) {
  outbox_.add_bulk_emails(200, 42);
  std::size_t worst = 0;
  email_.in_flight = 16;
  email_.set_script([&](const OutboundEmail& m, int) {
    worst = std::max(worst, outbox_.count_handed_over_unrecorded());
    return SendResult::sent("202", std::to_string(m.outbox_id));
  });
  auto opts = options();
  opts.batch_size = 200;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  ASSERT_EQ(d.step(), 200u);
  EXPECT_EQ(outbox_.count("sent"), 200u);
  EXPECT_GE(worst, 1u);
  EXPECT_LE(worst, 16u + 8u);
  EXPECT_EQ(outbox_.count_handed_over_unrecorded(), 0u);
}

// Issue 14 point 5: an operator's pause, committed while the broadcast's
// batch is with the provider, stops it within the requests in flight and
// those marked ahead; the rest goes back to the queue, its attempt not
// counted. Before, the whole claimed batch (here 100) went out.
TEST_F(DispatcherTest, APauseStopsTheBatchWithTheProviderWithinItsInFlightCap) {
  outbox_.add_bulk_emails(100, 9);
  outbox_.add_email(7, email_to("confirm@example.com"));  // transactional: not held
  email_.in_flight = 8;
  std::atomic<bool> paused{false};
  email_.set_script([&](const OutboundEmail& m, int) {
    if (m.outbox_id != 101 && !paused.exchange(true)) outbox_.pause(9, "paused by an operator");
    return SendResult::sent("202", std::to_string(m.outbox_id));
  });
  auto opts = options();
  opts.batch_size = 200;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  ASSERT_EQ(d.step(), 101u);
  EXPECT_EQ(outbox_.row(101).state, "sent");
  const auto bulk_sent = email_.call_count() - 1;
  EXPECT_GE(bulk_sent, 1u);
  EXPECT_LE(bulk_sent, 8u + 4u);  // in flight, and marked ahead
  EXPECT_EQ(outbox_.count("sent"), bulk_sent + 1);
  EXPECT_EQ(outbox_.count("queued"), 100u - bulk_sent);
  for (std::int64_t id = 1; id <= 100; ++id) {
    const auto r = outbox_.row(id);
    if (r.state == "queued") {
      EXPECT_EQ(r.attempts, 0) << id;
    }
  }
  EXPECT_EQ(d.step(), 0u);  // nothing more while it is paused
}

// ---- Two lanes ----

TEST_F(DispatcherTest, AConfirmationQueuedBehind100000BulkMessagesGoesOutInTheNextStep) {
  email_.set_script([](const OutboundEmail& m, int) {
    return SendResult::sent("202", std::to_string(m.outbox_id));
  });
  outbox_.add_bulk_emails(100'000, 42);
  auto opts = options();
  opts.batch_size = 512;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  ASSERT_EQ(d.step(), 512u);  // the backlog is draining
  const auto signed_up_ms = clock_.now_ms();
  const auto confirm = outbox_.add_email(7, email_to("new@example.com"));  // a sign-up now
  ASSERT_EQ(d.step(), 512u);
  // The next step took it, ahead of 99,488 older bulk messages, and the
  // clock did not move: within 1 s of the sign-up.
  EXPECT_EQ(outbox_.row(confirm).state, "sent");
  ASSERT_FALSE(email_.calls.empty());
  EXPECT_EQ(email_.calls[512].outbox_id, confirm);  // first of its step
  EXPECT_LT(email_.call_ms[512] - signed_up_ms, 1000);
  EXPECT_EQ(outbox_.count("sent"), 1024u);
  EXPECT_EQ(outbox_.row(1).lane, OutboxLane::kBulk);
  EXPECT_EQ(outbox_.row(confirm).lane, OutboxLane::kTransactional);
}

TEST_F(DispatcherTest, BulkStillDrainsWhenNoTransactionalMessageIsDue) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "b"); });
  outbox_.add_bulk_emails(120, 1);
  const auto later = outbox_.add_email(7, email_to("later@example.com"), 0, 5000);  // not due yet
  Dispatcher d(outbox_, email_, sms_, clock_, options());
  std::size_t total = 0;
  while (auto n = d.step()) total += n;
  EXPECT_EQ(total, 120u);
  EXPECT_EQ(outbox_.row(later).state, "queued");
}

TEST_F(DispatcherTest, ABroadcastStopsSendingWithinItsBatchOnceErrorsInARowReachTheLimit) {
  email_.set_script([](const OutboundEmail&, int) {
    return SendResult::permanent("400", "The from address is not verified");
  });
  outbox_.add_bulk_emails(100, 9);
  outbox_.add_bulk_emails(3, 0);  // ordinary bulk rows are never held back
  auto opts = options();
  opts.batch_size = 200;
  opts.email.concurrency = 2;
  opts.broadcast_pause_after_errors = 5;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  ASSERT_EQ(d.step(), 103u);
  // Chunks of 2: once the 5th error is in, nothing more of the broadcast
  // goes (at most the rest of that chunk); its rest is handed back (attempt
  // not counted), and it is paused. Without the check all 100 went.
  EXPECT_EQ(email_.call_count(), 103u - outbox_.count("queued"));
  const auto broadcast_sends = email_.call_count() - 3;
  EXPECT_GE(broadcast_sends, 5u);
  EXPECT_LE(broadcast_sends, 6u);
  EXPECT_EQ(outbox_.count("failed"), email_.call_count());
  ASSERT_TRUE(outbox_.paused_broadcasts.contains(9));
  EXPECT_EQ(outbox_.paused_broadcasts.at(9),
            "5 errors in a row; the last: 400 The from address is not verified");
  EXPECT_EQ(outbox_.row(100).attempts, 0);
}

// ---- Rate limit and concurrency ----

TEST(TokenBucket, NeverMoreThanTheRateInAnySlidingOneSecondWindow) {
  TokenBucket bucket(10);
  std::vector<std::int64_t> takes;  // ms of each token taken
  // Ask for 3 tokens every 70 ms for 5 s, taking what is available.
  for (std::int64_t t = 0; t < 5000; t += 70) {
    const int n = std::min(3, bucket.available(t));
    bucket.take(t, n);
    for (int i = 0; i < n; ++i) takes.push_back(t);
  }
  // Every window [s, s + 1000) for every start s, in ms.
  int busiest = 0;
  for (std::int64_t s = -1000; s < 5000; ++s) {
    const auto n = std::count_if(takes.begin(), takes.end(),
                                 [&](std::int64_t t) { return t >= s && t < s + 1000; });
    busiest = std::max(busiest, static_cast<int>(n));
  }
  EXPECT_EQ(busiest, 10);  // exact: never 11, and the rate is reached
  // Over 5 s at 10/s: at most 50, and close to it (demand is 43/s).
  EXPECT_LE(takes.size(), 50u);
  EXPECT_GE(takes.size(), 45u);
}

TEST(TokenBucket, ATokenComesBackExactlyOneSecondAfterItWasTaken) {
  TokenBucket bucket(2);
  bucket.take(100, 2);
  EXPECT_EQ(bucket.available(100), 0);
  EXPECT_EQ(bucket.available(1099), 0);
  EXPECT_EQ(bucket.next_available_ms(500), 1100);
  EXPECT_EQ(bucket.available(1100), 2);
  EXPECT_THROW(bucket.take(1100, 3), std::logic_error);
  TokenBucket unlimited(0);
  EXPECT_TRUE(unlimited.unlimited());
  EXPECT_GT(unlimited.available(0), 1'000'000);
}

TEST_F(DispatcherTest, ARateLimitedProviderGetsAtMostItsRateInAnyOneSecondWindow) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "r"); });
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 35; ++i) ids.push_back(queue_email("r" + std::to_string(i) + "@example.com"));
  auto opts = options();
  opts.email.rate_per_second = 10;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  for (int i = 0; i < 60 && outbox_.count("sent") < 35; ++i) {
    d.step();
    clock_.advance_ms(100);
  }
  ASSERT_EQ(outbox_.count("sent"), 35u);
  const auto& at = email_.call_ms;
  ASSERT_EQ(at.size(), 35u);
  for (std::size_t i = 10; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 10], 1000) << "11 sends within one second, the 11th at " << at[i];
  }
  // Paced, not throttled further: 35 messages at 10/s take a little over 3 s.
  EXPECT_LE(at.back() - at.front(), 3100);
  for (auto id : ids)
    EXPECT_EQ(outbox_.row(id).attempts, 1) << "a message waiting for the rate lost an attempt";
}

// ---- A provider's rate across instances (sc/core/rate_grants.h) ----

// The database's grants (the memory store's, on the test's clock), counting asks.
class CountingGrants final : public RateGrants {
 public:
  explicit CountingGrants(RateGrants& db) : db_(db) {}
  RateGrant grant(const std::string& provider, int rate, int want) override {
    ++asks;
    keys.insert(provider);
    return db_.grant(provider, rate, want);
  }
  int asks = 0;
  std::set<std::string> keys;

 private:
  RateGrants& db_;
};

// At most `limit` of the times `at` (sorted) in any interval [t, t + 1000 ms).
void expect_at_most_per_second(const std::vector<std::int64_t>& at, std::size_t limit) {
  for (std::size_t i = limit; i < at.size(); ++i)
    EXPECT_GE(at[i] - at[i - limit], 1000)
        << limit + 1 << " sends within one second, the last at " << at[i];
}

// Two processes on one database (two dispatchers over one outbox, with the
// database's grants): together they send at most the rate plus one slice
// in any one second, exactly the rate in each second of the database's
// clock, and still the whole rate between them.
TEST_F(DispatcherTest, TwoDispatchersOnOneDatabaseTogetherKeepTheProvidersRate) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "r"); });
  const int total = 200;
  for (int i = 0; i < total; ++i) queue_email("t" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.email.rate_per_second = 20;  // slots of 2: a slice is 2
  unit::MemoryStorage db(clock_);
  CountingGrants grants(db.rate_grants());
  Dispatcher a(outbox_, email_, sms_, clock_, opts);
  Dispatcher b(outbox_, email_, sms_, clock_, opts);
  a.set_rate_grants(&grants);
  b.set_rate_grants(&grants);
  for (int i = 0; i < 3000 && outbox_.count("sent") < static_cast<std::size_t>(total); ++i) {
    a.step();
    clock_.advance_ms(5);
    b.step();
    clock_.advance_ms(5);
  }
  ASSERT_EQ(outbox_.count("sent"), static_cast<std::size_t>(total));
  const auto& at = email_.call_ms;
  ASSERT_EQ(at.size(), static_cast<std::size_t>(total));
  expect_at_most_per_second(at, 20 + rate_slice(20));
  std::map<std::int64_t, int> per_second;
  for (auto t : at) ++per_second[t / 1000];
  for (const auto& [second, n] : per_second) EXPECT_LE(n, 20) << "in second " << second;
  // The whole rate between them: 200 at 20/s take 10 s, not more.
  EXPECT_LE(at.back() - at.front(), 10'000);
  EXPECT_EQ(grants.keys, (std::set<std::string>{"email:fake-email"}));
  // A round trip per slot and dispatcher at most, never one per message.
  EXPECT_LE(grants.asks, 2 * static_cast<int>((at.back() - at.front()) / kRateSlotMs + 2));
}

// One process alone with the grants still sends at its full rate, and
// asks the database once per slice.
TEST_F(DispatcherTest, OneDispatcherWithGrantsStillReachesTheFullRate) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "r"); });
  for (int i = 0; i < 100; ++i) queue_email("o" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.email.rate_per_second = 20;
  unit::MemoryStorage db(clock_);
  CountingGrants grants(db.rate_grants());
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  d.set_rate_grants(&grants);
  for (int i = 0; i < 2000 && outbox_.count("sent") < 100u; ++i) {
    d.step();
    clock_.advance_ms(10);
  }
  ASSERT_EQ(outbox_.count("sent"), 100u);
  const auto& at = email_.call_ms;
  expect_at_most_per_second(at, 20);
  EXPECT_LE(at.back() - at.front(), 5'000);  // 100 at 20/s
  EXPECT_LE(grants.asks, 100 / rate_slice(20) + 1);
}

// Without a rate nothing is asked of the database: sending stays as fast as before.
TEST_F(DispatcherTest, AnUnlimitedProviderNeverAsksForAGrant) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "u"); });
  for (int i = 0; i < 40; ++i) queue_email("u" + std::to_string(i) + "@example.com");
  unit::MemoryStorage db(clock_);
  CountingGrants grants(db.rate_grants());
  Dispatcher d(outbox_, email_, sms_, clock_, options());
  d.set_rate_grants(&grants);
  EXPECT_EQ(d.step(), 40u);
  EXPECT_EQ(email_.call_count(), 40u);
  EXPECT_EQ(grants.asks, 0);
}

// A failing grant (the database is away) sends nothing and hands the
// messages back unharmed; sending resumes once grants work again.
TEST_F(DispatcherTest, AFailingGrantSendsNothingAndLosesNoAttempt) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "f"); });
  const auto id = queue_email("f@example.com");
  struct Failing final : RateGrants {
    RateGrant grant(const std::string&, int, int) override {
      if (fail) throw std::runtime_error("the database is away");
      return {1, 50, 0};
    }
    bool fail = true;
  } grants;
  auto opts = options();
  opts.email.rate_per_second = 5;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  d.set_rate_grants(&grants);
  d.step();
  EXPECT_EQ(email_.call_count(), 0u);
  EXPECT_EQ(outbox_.row(id).state, "queued");
  EXPECT_EQ(outbox_.row(id).attempts, 0);
  grants.fail = false;
  clock_.advance_ms(1000);
  d.step();
  EXPECT_EQ(email_.call_count(), 1u);
}

TEST_F(DispatcherTest, OneProvidersRateLimitDoesNotHoldTheOther) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "e"); });
  sms_.set_script([](const OutboundSms&, int) { return SendResult::sent("201", "s"); });
  for (int i = 0; i < 5; ++i) outbox_.add_sms(8, sms_to("+1415555010" + std::to_string(i)));
  for (int i = 0; i < 20; ++i) queue_email("e" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.sms.rate_per_second = 1;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  d.step();
  EXPECT_EQ(email_.call_count(), 20u);
  EXPECT_EQ(sms_.call_count(), 1u);
  clock_.advance_ms(999);
  d.step();
  EXPECT_EQ(sms_.call_count(), 1u);
  clock_.advance_ms(1);
  d.step();
  EXPECT_EQ(sms_.call_count(), 2u);
}

TEST_F(DispatcherTest, TheConcurrencyCapBoundsEachHandOverToTheProvider) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "c"); });
  for (int i = 0; i < 10; ++i) queue_email("c" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.email.concurrency = 4;
  email_.in_flight = 64;  // the sender could take more at once
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  EXPECT_EQ(d.step(), 10u);
  EXPECT_EQ(email_.batch_sizes, (std::vector<std::size_t>{4, 4, 2}));
}

// ---- Pausing a provider that refuses our credentials ----

TEST_F(DispatcherTest,
       AuthRefusalsPauseTheProviderWithoutBurningAttemptsThenProbesWithBackoffAndResumes) {
  bool accept = false;
  email_.set_script([&](const OutboundEmail&, int) {
    return accept ? SendResult::sent("250", "ok") : auth_refused();
  });
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(queue_email("p" + std::to_string(i) + "@example.com"));
  auto opts = options();
  opts.email.concurrency = 1;  // one message per hand-over, so the pause stops the batch
  opts.pause_after_auth_refusals = 3;
  opts.probe_base_ms = 10'000;
  opts.probe_max_ms = 40'000;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);

  EXPECT_EQ(d.step(), 10u);
  EXPECT_EQ(email_.call_count(), 3u);  // three refusals, then paused
  for (auto id : ids) {
    EXPECT_EQ(outbox_.row(id).state, "queued") << id;
    EXPECT_EQ(outbox_.row(id).attempts, 0) << "an auth refusal burnt an attempt of " << id;
  }
  auto states = d.provider_states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].name, "fake-email");
  EXPECT_EQ(states[0].channel, "email");
  EXPECT_TRUE(states[0].paused);
  EXPECT_EQ(states[0].reason, "smtp:535 5.7.8 Authentication credentials invalid");
  EXPECT_EQ(states[0].since, 1000);
  EXPECT_EQ(states[0].consecutive_failures, 3);
  EXPECT_EQ(states[0].next_probe_at_ms, 1'000'000 + 10'000);
  EXPECT_FALSE(states[1].paused);

  // Paused: nothing is claimed for it until the probe is due.
  clock_.advance_ms(9'999);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(email_.call_count(), 3u);
  // The probe: one message, refused, so the next probe waits twice as long.
  clock_.advance_ms(1);
  EXPECT_EQ(d.step(), 1u);
  EXPECT_EQ(email_.call_count(), 4u);
  EXPECT_EQ(d.provider_states()[0].next_probe_at_ms, 1'010'000 + 20'000);
  clock_.advance_ms(19'999);
  EXPECT_EQ(d.step(), 0u);
  clock_.advance_ms(1);
  EXPECT_EQ(d.step(), 1u);
  EXPECT_EQ(email_.call_count(), 5u);
  EXPECT_EQ(d.provider_states()[0].next_probe_at_ms, 1'030'000 + 40'000);
  // Capped at probe_max_ms.
  clock_.advance_ms(40'000);
  EXPECT_EQ(d.step(), 1u);
  EXPECT_EQ(d.provider_states()[0].next_probe_at_ms, 1'070'000 + 40'000);

  // The credentials are fixed: the next probe is accepted and it resumes by itself.
  accept = true;
  clock_.advance_ms(40'000);
  EXPECT_EQ(d.step(), 1u);  // the probe alone
  EXPECT_FALSE(d.provider_states()[0].paused);
  EXPECT_EQ(d.provider_states()[0].consecutive_failures, 0);
  EXPECT_EQ(d.step(), 9u);  // claimed again at full speed
  EXPECT_EQ(d.step(), 0u);
  for (auto id : ids) {
    EXPECT_EQ(outbox_.row(id).state, "sent") << id;
    EXPECT_EQ(outbox_.row(id).attempts, 1) << id;  // the refused tries never counted
  }
  const auto counters = DispatcherProbe::provider_counters(d);
  EXPECT_EQ(counters[0].auth_refused, 6u);
  EXPECT_EQ(counters[0].sent, 10u);
}

TEST_F(DispatcherTest, APausedEmailProviderDoesNotStopTexts) {
  email_.set_script([](const OutboundEmail&, int) { return auth_refused(); });
  sms_.set_script([](const OutboundSms&, int) { return SendResult::sent("201", "s"); });
  for (int i = 0; i < 3; ++i) queue_email("x" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.pause_after_auth_refusals = 3;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  d.step();
  ASSERT_TRUE(d.provider_states()[0].paused);
  auto s = outbox_.add_sms(8, sms_to("+14155550100"));
  EXPECT_EQ(d.step(), 1u);  // only the text: the paused provider's mail is not claimed
  EXPECT_EQ(outbox_.row(s).state, "sent");
  EXPECT_EQ(email_.call_count(), 3u);
}

TEST_F(DispatcherTest, FewerRefusalsThanTheThresholdDoNotPauseAndAnAcceptanceResetsTheCount) {
  int n = 0;
  email_.set_script([&](const OutboundEmail&, int) {
    return ++n % 3 == 0 ? SendResult::sent("250", "ok") : auth_refused();
  });
  for (int i = 0; i < 6; ++i) queue_email("y" + std::to_string(i) + "@example.com");
  auto opts = options();
  opts.email.concurrency = 1;
  opts.pause_after_auth_refusals = 3;
  Dispatcher d(outbox_, email_, sms_, clock_, opts);
  for (int i = 0; i < 10 && outbox_.count("sent") < 6; ++i) d.step();
  EXPECT_FALSE(d.provider_states()[0].paused);
  EXPECT_EQ(outbox_.count("sent"), 6u);
}

TEST_F(DispatcherTest, TheSendObserverSeesEveryAnswerWithItsProvider) {
  email_.set_script([](const OutboundEmail& m, int) {
    return m.outbox_id == 1 ? SendResult::sent("202", "a") : SendResult::permanent("400", "bad");
  });
  queue_email();
  queue_email("b@example.com");
  Dispatcher d(outbox_, email_, sms_, clock_, options());
  std::vector<std::pair<std::string, SendStatus>> seen;
  d.set_send_observer([&](const std::string& provider, const SendResult& r, double seconds) {
    EXPECT_GE(seconds, 0.0);
    seen.emplace_back(provider, r.status);
  });
  d.step();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("fake-email"), SendStatus::kSent));
  EXPECT_EQ(seen[1], std::make_pair(std::string("fake-email"), SendStatus::kPermanent));
  const auto c = DispatcherProbe::provider_counters(d);
  EXPECT_EQ(c[0].sent, 1u);
  EXPECT_EQ(c[0].permanent, 1u);
  const auto depth = d.outbox_depth();
  ASSERT_EQ(depth.cells.size(), 4u);
  for (const auto& cell : depth.cells)
    EXPECT_EQ(cell.count, 0) << to_string(cell.lane) << " " << cell.state;
}

// Quiet hours with an injected clock: a broadcast text waits until 8:00 where
// the recipient is (New York and Los Angeles by area code); a confirmation
// (transactional) is never held.
TEST_F(DispatcherTest, BroadcastTextsWaitForTheRecipientsSendWindow) {
  Dispatcher d(outbox_, email_, sms_, clock_, options());
  const QuietHours window{8 * 60, 21 * 60};
  d.set_quiet_hours([window](const std::string& to, std::int64_t at) {
    return quiet_hours_wait_until(to, at, window);
  });
  sms_.set_script([](const OutboundSms&, int) { return SendResult::sent("201", "SM1"); });
  const std::int64_t t = 1768481940;  // 2026-01-15 12:59:00 UTC: 07:59 in New York
  clock_.set(t);
  auto ny = outbox_.add_sms(1, sms_to("+12125550100"), 0, 7);
  auto la = outbox_.add_sms(2, sms_to("+13105550100"), 0, 7);
  auto confirm = outbox_.add_sms(3, sms_to("+12125550101"));
  d.step();
  ASSERT_EQ(sms_.calls.size(), 1u);
  EXPECT_EQ(sms_.calls[0].to, "+12125550101");
  EXPECT_EQ(outbox_.row(confirm).state, "sent");
  EXPECT_EQ(outbox_.row(ny).state, "queued");
  EXPECT_EQ(outbox_.row(ny).next_attempt_at, 1768482000);   // 13:00 UTC = 08:00 EST
  EXPECT_EQ(outbox_.row(ny).attempts, 0);                   // waiting is not an attempt
  EXPECT_EQ(outbox_.row(ny).wait_reason, kWaitQuietHours);  // reads show it waiting
  EXPECT_EQ(outbox_.row(la).next_attempt_at, 1768492800);   // 16:00 UTC = 08:00 PST
  EXPECT_EQ(outbox_.row(la).wait_reason, kWaitQuietHours);
  EXPECT_EQ(outbox_.row(confirm).wait_reason, "");
  clock_.set(1768482000);
  d.step();
  ASSERT_EQ(sms_.calls.size(), 2u);
  EXPECT_EQ(sms_.calls[1].to, "+12125550100");
  EXPECT_EQ(outbox_.row(ny).wait_reason, "");  // claimed: no longer waiting
  EXPECT_EQ(outbox_.row(la).state, "queued");
  EXPECT_EQ(outbox_.row(la).wait_reason, kWaitQuietHours);
  clock_.set(1768492800);
  d.step();
  ASSERT_EQ(sms_.calls.size(), 3u);
  EXPECT_EQ(outbox_.row(la).state, "sent");
}

// At every hour of a day (fake clock), a broadcast text to New York (08:00-
// 21:00 EST = 13:00-02:00 UTC in January) either goes, or is held as waiting
// (its reason recorded) until 13:00 UTC; a text handed back for another
// reason is queued, never shown as waiting.
TEST_F(DispatcherTest, HeldTextsAreRecordedAsWaitingForQuietHoursAtEveryHour) {
  const QuietHours window{8 * 60, 21 * 60};
  const std::int64_t day = 1768435200;  // 2026-01-15T00:00:00Z
  for (int hour = 0; hour < 24; ++hour) {
    MemoryOutbox outbox;
    FakeSms sms("fake-sms", clock_,
                [](const OutboundSms&, int) { return SendResult::sent("201", "SM1"); });
    Dispatcher d(outbox, email_, sms, clock_, options());
    d.set_quiet_hours([window](const std::string& to, std::int64_t at) {
      return quiet_hours_wait_until(to, at, window);
    });
    const auto now = day + hour * 3600;
    clock_.set(now);
    auto id = outbox.add_sms(1, sms_to("+12125550100"), 0, 7);
    d.step();
    const bool open = hour >= 13 || hour < 2;
    const auto row = outbox.row(id);
    if (open) {
      EXPECT_EQ(row.state, "sent") << hour;
      EXPECT_EQ(row.wait_reason, "") << hour;
    } else {
      EXPECT_EQ(row.state, "queued") << hour;
      EXPECT_EQ(row.wait_reason, kWaitQuietHours) << hour;
      EXPECT_EQ(row.next_attempt_at, hour < 13 ? day + 13 * 3600 : day + 37 * 3600) << hour;
      EXPECT_EQ(row.attempts, 0) << hour;
    }
  }
  // Handed back for another reason (the provider refused our credentials):
  // queued, never shown as waiting.
  MemoryOutbox outbox;
  FakeSms sms("fake-sms", clock_, [](const OutboundSms&, int) { return auth_refused(); });
  Dispatcher d(outbox, email_, sms, clock_, options());
  d.set_quiet_hours([window](const std::string& to, std::int64_t at) {
    return quiet_hours_wait_until(to, at, window);
  });
  clock_.set(day + 15 * 3600);
  auto id = outbox.add_sms(1, sms_to("+12125550100"), 0, 7);
  d.step();
  EXPECT_EQ(sms.calls.size(), 1u);
  EXPECT_EQ(outbox.row(id).state, "queued");
  EXPECT_EQ(outbox.row(id).wait_reason, "");
}

}  // namespace
}  // namespace sc
