// Two dispatchers, two instances on one database (every backend), one of
// which dies mid-send: what it had handed over to the provider ends unknown
// and listed, never sent again; what it had only claimed is sent by the
// other once its lease has run out; and when the "dead" one wakes after all,
// its late outcomes change nothing and are not counted.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "contract/backends.h"
#include "sc/dispatch/dispatcher.h"
#include "support/dispatcher_probe.h"
#include "support/scripted_sender.h"
#include "support/wait_for.h"

namespace sc::contract {
namespace {

using unit::FakeEmail;
using unit::FakeSms;

template <class B>
class InstancesDispatcherContract : public Contract<B> {};
TYPED_TEST_SUITE(InstancesDispatcherContract, Backends, BackendNames);

Dispatcher::Options options() {
  Dispatcher::Options o;
  o.batch_size = 50;
  o.lease_seconds = 300;
  o.idle_poll_ms = 20;
  o.broadcast_pause_after_errors = 0;
  return o;
}

// Blocks the first send until released: the instance "dies" with it in flight.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  void enter_and_wait() {
    std::unique_lock lk(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lk, [&] { return released; });
  }
  bool wait_entered() {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, std::chrono::seconds(30), [&] { return entered; });
  }
  void release() {
    {
      std::lock_guard lk(mu);
      released = true;
    }
    cv.notify_all();
  }
};

TYPED_TEST(InstancesDispatcherContract, ADeadInstancesHandedOverRowEndsUnknownItsClaimedOneIsSent) {
  auto& db = this->db();
  auto& clock = db.clock();  // 1000
  const auto bc = db.create_broadcast(ChannelKind::kEmail);
  for (int i = 1; i <= 3; ++i) {
    const auto addr = "r" + std::to_string(i) + "@example.com";
    db.add_channel(addr, ConsentState::kConfirmed);
  }
  ASSERT_EQ(db.snapshot(bc, 10), 3);  // the broadcast's ledger: one row per recipient
  std::vector<std::int64_t> r;
  for (const auto& x : db.backend().broadcast_reads().recipients(bc, "", 10, 0, 1000))
    r.push_back(x.outbox_id);
  ASSERT_EQ(r.size(), 3u);
  auto a_instance = db.backend().instance("host-a:8080");
  auto b_instance = db.backend().instance("host-b:8080");

  // Every send either provider call makes, by outbox id.
  std::mutex sends_mu;
  std::map<std::int64_t, int> provider_saw;
  auto count_send = [&](const OutboundEmail& m) {
    std::lock_guard lk(sends_mu);
    ++provider_saw[m.outbox_id];
  };

  // Instance a claims all three; its provider hangs on the first send.
  Gate gate;
  FakeEmail a_email("fake-email", clock, [&](const OutboundEmail& m, int) {
    count_send(m);
    if (m.outbox_id == r[0]) gate.enter_and_wait();
    return SendResult::sent("250", "a-" + std::to_string(m.outbox_id));
  });
  FakeSms a_sms("fake-sms", clock);
  Dispatcher a(a_instance->outbox(), a_email, a_sms, clock, options());
  std::thread a_thread([&] { a.step(); });
  struct JoinOnExit {  // a failed ASSERT must not leave a's thread blocked
    Gate& gate;
    std::thread& thread;
    ~JoinOnExit() {
      gate.release();
      if (thread.joinable()) thread.join();
    }
  } join_on_exit{gate, a_thread};
  ASSERT_TRUE(gate.wait_entered());
  // With one in flight at a time, one more is marked ahead (handed over)
  // while the first hangs, and the third stays only claimed.
  ASSERT_TRUE(testing::wait_for([&] { return db.row(r[1]).handed_over; }));
  EXPECT_TRUE(db.row(r[0]).handed_over);
  EXPECT_FALSE(db.row(r[2]).handed_over);
  EXPECT_EQ(db.state_of(r[2]), "sending");

  // Instance b starts (its start releases only its own name's leases) and
  // finds nothing to send while a's leases last.
  FakeEmail b_email("fake-email", clock, [&](const OutboundEmail& m, int) {
    count_send(m);
    return SendResult::sent("250", "b-" + std::to_string(m.outbox_id));
  });
  FakeSms b_sms("fake-sms", clock);
  Dispatcher b(b_instance->outbox(), b_email, b_sms, clock, options());
  b_instance->outbox().run([&](const OutboxTransaction& t) { t.outbox.release_own(1001); });
  for (auto id : r) EXPECT_EQ(db.state_of(id), "sending") << id;
  clock.set(1300);
  EXPECT_EQ(b.step(), 0u);
  EXPECT_EQ(b_email.call_count(), 0u);

  // a's lease runs out (a is presumed dead): b takes over.
  clock.set(1301);
  EXPECT_EQ(b.step(), 1u);
  EXPECT_EQ(db.state_of(r[0]), "unknown");  // with the provider when a died
  EXPECT_EQ(db.state_of(r[1]), "unknown");  // handed over: it may have gone
  EXPECT_EQ(db.state_of(r[2]), "sent");     // only claimed: sent by b
  EXPECT_EQ(db.row(r[2]).provider_message_id, "b-" + std::to_string(r[2]));
  ASSERT_EQ(b_email.call_count(), 1u);
  EXPECT_EQ(b_email.calls[0].outbox_id, r[2]);
  EXPECT_EQ(b.step(), 0u);  // nothing more: the unknown ones are never sent again
  const auto unknown = db.backend().broadcast_reads().recipients(bc, "unknown", 10, 0, 1301);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].outbox_id, r[0]);
  EXPECT_EQ(unknown[1].outbox_id, r[1]);
  EXPECT_EQ(DispatcherProbe::stats(b).sent, 1u);

  // a was not dead after all: its send returns. Its marks find rows it no
  // longer holds, and change nothing; it counts nothing as sent, and never
  // hands over the third (b's now).
  gate.release();
  a_thread.join();
  EXPECT_EQ(db.state_of(r[0]), "unknown");
  EXPECT_EQ(db.state_of(r[1]), "unknown");
  EXPECT_EQ(db.row(r[2]).provider_message_id, "b-" + std::to_string(r[2]));
  EXPECT_EQ(DispatcherProbe::stats(a).sent, 0u);
  // The provider saw each recipient at most once (r[1] from a, late, if at all).
  std::lock_guard lk(sends_mu);
  for (const auto& [id, n] : provider_saw) EXPECT_EQ(n, 1) << "outbox " << id;
  EXPECT_EQ(provider_saw[r[0]], 1);
  EXPECT_EQ(provider_saw[r[2]], 1);
}

}  // namespace
}  // namespace sc::contract
