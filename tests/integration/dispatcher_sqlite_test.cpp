// The dispatcher over the real SQLite outbox (storage::WriterOutbox): the
// same rules the unit tests check against the in-memory outbox, end to end
// through SQL (leases, consent at claim time, the opt-out's consent-log row).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>

#include "sc/dispatch/dispatcher.h"
#include "support/dispatcher_probe.h"
#include "support/unit_fakes.h"
#include "support/wait_for.h"
#include "unit/storage/storage_fixture.h"

namespace sc {
namespace {

using db_inspect::OutboxRow;
using storage::ReadPool;

// Answers each send with script(message, attempt number for that message).
template <class Message, class Base>
class ScriptedSender final : public Base {
 public:
  using Script = std::function<SendResult(const Message&, int attempt)>;
  explicit ScriptedSender(std::string name, Script script = nullptr)
      : name_(std::move(name)), script_(std::move(script)) {}
  std::string name() const override { return name_; }
  SendResult send(const Message& m) override {
    std::lock_guard lk(mu_);
    if (!script_) {
      ADD_FAILURE() << name_ << " was asked to send outbox message " << m.outbox_id
                    << " but expects nothing";
      return SendResult::permanent("unexpected", "unexpected send");
    }
    calls.push_back(m);
    auto r = script_(m, ++attempts[m.outbox_id]);
    if (r.status == SendStatus::kSent) ++sent[m.outbox_id];
    return r;
  }
  void set_script(Script s) {
    std::lock_guard lk(mu_);
    script_ = std::move(s);
  }
  std::size_t call_count() {
    std::lock_guard lk(mu_);
    return calls.size();
  }
  std::vector<Message> calls;
  std::map<std::int64_t, int> attempts, sent;

 private:
  std::string name_;
  Script script_;
  std::mutex mu_;
};

using FakeEmail = ScriptedSender<OutboundEmail, EmailSender>;
using FakeSms = ScriptedSender<OutboundSms, SmsSender>;

class DispatcherSqliteTest : public storage::StorageTest {
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
  OutboxRow row(std::int64_t id) {
    for (auto& r : db_inspect::outbox_rows(path_, id - 1, 1)) {
      if (r.id == id) return r;
    }
    ADD_FAILURE() << "no outbox row " << id;
    return {};
  }

  storage::WriterOutbox& outbox() {
    if (!reads_) reads_ = std::make_unique<ReadPool>(path_, 1);
    if (!outbox_) outbox_ = std::make_unique<storage::WriterOutbox>(*writer_, *reads_);
    return *outbox_;
  }
  void TearDown() override {
    outbox_.reset();
    reads_.reset();
    StorageTest::TearDown();
  }

