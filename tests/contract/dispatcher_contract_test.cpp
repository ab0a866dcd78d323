// The dispatcher over every storage backend (the in-memory one and SQLite's
// WriterOutbox), driven through step() with the backend's fake clock:
// outcomes, retries and backoff, consent at claim time, a provider's opt-out
// recorded with its consent-log row, the thread and the leases a dead
// process left. Dispatcher rules that need no storage (lanes under load,
// rates, pauses, quiet hours) are in tests/unit/dispatch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "contract/backends.h"
#include "sc/dispatch/dispatcher.h"
#include "support/dispatcher_probe.h"
#include "support/scripted_sender.h"
#include "support/wait_for.h"

namespace sc::contract {
namespace {

using unit::FakeEmail;
using unit::FakeSms;

// The database going away and coming back, as the dispatcher sees it (on
// PostgreSQL, the server terminating the connections; the service keeps
// running and opens them again). While down, every transaction fails: its
// work is rolled back, or (kCommitted) it commits and its answer is lost, as
// when the connection drops during COMMIT.
class DroppingOutbox final : public OutboxTransactions {
 public:
  enum class Mode { kUp, kRolledBack, kCommitted };
  explicit DroppingOutbox(OutboxTransactions& inner) : inner_(inner) {}
  void set(Mode m) { mode_ = m; }
  int failed() const { return failed_; }

  void run(const std::function<void(const OutboxTransaction&)>& fn) override {
    const Mode m = mode_;
    if (m == Mode::kUp) return inner_.run(fn);
    ++failed_;
    if (m == Mode::kRolledBack) {
      inner_.run([&](const OutboxTransaction& c) {
        fn(c);
        throw std::runtime_error("connection to the database lost");
      });
    }
    inner_.run(fn);
    throw std::runtime_error("connection to the database lost (at COMMIT)");
  }
  std::uint64_t request_jobs() const override { return inner_.request_jobs(); }
  void decode(ClaimedMessage& m) const override { inner_.decode(m); }
  OutboxDepth depth(std::int64_t now) override { return inner_.depth(now); }

 private:
  OutboxTransactions& inner_;
  std::atomic<Mode> mode_{Mode::kUp};
  std::atomic<int> failed_{0};
};

template <class B>
class DispatcherContract : public Contract<B> {
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
  Dispatcher dispatcher(EmailSender& email) {
    return Dispatcher(this->backend().outbox(), email, sms_, this->db().clock(), options());
  }
  Dispatcher dispatcher() { return dispatcher(email_); }
  // The latest consent-log row of the subscriber owning this channel.
  ConsentLogView last_log_row(ChannelKind kind, const std::string& address) {
    auto v = this->backend().reads().subscriber_by_channel(kind, address);
    if (!v || v->consent_log.empty()) {
      ADD_FAILURE() << "no consent-log row for " << address;
      return {};
    }
    return v->consent_log.back();
  }
  ConsentState state_of_channel(std::int64_t id) {
    return this->db().write(
        [&](const Transaction& tx) { return tx.subscribers.channel_by_id(id)->state; });
  }

