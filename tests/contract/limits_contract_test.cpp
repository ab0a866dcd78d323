// The limits that must hold when several instances share one database
// (issue 16, point 4): each case races two instances, each with a writer
// (a connection) of its own, as two processes behind a load balancer would.
// SQLite's single writer serialises them; PostgreSQL under READ COMMITTED
// does not, so there the storage must: a lock, a unique key and the
// writer's retry of a job that hit another instance's commit (23505).
// The memory backend's instances share one store (one process).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "contract/backends.h"
#include "sc/core/consent_service.h"

namespace sc::contract {
namespace {

template <class B>
class LimitsAcrossInstances : public Contract<B> {
 protected:
  // `threads` threads per instance over two instances, each running fn(instance, thread)
  // from the same moment.
  void race(int threads, const std::function<void(Instance&, int)>& fn) {
    auto a = this->backend().another_instance();
    auto b = this->backend().another_instance();
    Instance* instances[2] = {a.get(), b.get()};
    std::latch start(2 * threads);
    std::vector<std::thread> ts;
    for (int i = 0; i < 2; ++i) {
      for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, inst = instances[i], n = i * threads + t] {
          start.arrive_and_wait();
          try {
            fn(*inst, n);
          } catch (const std::exception& e) {
            ADD_FAILURE() << "instance thread " << n << ": " << e.what();
          }
        });
      }
    }
    for (auto& t : ts) t.join();
  }
};
TYPED_TEST_SUITE(LimitsAcrossInstances, Backends, BackendNames);

// The SMS pumping cap: each sign-up counts, then records (ConsentService).
// Under READ COMMITTED both instances counted below the cap and both
// recorded; the count's lock makes the second wait for the first's commit.
TYPED_TEST(LimitsAcrossInstances, TheSmsConfirmCapHoldsAcrossInstances) {
  constexpr std::int64_t kCap = 20;
  std::atomic<int> passed{0};
  this->race(4, [&](Instance& inst, int n) {
    for (int i = 0; i < 8; ++i) {
      const bool ok = inst.unit_of_work().write([&](const Transaction& tx) {
        const SmsConfirmKeys keys{"203.0.113." + std::to_string(n),
                                  "+1415555" + std::to_string(1000 + n * 10 + i), "+1415555"};
        if (tx.sms_confirms.count_sms_confirms(SmsLimit::kDaily, "", 0) >= kCap) return false;
        // Between the count and the record: where another instance's
        // sign-up got in before the lock (widened so that a race, if
        // there is one, shows in every run).
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        tx.sms_confirms.record_sms_confirm(keys, 1000, 0);
        return true;
      });
      if (ok) ++passed;
    }
  });
  EXPECT_EQ(passed.load(), kCap);
  const auto recorded = this->db().write([](const Transaction& tx) {
    return tx.sms_confirms.count_sms_confirms(SmsLimit::kDaily, "", 0);
  });
  EXPECT_EQ(recorded, kCap);
}

// One address signed up on two instances at once (a double submit through
// a load balancer): one subscriber, one channel and one confirmation
// email; the confirmation cooldown, kept on the channel row, holds. The
// second instance's insert of the channel fails on its unique address
// (23505), runs again, and then finds the channel the first committed.
TYPED_TEST(LimitsAcrossInstances, ASignUpOnTwoInstancesAtOnceQueuesOneConfirmation) {
  ServiceConfig config;
  config.public_url = "https://news.example.org/";
  config.org_name = "Example Org";
  config.postal_address = "1 Main St, Springfield";
  config.from = Mailbox{"news@mail.example.org", "Example Org"};
  config.confirm_ttl_seconds = 7 * 86400;
  config.confirm_cooldown_seconds = 600;
  config.email_consent = ConsentText{"email-v1", "By signing up...", std::string(64, 'e')};
  config.sms_consent = ConsentText{"sms-v1", "I agree to texts...", std::string(64, 's')};
  this->backend().register_consent_text(ChannelKind::kEmail, config.email_consent);
  const std::int64_t now = 950;
  // Each thread is an instance's request: a service of its own, as each process has.
  std::atomic<int> queued{0};
  this->race(2, [&](Instance& inst, int n) {
    unit::FakeSigner signer("the-shared-secret");
    unit::RecordingComposer composer;
    unit::CountingIds ids;
    ConsentService service(config, signer, composer, nullptr, ids);
    SignupRequest r;
    r.email = "twice@example.org";
    auto v = service.validate(r);
    ASSERT_TRUE(v.ok());
    for (int i = 0; i < 3; ++i) {
      const auto out = inst.unit_of_work().write([&](const Transaction& tx) {
        return service.sign_up(tx, v.value(),
                               RequestContext{"198.51.100." + std::to_string(n), "ua"}, now);
      });
      EXPECT_TRUE(out.email);
      if (out.queued_email) ++queued;
    }
  });
  EXPECT_EQ(queued.load(), 1);
  const auto claimed = this->db().claim(1000, 100);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].purpose, "confirm");
  EXPECT_TRUE(
      this->backend().reads().subscriber_by_channel(ChannelKind::kEmail, "twice@example.org"));
}