  std::unique_ptr<ReadPool> reads_;
  std::unique_ptr<storage::WriterOutbox> outbox_;
  unit::FakeClock clock_{1000};
  FakeEmail email_{"fake-email"};
  FakeSms sms_{"fake-sms"};  // expects nothing unless a test scripts it
};

TEST_F(DispatcherSqliteTest, BackoffDoublesFromTheBaseAndIsCapped) {
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  EXPECT_EQ(d.backoff_seconds(1), 15);
  EXPECT_EQ(d.backoff_seconds(2), 30);
  EXPECT_EQ(d.backoff_seconds(3), 60);
  EXPECT_EQ(d.backoff_seconds(4), 100);
  EXPECT_EQ(d.backoff_seconds(5), 100);
  EXPECT_EQ(d.backoff_seconds(1000), 100);
}

TEST_F(DispatcherSqliteTest, SentIsRecordedWithTheProvidersId) {
  email_.set_script([](const OutboundEmail& m, int) {
    return SendResult::sent("202", "P-" + std::to_string(m.outbox_id));
  });
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  EXPECT_EQ(d.step(), 1u);
  auto r = row(id);
  EXPECT_EQ(r.state, "sent");
  EXPECT_EQ(r.provider, "fake-email");
  EXPECT_EQ(r.provider_message_id, "P-" + std::to_string(id));
  EXPECT_EQ(r.last_code, "202");
  EXPECT_EQ(r.attempts, 1);
  ASSERT_EQ(email_.calls.size(), 1u);
  EXPECT_EQ(email_.calls[0].to.address, "a@example.com");
  EXPECT_EQ(email_.calls[0].message_id, sample_email("a@example.com").message_id);
  EXPECT_EQ(d.step(), 0u);  // nothing left
  EXPECT_EQ(DispatcherProbe::stats(d).sent, 1u);
}

TEST_F(DispatcherSqliteTest, TemplatedMessagesAreRenderedBeforeSending) {
  unit::RecordingComposer composer;
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("250", "x"); });
  auto ch = add_channel("a@example.com");
  enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  d.set_composer(&composer);
  EXPECT_EQ(d.step(), 1u);
  ASSERT_EQ(email_.calls.size(), 1u);
  EXPECT_EQ(email_.calls[0].subject, "subject:welcome");
  EXPECT_NE(email_.calls[0].text.find("first_name=Ann"), std::string::npos);
  EXPECT_TRUE(email_.calls[0].template_name.empty());
}

TEST_F(DispatcherSqliteTest, RetryableIsRequeuedWithExponentialBackoff) {
  email_.set_script([](const OutboundEmail&, int) {
    return SendResult::retryable("curl:7", "connection refused");
  });
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());

  const std::int64_t expected_delay[] = {15, 30, 60, 100};
  std::int64_t at = 1000;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    clock_.set(at);
    ASSERT_EQ(d.step(), 1u) << "attempt " << attempt;
    auto r = row(id);
    EXPECT_EQ(r.state, "queued");
    EXPECT_EQ(r.attempts, attempt);
    EXPECT_EQ(r.next_attempt_at, at + expected_delay[attempt - 1]) << "attempt " << attempt;
    EXPECT_EQ(r.last_code, "curl:7");
    EXPECT_EQ(r.last_error, "connection refused");
    // Not due a second earlier.
    clock_.set(r.next_attempt_at - 1);
    EXPECT_EQ(d.step(), 0u);
    at = r.next_attempt_at;
  }
  EXPECT_EQ(DispatcherProbe::stats(d).retried, 4u);
}

TEST_F(DispatcherSqliteTest, RetryAfterIsHonouredWhenLongerThanTheBackoff) {
  auto ch = add_channel("a@example.com");
  auto slow = enqueue_email(ch, "a@example.com");
  auto quick = enqueue_email(ch, "a@example.com");
  email_.set_script([&](const OutboundEmail& m, int) {
    return SendResult::retryable("429", "slow down",
                                 std::chrono::seconds(m.outbox_id == slow ? 500 : 5));
  });
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(row(slow).next_attempt_at, 1500);
  EXPECT_EQ(row(quick).next_attempt_at, 1015);  // the backoff is the floor
}

TEST_F(DispatcherSqliteTest, PermanentFailureKeepsTheProvidersCodeAndText) {
  email_.set_script([](const OutboundEmail&, int) {
    return SendResult::permanent("smtp:550", "5.1.1 no such user");
  });
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  ASSERT_EQ(d.step(), 1u);
  auto r = row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.provider, "fake-email");
  EXPECT_EQ(r.last_code, "smtp:550");
  EXPECT_EQ(r.last_error, "5.1.1 no such user");
  clock_.advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(email_.calls.size(), 1u);
  EXPECT_EQ(DispatcherProbe::stats(d).failed, 1u);
}