  // A confirmation and a broadcast's messages, with the database gone from
  // the provider's first answer until the step ends. Once it answers again,
  // the next step writes what could not be written (the answers) and hands
  // back what was never handed over, which goes out in the same step: no
  // message waits for its lease (300 s, and the clock stands still here),
  // none is sent twice, and what was sent is recorded sent.
  void drop_mid_batch(DroppingOutbox::Mode mode, bool threaded) {
    auto& db = this->db();
    DroppingOutbox outbox(this->backend().outbox());
    for (int i = 0; i < 8; ++i)
      db.add_channel("r" + std::to_string(i) + "@example.org", ConsentState::kConfirmed);
    const auto bid = db.create_broadcast(ChannelKind::kEmail);
    ASSERT_EQ(db.snapshot(bid, 100), 8);  // the broadcast's ledger: 8 bulk messages
    const auto confirmation = db.enqueue_email(db.add_channel("c@example.com"), "c@example.com");
    std::vector<std::int64_t> ids;
    for (std::int64_t id = 1; id <= confirmation; ++id)
      if (this->backend().outbox_row(id)) ids.push_back(id);
    ASSERT_EQ(ids.size(), 9u);
    std::atomic<bool> dropped{false};
    email_.in_flight = 2;
    email_.set_script([&](const OutboundEmail& m, int) {
      if (!dropped.exchange(true)) outbox.set(mode);
      return SendResult::sent("202", "P-" + std::to_string(m.outbox_id));
    });
    auto o = options();
    o.idle_poll_ms = 5;
    Dispatcher d(outbox, email_, sms_, db.clock(), o);
    auto all_sent = [&] {
      for (auto id : ids)
        if (db.row(id).state != "sent") return false;
      return true;
    };
    if (threaded) {
      d.start();
      ASSERT_TRUE(testing::wait_for([&] { return outbox.failed() >= 2; }));
      outbox.set(DroppingOutbox::Mode::kUp);
      // The lease never runs out here (the fake clock stands still): only
      // writing again what failed gets every message out and recorded.
      ASSERT_TRUE(testing::wait_for(all_sent, std::chrono::seconds(10)));
      d.stop();
    } else {
      try {
        d.step();
      } catch (const std::exception&) {
        // the batch's record failed with the database away
      }
      ASSERT_TRUE(dropped.load());
      ASSERT_GT(outbox.failed(), 0);
      outbox.set(DroppingOutbox::Mode::kUp);
      for (int i = 0; i < 5 && !all_sent(); ++i) EXPECT_NO_THROW(d.step());
    }
    for (auto id : ids) {
      auto r = db.row(id);
      EXPECT_EQ(r.state, "sent") << id;
      EXPECT_EQ(r.provider_message_id, "P-" + std::to_string(id)) << id;
      EXPECT_EQ(email_.attempts[id], 1) << id << " sent " << email_.attempts[id] << " times";
    }
    // Counted once committed: a commit whose answer was lost is not known to
    // have happened, and its outcome written again changes nothing.
    if (mode == DroppingOutbox::Mode::kRolledBack)
      EXPECT_EQ(DispatcherProbe::stats(d).sent, ids.size());
    else
      EXPECT_LE(DispatcherProbe::stats(d).sent, ids.size());
  }

