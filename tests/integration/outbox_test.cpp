// The outbox against a provider that is down, a restart, and a crash.
#include <algorithm>

#include "fakes/fake_sendgrid.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class OutboxTest : public ServiceTest {
 protected:
  // The service holds keep-alive connections to the fake: stop it first so
  // the fake's shutdown does not wait for them.
  void TearDown() override {
    if (svc_) svc_->stop();
  }
  fakes::FakeSendgrid fake;
  std::map<std::string, std::string> sendgrid_env(const fakes::FakeSendgrid& f) {
    return {{"SC_EMAIL_PROVIDER", "sendgrid"},
            {"SC_SENDGRID_API_KEY", f.api_key()},
            {"SC_SENDGRID_API_BASE", f.base_url()}};
  }
};

TEST_F(OutboxTest, ProviderOutageAndRestartLoseNothingAndSendOnce) {
  fake.set_default({503, R"({"errors":[{"message":"service unavailable"}]})", {}, 0});
  start(sendgrid_env(fake));
  for (int i = 0; i < 5; ++i) {
    auto r = post_json("/api/v1/subscriptions",
                       {{"email", "down" + std::to_string(i) + "@example.org"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202);
  }
  // The provider refuses; every message is tried and kept.
  ASSERT_TRUE(wait_for([&] { return fake.requests_per_outbox().size() == 5; }))
      << svc_->stderr_text();
  {
    // The answers are recorded just after the requests: wait for that too.
    ASSERT_TRUE(wait_for([&] {
      auto rows = db_inspect::outbox_rows(db(), 0, 10);
      return rows.size() == 5 && std::all_of(rows.begin(), rows.end(),
                                             [](const auto& r) { return r.last_code == "503"; });
    })) << svc_->stderr_text();
    auto c = db_inspect::outbox_counts(db());
    EXPECT_EQ(c.sent, 0);
    EXPECT_EQ(c.queued + c.sending, 5);
    auto rows = db_inspect::outbox_rows(db(), 0, 10);
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].last_code, "503");
  }
  restart();  // SIGTERM, clean exit, start again while the provider is still down
  fake.set_default({202, "", {{"X-Message-Id", "sg-ok"}}, 0});
  ASSERT_TRUE(
      wait_for([&] { return db_inspect::outbox_counts(db()).sent == 5; }, std::chrono::seconds(20)))
      << svc_->stderr_text();
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();
  // Every request the provider saw is an attempt the outbox recorded: no
  // send happened twice or unrecorded, and once all are sent nothing more goes.
  std::int64_t attempts = 0;
  for (const auto& row : db_inspect::outbox_rows(db(), 0, 10)) {
    EXPECT_EQ(row.state, "sent");
    EXPECT_EQ(row.provider, "sendgrid");
    EXPECT_GE(row.attempts, 2);
    attempts += row.attempts;
  }
  const auto requests = fake.request_count();
  EXPECT_EQ(static_cast<std::int64_t>(requests), attempts);
  EXPECT_FALSE(
      wait_for([&] { return fake.request_count() > requests; }, std::chrono::milliseconds(2500)));
}

TEST_F(OutboxTest, RateLimitWaitsForTheProvidersResetThenSendsOnce) {
  auto env = sendgrid_env(fake);
  env["SC_RETRY_BASE_SECONDS"] = "1";  // our own backoff alone would retry after 1 s
  // The first attempt of the only message (outbox id 1) is refused with a
  // reset 3 s after the fake's answer, computed when it answers: however
  // slow the host, the reset lies ahead of the retry the backoff alone would
  // make. Scripted for that message rather than by switching the default
  // answer, which could change under a request already in flight.
  fakes::FakeResponse limited{429, R"({"errors":[{"message":"too many requests"}]})", {}, 0};
  limited.rate_limit_reset_in_s = 3;
  fake.script(1, {limited});
  start(env);
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "limited@example.org"}})->status, 202);
  ASSERT_TRUE(wait_for([&] { return fake.request_count() >= 2; }, std::chrono::seconds(30)))
      << svc_->stderr_text();
  const auto reset = fake.last_rate_limit_reset();
  ASSERT_GT(reset, 0);
  const auto arrivals = fake.arrival_times();
  ASSERT_GE(arrivals.size(), 2u);
  EXPECT_GE(arrivals[1], reset);  // not one request before the provider's reset
  ASSERT_TRUE(wait_for([&] { return db_inspect::outbox_counts(db()).sent == 1; }))
      << svc_->stderr_text();
  auto rows = db_inspect::outbox_rows(db(), 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].attempts, 2);
  EXPECT_EQ(rows[0].provider_message_id.rfind("fake-", 0), 0u) << rows[0].provider_message_id;
  // Sent once: the row is final, so nothing could send it again; a short
  // look (1.5 s, past the idle poll) shows no stray third request.
  EXPECT_FALSE(wait_for([&] { return fake.request_count() > 2; }, std::chrono::milliseconds(1500)));
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST_F(OutboxTest, CrashAfterSignupStillDelivers) {
  fake.set_default({503, "", {}, 0});
  start(sendgrid_env(fake));
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "crash@example.org"}})->status, 202);
  svc_->kill_hard();  // no clean shutdown at all
  fake.set_default({202, "", {{"X-Message-Id", "sg-crash"}}, 0});
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  ASSERT_TRUE(wait_for([&] { return db_inspect::outbox_counts(db()).sent == 1; },
                       std::chrono::seconds(20)));
  auto rows = db_inspect::outbox_rows(db(), 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].provider_message_id.rfind("fake-", 0), 0u) << rows[0].provider_message_id;
  EXPECT_EQ(email_state("crash@example.org"), "pending");
}

TEST_F(OutboxTest, PermanentRejectionIsRecordedWithTheProviderText) {
  fake.set_default(
      {400,
       R"({"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]})",
       {},
       0});
  start(sendgrid_env(fake));
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "perm@example.org"}})->status, 202);
  ASSERT_TRUE(wait_for([&] { return db_inspect::outbox_counts(db()).failed == 1; }));
  auto rows = db_inspect::outbox_rows(db(), 0, 10);
  EXPECT_EQ(rows[0].last_code, "400");
  EXPECT_NE(rows[0].last_error.find("verified Sender Identity"), std::string::npos);
  EXPECT_EQ(fake.request_count(), 1u);  // never retried
}

TEST_F(OutboxTest, FileProviderWritesEachMessageOnceAcrossRestart) {
  start();
  for (int i = 0; i < 20; ++i)
    post_json("/api/v1/subscriptions", {{"email", "f" + std::to_string(i) + "@example.org"}});
  restart();
  ASSERT_TRUE(wait_emails(20));
  EXPECT_FALSE(wait_for([&] { return emails().size() > 20; }, std::chrono::milliseconds(1000)));
  EXPECT_EQ(db_inspect::outbox_counts(db()).sent, 20);
}

}  // namespace
}  // namespace sc::testing