// The same for a per-number limit: the lock is per key, so two numbers do not wait for each other.
TYPED_TEST(LimitsAcrossInstances, APerNumberLimitHoldsAcrossInstances) {
  constexpr std::int64_t kLimit = 5;
  std::atomic<int> passed{0};
  this->race(3, [&](Instance& inst, int) {
    for (int i = 0; i < 6; ++i) {
      const bool ok = inst.unit_of_work().write([&](const Transaction& tx) {
        const SmsConfirmKeys keys{"", "+14155550100", "+1415555"};
        if (tx.sms_confirms.count_sms_confirms(SmsLimit::kNumber, keys.number, 0) >= kLimit)
          return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(3));  // as above
        tx.sms_confirms.record_sms_confirm(keys, 1000, 0);
        return true;
      });
      if (ok) ++passed;
    }
  });
  EXPECT_EQ(passed.load(), kLimit);
}

// A broadcast create retried with its Idempotency-Key on two instances at
// once (the route's transaction: look the key up, else insert): one
// broadcast, and both answers name it. The second insert fails on the
// unique key (23505) once the first commits; the writer runs the job again
// and the look-up then finds the first.
TYPED_TEST(LimitsAcrossInstances, AnIdempotencyKeyMakesOneBroadcastAcrossInstances) {
  constexpr int kKeys = 8;
  std::mutex mu;
  std::map<int, std::set<std::int64_t>> ids;  // by key
  this->race(2, [&](Instance& inst, int) {
    for (int k = 0; k < kKeys; ++k) {
      std::int64_t id = 0;
      inst.broadcast_transactions().run([&](const BroadcastTransaction& tx) {
        const auto key = "retry-" + std::to_string(k);
        if (auto prior = tx.drafts.find_by_idempotency_key("ops", key)) {
          id = prior->id;
          return;
        }
        Broadcast b;
        b.channel = ChannelKind::kEmail;
        b.subject = "S";
        b.text = "T";
        b.idempotency_key = key;
        b.created_by = "ops";
        b.created_at = 1000;
        id = tx.drafts.insert(b);
      });
      std::lock_guard lk(mu);
      ids[k].insert(id);
    }
  });
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [k, set] : ids)
    EXPECT_EQ(set.size(), 1u) << "key " << k << " made " << set.size();
  EXPECT_EQ(this->backend().broadcast_reads().list(100, 0).size(), static_cast<std::size_t>(kKeys));
}

// A webhook delivered to both instances at once (a provider's retry, or
// two deliveries of one event): taken once. SendGrid's sg_event_id through
// first_provider_event; Twilio's MessageSid through the inbound texts
// (seen, else insert: the second insert hits the unique MessageSid and runs
// again, and then sees it).
TYPED_TEST(LimitsAcrossInstances, AWebhookEventIsTakenOnceAcrossInstances) {
  constexpr int kEvents = 10;
  std::atomic<int> first_events{0}, inbound_inserts{0};
  this->race(2, [&](Instance& inst, int) {
    for (int e = 0; e < kEvents; ++e) {
      const bool first = inst.unit_of_work().write([&](const Transaction& tx) {
        return tx.deliveries.first_provider_event("sendgrid", "sg-" + std::to_string(e), 1000);
      });
      if (first) ++first_events;
      const bool inserted = inst.unit_of_work().write([&](const Transaction& tx) {
        const auto sid = "SM" + std::to_string(e);
        if (tx.inbound_texts.inbound_text_seen(sid)) return false;
        StoredInboundText t;
        t.message_sid = sid;
        t.from = "+14155550100";
        t.body = "STOP";
        t.keyword = "opt_out";
        t.outcome = "unsubscribed";
        t.received_at = 1000;
        tx.inbound_texts.insert_inbound_text(t);
        return true;
      });
      if (inserted) ++inbound_inserts;
    }
  });
  EXPECT_EQ(first_events.load(), kEvents);
  EXPECT_EQ(inbound_inserts.load(), kEvents);
}

// A key revoked (by the CLI, on its own connection) is refused by every
// instance at its next request: no instance keeps keys in memory.
TYPED_TEST(LimitsAcrossInstances, ARevokedAdminKeyIsRefusedByEveryInstance) {
  const std::string key = "sc_" + std::string(43, 'A');
  ASSERT_TRUE(this->backend().create_admin_key("ops", Scope::kSend, key, 1000));
  auto a = this->backend().another_instance();
  auto b = this->backend().another_instance();
  ASSERT_TRUE(a->admin().identify(key));
  ASSERT_TRUE(b->admin().identify(key));
  ASSERT_TRUE(this->backend().revoke_admin_key("ops", 1100));
  EXPECT_FALSE(a->admin().identify(key));
  EXPECT_FALSE(b->admin().identify(key));
}

}  // namespace
}  // namespace sc::contract