  FakeEmail email_{"fake-email", this->db().clock()};
  FakeSms sms_{"fake-sms", this->db().clock()};  // expects nothing unless a test scripts it
};
TYPED_TEST_SUITE(DispatcherContract, Backends, BackendNames);

TYPED_TEST(DispatcherContract, BackoffDoublesFromTheBaseAndIsCapped) {
  auto d = this->dispatcher();
  EXPECT_EQ(d.backoff_seconds(1), 15);
  EXPECT_EQ(d.backoff_seconds(2), 30);
  EXPECT_EQ(d.backoff_seconds(3), 60);
  EXPECT_EQ(d.backoff_seconds(4), 100);
  EXPECT_EQ(d.backoff_seconds(5), 100);
  EXPECT_EQ(d.backoff_seconds(1000), 100);
}

TYPED_TEST(DispatcherContract, SentIsRecordedWithTheProvidersId) {
  auto& db = this->db();
  auto& email = this->email_;
  email.set_script([](const OutboundEmail& m, int) {
    return SendResult::sent("202", "P-" + std::to_string(m.outbox_id));
  });
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher();
  EXPECT_EQ(d.step(), 1u);
  auto r = db.row(id);
  EXPECT_EQ(r.state, "sent");
  EXPECT_EQ(r.provider, "fake-email");
  EXPECT_EQ(r.provider_message_id, "P-" + std::to_string(id));
  EXPECT_EQ(r.last_code, "202");
  EXPECT_EQ(r.attempts, 1);
  ASSERT_EQ(email.calls.size(), 1u);
  EXPECT_EQ(email.calls[0].to.address, "a@example.com");
  EXPECT_EQ(email.calls[0].message_id, Db::sample_email("a@example.com").message_id);
  EXPECT_EQ(d.step(), 0u);  // nothing left
  EXPECT_EQ(DispatcherProbe::stats(d).sent, 1u);
}

TYPED_TEST(DispatcherContract, TemplatedMessagesAreRenderedBeforeSending) {
  auto& db = this->db();
  auto& email = this->email_;
  unit::RecordingComposer composer;
  email.set_script([](const OutboundEmail&, int) { return SendResult::sent("250", "x"); });
  auto ch = db.add_channel("a@example.com");
  db.enqueue_email(ch, "a@example.com");  // template "welcome", first_name Ann
  auto d = this->dispatcher();
  d.set_composer(&composer);
  EXPECT_EQ(d.step(), 1u);
  ASSERT_EQ(email.calls.size(), 1u);
  EXPECT_EQ(email.calls[0].subject, "subject:welcome");
  EXPECT_NE(email.calls[0].text.find("first_name=Ann"), std::string::npos);
  EXPECT_TRUE(email.calls[0].template_name.empty());
}

TYPED_TEST(DispatcherContract, RetryableIsRequeuedWithExponentialBackoff) {
  auto& db = this->db();
  this->email_.set_script([](const OutboundEmail&, int) {
    return SendResult::retryable("curl:7", "connection refused");
  });
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher();
  const std::int64_t expected_delay[] = {15, 30, 60, 100};
  std::int64_t at = 1000;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    db.clock().set(at);
    ASSERT_EQ(d.step(), 1u) << "attempt " << attempt;
    auto r = db.row(id);
    EXPECT_EQ(r.state, "queued");
    EXPECT_EQ(r.attempts, attempt);
    EXPECT_EQ(r.next_attempt_at, at + expected_delay[attempt - 1]) << "attempt " << attempt;
    EXPECT_EQ(r.last_code, "curl:7");
    EXPECT_EQ(r.last_error, "connection refused");
    db.clock().set(r.next_attempt_at - 1);  // not due a second earlier
    EXPECT_EQ(d.step(), 0u);
    at = r.next_attempt_at;
  }
  EXPECT_EQ(DispatcherProbe::stats(d).retried, 4u);
}

TYPED_TEST(DispatcherContract, RetryAfterIsHonouredWhenLongerThanTheBackoff) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto slow = db.enqueue_email(ch, "a@example.com");
  auto quick = db.enqueue_email(ch, "a@example.com");
  this->email_.set_script([&](const OutboundEmail& m, int) {
    return SendResult::retryable("429", "slow down",
                                 std::chrono::seconds(m.outbox_id == slow ? 500 : 5));
  });
  auto d = this->dispatcher();
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(db.row(slow).next_attempt_at, 1500);
  EXPECT_EQ(db.row(quick).next_attempt_at, 1015);  // the backoff is the floor
}

TYPED_TEST(DispatcherContract, PermanentFailureKeepsTheProvidersCodeAndText) {
  auto& db = this->db();
  this->email_.set_script([](const OutboundEmail&, int) {
    return SendResult::permanent("smtp:550", "5.1.1 no such user");
  });
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher();
  ASSERT_EQ(d.step(), 1u);
  auto r = db.row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.provider, "fake-email");
  EXPECT_EQ(r.last_code, "smtp:550");
  EXPECT_EQ(r.last_error, "5.1.1 no such user");
  db.clock().advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(this->email_.calls.size(), 1u);
  EXPECT_EQ(DispatcherProbe::stats(d).failed, 1u);
}

TYPED_TEST(DispatcherContract, MaxAttemptsTurnsRetryableIntoFailed) {
  auto& db = this->db();
  this->email_.set_script(
      [](const OutboundEmail&, int) { return SendResult::retryable("503", "unavailable"); });
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher();
  for (int attempt = 1; attempt <= 5; ++attempt) {
    db.clock().set(std::max(db.clock().now_unix(), db.row(id).next_attempt_at));
    ASSERT_EQ(d.step(), 1u) << "attempt " << attempt;
  }
  auto r = db.row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.attempts, 5);
  EXPECT_EQ(r.last_code, "503");
  db.clock().advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(this->email_.attempts[id], 5);
}