TEST_F(DispatcherSqliteTest, MaxAttemptsTurnsRetryableIntoFailed) {
  email_.set_script(
      [](const OutboundEmail&, int) { return SendResult::retryable("503", "unavailable"); });
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  for (int attempt = 1; attempt <= 5; ++attempt) {
    clock_.set(std::max(clock_.now_unix(), row(id).next_attempt_at));
    ASSERT_EQ(d.step(), 1u) << "attempt " << attempt;
  }
  auto r = row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.attempts, 5);
  EXPECT_EQ(r.last_code, "503");
  clock_.advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(email_.attempts[id], 5);
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

TEST_F(DispatcherSqliteTest, BatchResultsAreMatchedToTheirMessagesInOrder) {
  BatchEmail batch;
  auto ch = add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(enqueue_email(ch, "a@example.com"));
  Dispatcher d(outbox(), batch, sms_, clock_, options());
  ASSERT_EQ(d.step(), 9u);
  EXPECT_EQ(batch.batches, 1);
  for (auto id : ids) {
    auto r = row(id);
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

TEST_F(DispatcherSqliteTest, EmailAndSmsGoToTheirOwnProviders) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("202", "E"); });
  sms_.set_script([](const OutboundSms&, int) { return SendResult::sent("201", "SM1"); });
  auto ch = add_channel("a@example.com");
  auto sms_ch = add_channel("+14155550100", ConsentState::kPending, ChannelKind::kSms);
  auto e = enqueue_email(ch, "a@example.com");
  auto s = enqueue_sms(sms_ch, "+14155550100");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(row(e).provider, "fake-email");
  EXPECT_EQ(row(s).provider, "fake-sms");
  EXPECT_EQ(row(s).provider_message_id, "SM1");
  ASSERT_EQ(sms_.calls.size(), 1u);
  EXPECT_EQ(sms_.calls[0].to, "+14155550100");
  EXPECT_EQ(sms_.calls[0].body, "Reply YES");
}

TEST_F(DispatcherSqliteTest, AProviderReportedOptOutUnsubscribesTheChannelAndLogsIt) {
  // Twilio 21610: the person replied STOP to the sender; Twilio refuses the send.
  sms_.set_script([](const OutboundSms& m, int) {
    if (m.to != "+14155550100") return SendResult::sent("201", "SMok");
    auto r = SendResult::permanent("21610", "Attempt to send to unsubscribed recipient");
    r.recipient_opted_out = true;
    return r;
  });
  auto stopped = add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto other = add_channel("+14155550101", ConsentState::kConfirmed, ChannelKind::kSms);
  auto s1 = enqueue_sms(stopped, "+14155550100");
  auto s2 = enqueue_sms(other, "+14155550101");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  ASSERT_EQ(d.step(), 2u);
  EXPECT_EQ(row(s1).state, "failed");
  EXPECT_EQ(row(s1).last_code, "21610");
  EXPECT_EQ(row(s2).state, "sent");
  EXPECT_EQ(query("SELECT state FROM channels WHERE id = " + std::to_string(stopped)),
            "unsubscribed");
  EXPECT_EQ(query("SELECT state FROM channels WHERE id = " + std::to_string(other)), "confirmed");
  EXPECT_EQ(
      query("SELECT action || '/' || source || '/' || detail FROM consent_log WHERE channel_id = " +
            std::to_string(stopped) + " ORDER BY id DESC LIMIT 1"),
      "withdraw/keyword/fake-sms 21610");
  // Anything else queued for that number is now skipped, never sent.
  auto s3 = enqueue_sms(stopped, "+14155550100");
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(row(s3).state, "skipped");
}

TEST_F(DispatcherSqliteTest, MessagesToUnsubscribedChannelsAreSkippedNeverSent) {
  // email_ and sms_ have no script: any send fails the test.
  auto ch = add_channel("a@example.com", ConsentState::kConfirmed);
  auto sms_ch = add_channel("+14155550100", ConsentState::kConfirmed, ChannelKind::kSms);
  auto e = enqueue_email(ch, "a@example.com");
  auto s = enqueue_sms(sms_ch, "+14155550100");
  set_state(ch, ConsentState::kUnsubscribed);
  set_state(sms_ch, ConsentState::kUnsubscribed);
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(row(e).state, "skipped");
  EXPECT_EQ(row(s).state, "skipped");
  EXPECT_TRUE(email_.calls.empty());
  EXPECT_TRUE(sms_.calls.empty());
}