// A provider's send_batch answers in the order of the batch.
class BatchEmail final : public EmailSender {
 public:
  std::string name() const override { return "batch"; }
  SendResult send(const OutboundEmail&) override {
    ADD_FAILURE() << "send() called; the batch path was expected";
    return SendResult::permanent("x", "x");
  }
  std::vector<SendResult> send_batch(std::span<const OutboundEmail> ms) override {
    ++batches;
    std::vector<SendResult> out;
    for (const auto& m : ms) {
      switch (m.outbox_id % 3) {
        case 0:
          out.push_back(SendResult::sent("202", "B" + std::to_string(m.outbox_id)));
          break;
        case 1:
          out.push_back(SendResult::permanent("400", "bad " + std::to_string(m.outbox_id)));
          break;
        default:
          out.push_back(SendResult::retryable("503", "later " + std::to_string(m.outbox_id)));
          break;
      }
    }
    return out;
  }
  int max_in_flight() const override { return 16; }  // windows of up to 16 through send_batch
  int batches = 0;
};

TYPED_TEST(DispatcherContract, BatchResultsAreMatchedToTheirMessagesInOrder) {
  auto& db = this->db();
  BatchEmail batch;
  auto ch = db.add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(db.enqueue_email(ch, "a@example.com"));
  auto d = this->dispatcher(batch);
  ASSERT_EQ(d.step(), 9u);
  EXPECT_EQ(batch.batches, 1);
  for (auto id : ids) {
    auto r = db.row(id);
    switch (id % 3) {
      case 0:
        EXPECT_EQ(r.state, "sent") << id;
        EXPECT_EQ(r.provider_message_id, "B" + std::to_string(id));
        break;
      case 1:
        EXPECT_EQ(r.state, "failed") << id;
        EXPECT_EQ(r.last_error, "bad " + std::to_string(id));
        break;
      default:
        EXPECT_EQ(r.state, "queued") << id;
        EXPECT_EQ(r.last_error, "later " + std::to_string(id));
        break;
    }
  }
}

TYPED_TEST(DispatcherContract, EmailAndSmsGoToTheirOwnProviders) {
  auto& db = this->db();
  this->email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "E"); });
  this->sms_.set_script([](const OutboundSms&, int) { return SendResult::sent("201", "SM1"); });
  auto ch = db.add_channel("a@example.com");
  auto sms_ch = db.add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  auto e = db.enqueue_email(ch, "a@example.com");
  auto s = db.enqueue_sms(sms_ch, "+14155550100");
  auto d = this->dispatcher();
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(db.row(e).provider, "fake-email");
  EXPECT_EQ(db.row(s).provider, "fake-sms");
  EXPECT_EQ(db.row(s).provider_message_id, "SM1");
  ASSERT_EQ(this->sms_.calls.size(), 1u);
  EXPECT_EQ(this->sms_.calls[0].to, "+14155550100");
  EXPECT_EQ(this->sms_.calls[0].body, "Reply YES");
}

TYPED_TEST(DispatcherContract, AProviderReportedOptOutUnsubscribesTheChannelAndLogsIt) {
  auto& db = this->db();
  // Twilio 21610: the person replied STOP to the sender; Twilio refuses the send.
  this->sms_.set_script([](const OutboundSms& m, int) {
    if (m.to != "+14155550100") return SendResult::sent("201", "SMok");
    auto r = SendResult::permanent("21610", "Attempt to send to unsubscribed recipient");
    r.recipient_opted_out = true;
    return r;
  });
  auto stopped = db.add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto other = db.add_channel("+14155550101", ConsentState::kConfirmed, ChannelKind::kSms);
  auto s1 = db.enqueue_sms(stopped, "+14155550100");
  auto s2 = db.enqueue_sms(other, "+14155550101");
  auto d = this->dispatcher();
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(db.row(s1).state, "failed");
  EXPECT_EQ(db.row(s1).last_code, "21610");
  EXPECT_EQ(db.row(s2).state, "sent");
  EXPECT_EQ(this->state_of_channel(stopped), ConsentState::kUnsubscribed);
  EXPECT_EQ(this->state_of_channel(other), ConsentState::kConfirmed);
  auto log = this->last_log_row(ChannelKind::kSms, "+14155550100");
  EXPECT_EQ(log.action + "/" + log.source + "/" + log.detail, "withdraw/keyword/fake-sms 21610");
  // Anything else queued for that number is now skipped, never sent.
  auto s3 = db.enqueue_sms(stopped, "+14155550100");
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(db.row(s3).state, "skipped");
}

TYPED_TEST(DispatcherContract, AProviderReportedUndeliverableAddressIsMarkedAndLogged) {
  auto& db = this->db();
  auto ch = db.add_channel("gone@example.org", ConsentState::kConfirmed);
  this->email_.set_script([](const OutboundEmail&, int) {
    auto r = SendResult::permanent("smtp:550", "550 5.1.1 <gone@example.org>: User unknown");
    r.recipient_undeliverable = true;
    return r;
  });
  auto id = db.enqueue_email(ch, "gone@example.org");
  auto d = this->dispatcher();
  ASSERT_EQ(d.step(), 1u);
  EXPECT_EQ(db.row(id).state, "failed");
  EXPECT_EQ(this->state_of_channel(ch), ConsentState::kUndeliverable);
  auto log = this->last_log_row(ChannelKind::kEmail, "gone@example.org");
  EXPECT_EQ(log.action, "undeliverable");
  EXPECT_EQ(log.source, "provider");
  EXPECT_EQ(log.detail, "fake-email smtp:550 550 5.1.1 <gone@example.org>: User unknown");
}

TYPED_TEST(DispatcherContract, MessagesToUnsubscribedChannelsAreSkippedNeverSent) {
  auto& db = this->db();
  // email_ and sms_ have no script: any send fails the test.
  auto ch = db.add_channel("a@example.com", ConsentState::kConfirmed);
  auto sms_ch = db.add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto e = db.enqueue_email(ch, "a@example.com");
  auto s = db.enqueue_sms(sms_ch, "+14155550100");
  db.set_state(ch, ConsentState::kUnsubscribed);
  db.set_state(sms_ch, ConsentState::kUnsubscribed);
  auto d = this->dispatcher();
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(db.row(e).state, "skipped");
  EXPECT_EQ(db.row(s).state, "skipped");
  EXPECT_TRUE(this->email_.calls.empty());
  EXPECT_TRUE(this->sms_.calls.empty());
}

TYPED_TEST(DispatcherContract, ProviderDownThenBackEachMessageIsSentExactlyOnce) {
  auto& db = this->db();
  bool up = false;
  this->email_.set_script([&](const OutboundEmail& m, int) {
    return up ? SendResult::sent("250", "ok-" + std::to_string(m.outbox_id))
              : SendResult::retryable("curl:7", "down");
  });
  auto ch = db.add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(db.enqueue_email(ch, "a@example.com"));
  auto d = this->dispatcher();
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(d.step(), 20u);
    db.clock().advance(1000);  // past any backoff
  }
  up = true;
  int guard = 0;
  while (d.step() > 0 && ++guard < 50) db.clock().advance(1000);
  for (auto id : ids) {
    EXPECT_EQ(db.row(id).state, "sent") << id;
    EXPECT_EQ(this->email_.sent[id], 1) << id;
    EXPECT_EQ(this->email_.attempts[id], 4) << id;
  }
  db.clock().advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(DispatcherProbe::stats(d).sent, 20u);
}

class ThrowingEmail final : public EmailSender {
 public:
  std::string name() const override { return "throwing"; }
  SendResult send(const OutboundEmail&) override { throw std::runtime_error("provider blew up"); }
};