TEST_F(DispatcherSqliteTest, ProviderDownThenBackEachMessageIsSentExactlyOnce) {
  bool up = false;
  email_.set_script([&](const OutboundEmail& m, int) {
    return up ? SendResult::sent("250", "ok-" + std::to_string(m.outbox_id))
              : SendResult::retryable("curl:7", "down");
  });
  auto ch = add_channel("a@example.com");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(enqueue_email(ch, "a@example.com"));
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(d.step(), 20u);
    clock_.advance(1000);  // past any backoff
  }
  up = true;
  int guard = 0;
  while (d.step() > 0 && ++guard < 50) clock_.advance(1000);
  for (auto id : ids) {
    EXPECT_EQ(row(id).state, "sent") << id;
    EXPECT_EQ(email_.sent[id], 1) << id;
    EXPECT_EQ(email_.attempts[id], 4) << id;
  }
  clock_.advance(100000);
  EXPECT_EQ(d.step(), 0u);
  EXPECT_EQ(DispatcherProbe::stats(d).sent, 20u);
}

class ThrowingEmail final : public EmailSender {
 public:
  std::string name() const override { return "throwing"; }
  SendResult send(const OutboundEmail&) override { throw std::runtime_error("provider blew up"); }
};

TEST_F(DispatcherSqliteTest, AProviderThatThrowsLeavesTheMessageRetryableNotStuck) {
  ThrowingEmail throwing;
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), throwing, sms_, clock_, options());
  EXPECT_NO_THROW(d.step());
  auto r = row(id);
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

TEST_F(DispatcherSqliteTest,
       AMessageThatCannotBeRenderedFailsAfterMaxAttemptsInsteadOfLoopingForever) {
  ThrowingComposer composer;
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());  // email_ must never be called
  d.set_composer(&composer);
  for (int i = 0; i < 5; ++i) {
    EXPECT_NO_THROW(d.step());
    clock_.advance(1000);
  }
  auto r = row(id);
  EXPECT_EQ(r.state, "failed");
  EXPECT_EQ(r.attempts, 5);
  EXPECT_NE(r.last_error.find("no template"), std::string::npos) << r.last_error;
}

TEST_F(DispatcherSqliteTest, TheThreadSendsWhatIsQueuedAndStopsCleanly) {
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("250", "t"); });
  auto ch = add_channel("a@example.com");
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  writer_->set_on_outbox_commit([&d] { d.wake(); });
  d.start();
  auto id = enqueue_email(ch, "a@example.com");
  ASSERT_TRUE(testing::wait_for([&] { return email_.call_count() == 1; }));
  ASSERT_TRUE(testing::wait_for([&] { return row(id).state == "sent"; }));
  d.stop();
  writer_->set_on_outbox_commit(nullptr);
  EXPECT_EQ(email_.call_count(), 1u);
}

TEST_F(DispatcherSqliteTest, StartHandsBackLeasesADeadProcessLeft) {
  auto ch = add_channel("a@example.com");
  auto id = enqueue_email(ch, "a@example.com");
  // A previous process claimed it with a long lease and died.
  writer_->run([](storage::WriteContext& c) { claim_due(c.outbox(), 1000, 10, 999999); });
  email_.set_script([](const OutboundEmail&, int) { return SendResult::sent("250", "again"); });
  Dispatcher d(outbox(), email_, sms_, clock_, options());
  d.start();
  ASSERT_TRUE(testing::wait_for([&] { return row(id).state == "sent"; }));
  d.stop();
  EXPECT_EQ(row(id).attempts, 2);
}

}  // namespace
}  // namespace sc