TYPED_TEST(DispatcherContract, AProviderThatThrowsLeavesTheMessageRetryableNotStuck) {
  auto& db = this->db();
  ThrowingEmail throwing;
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher(throwing);
  EXPECT_NO_THROW(d.step());
  auto r = db.row(id);
  EXPECT_EQ(r.state, "queued");  // not left 'sending' until the lease runs out
  EXPECT_EQ(r.next_attempt_at, 1015);
  EXPECT_NE(r.last_error.find("provider blew up"), std::string::npos) << r.last_error;
}

class ThrowingComposer final : public Composer {
 public:
  ComposedEmail email(std::string_view, const std::map<std::string, std::string>&) const override {
    throw std::out_of_range("no template email/welcome");
  }
  std::string sms(std::string_view, const std::map<std::string, std::string>&) const override {
    throw std::out_of_range("no template");
  }
  std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view, bool) const override {
    throw std::runtime_error("no inline templates");
  }
  std::string inline_error(std::string_view) const override { return "no inline templates"; }
};

TYPED_TEST(DispatcherContract,
           AMessageThatCannotBeRenderedFailsAfterMaxAttemptsInsteadOfLoopingForever) {
  auto& db = this->db();
  ThrowingComposer composer;
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  auto d = this->dispatcher();  // email_ must never be called
  d.set_composer(&composer);
  for (int i = 0; i < 5; ++i) {
    EXPECT_NO_THROW(d.step());
    db.clock().advance(1000);
  }
  auto r = db.row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.attempts, 5);
  EXPECT_NE(r.last_error.find("no template"), std::string::npos) << r.last_error;
}

TYPED_TEST(DispatcherContract, TheThreadSendsWhatIsQueuedAndStopsCleanly) {
  auto& db = this->db();
  this->email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("250", "t"); });
  auto ch = db.add_channel("a@example.com");
  auto d = this->dispatcher();
  d.start();
  auto id = db.enqueue_email(ch, "a@example.com");
  d.wake();
  ASSERT_TRUE(testing::wait_for([&] { return this->email_.call_count() == 1; }));
  ASSERT_TRUE(testing::wait_for([&] { return db.row(id).state == "sent"; }));
  d.stop();
  EXPECT_EQ(this->email_.call_count(), 1u);
}

TYPED_TEST(DispatcherContract, StartHandsBackLeasesADeadProcessLeft) {
  auto& db = this->db();
  auto ch = db.add_channel("a@example.com");
  auto id = db.enqueue_email(ch, "a@example.com");
  // A previous process claimed it with a long lease and died.
  ASSERT_EQ(db.claim(1000, 10, 999999).size(), 1u);
  ASSERT_EQ(db.row(id).state, "sending");
  this->email_.set_script(
      [](const OutboundEmail&, int) { return SendResult::sent("250", "again"); });
  auto d = this->dispatcher();
  d.start();
  ASSERT_TRUE(testing::wait_for([&] { return db.row(id).state == "sent"; }));
  d.stop();
  EXPECT_EQ(db.row(id).attempts, 2);
}

TYPED_TEST(DispatcherContract, WhatCouldNotBeWrittenWhileTheDatabaseWasAwayIsWrittenWhenItAnswers) {
  this->drop_mid_batch(DroppingOutbox::Mode::kRolledBack, false);
}

TYPED_TEST(DispatcherContract,
           WritingAgainWhatDidCommitAfterAllChangesNothingAndSendsNothingTwice) {
  this->drop_mid_batch(DroppingOutbox::Mode::kCommitted, false);
}

TYPED_TEST(DispatcherContract, TheThreadHandsBackAndRecordsAtOnceWhenTheDatabaseComesBack) {
  this->drop_mid_batch(DroppingOutbox::Mode::kRolledBack, true);
}

TYPED_TEST(DispatcherContract, TheThreadNeverSendsTwiceWhenCommitsLandedButTheirAnswersWereLost) {
  this->drop_mid_batch(DroppingOutbox::Mode::kCommitted, true);
}

}  // namespace
}  // namespace sc::contract
