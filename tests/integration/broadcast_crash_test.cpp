// Exactly once across crashes (issue 9 point 6): the real binary sends a
// broadcast to a fake SendGrid with random latency and is killed with SIGKILL
// at random moments — right after the send call (during the snapshot), and
// after a random number of messages — then started again on the same
// database, until the broadcast completes. The fake counts every message per
// recipient, across all the runs.
//
// The kill points come from a seeded generator; the seed is printed, and
// SC_CRASH_SEED=<n> replays a run.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>
#include <set>
#include <thread>

#include "fakes/fake_sendgrid.h"
#include "fakes/fake_twilio.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr int kRecipients = 3000;
constexpr int kKills = 4;
// The default settings (SC_DISPATCH_BATCH 512): what a crash leaves unknown
// is bounded by the provider's in-flight cap, not by the batch.
constexpr int kSendgridInFlight = 64;  // SC_SENDGRID_MAX_IN_FLIGHT's default
constexpr int kTwilioInFlight = 16;    // SC_TWILIO_MAX_IN_FLIGHT's default

class BroadcastCrashTest : public ServiceTest {
 protected:
  void TearDown() override {
    if (svc_) svc_->stop();
  }

  static fakes::FakeSendgrid::Options fake_options() {
    fakes::FakeSendgrid::Options o;
    o.jitter_ms = 20;  // every answer after 0-20 ms
    o.threads = 128;   // the killed run's connections may still hold threads
    o.keep_bodies = false;
    return o;
  }

  std::map<std::string, std::string> env() {
    return {{"SC_EMAIL_PROVIDER", "sendgrid"},
            {"SC_SENDGRID_API_KEY", fake.api_key()},
            {"SC_SENDGRID_API_BASE", fake.base_url()},
            {"SC_SMS_PROVIDER", "twilio"},
            {"SC_TWILIO_ACCOUNT_SID", fakes::FakeTwilio::kAccountSid},
            {"SC_TWILIO_AUTH_TOKEN", fakes::FakeTwilio::kAuthToken},
            {"SC_TWILIO_FROM", "+15005550006"},
            {"SC_TWILIO_API_BASE", twilio.base_url()},
            {"SC_SMS_SEND_WINDOW", "00:00-24:00"},  // quiet hours are another test's
            {"SC_BROADCAST_CHUNK_ROWS", "200"},     // a snapshot of 15 transactions
            {"SC_BROADCAST_PAUSE_AFTER_ERRORS", "0"}};
  }

  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

  // Confirmed channels (r0..r(n-1)@example.org, or +1201555xxxx), written
  // straight into the stopped service's database (the API would take minutes).
  void seed_subscribers(int n, bool sms) {
    db_inspect::exec(db(),
                     "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < " +
                         std::to_string(n) +
                         ") INSERT INTO subscribers (id, first_name, created_at)"
                         " SELECT i, 'Reader' || i, 1700000000 FROM k");
    db_inspect::exec(db(),
                     sms ? "INSERT INTO channels (subscriber_id, kind, address, state, created_at,"
                           " updated_at) SELECT id, 'sms', '+1201555' || substr(CAST(10000 + id - "
                           "1 AS TEXT), 2),"
                           " 'confirmed', 1700000000, 1700000000 FROM subscribers"
                         : "INSERT INTO channels (subscriber_id, kind, address, state, created_at,"
                           " updated_at) SELECT id, 'email', 'r' || (id - 1) || '@example.org',"
                           " 'confirmed', 1700000000, 1700000000 FROM subscribers");
  }

  json broadcast(std::int64_t id) {
    auto r = cli_->Get(("/api/v1/admin/broadcasts/" + std::to_string(id)).c_str(), admin());
    if (!r || r->status != 200) return nullptr;
    return json::parse(r->body);
  }

  // Messages per recipient the provider received, across all the runs.
  std::map<std::string, int> per_recipient() {
    if (!sms_) return fake.requests_per_recipient();
    std::map<std::string, int> out;
    for (const auto& r : twilio.received()) ++out[r.to];
    return out;
  }
  // Distinct recipients the fake has seen so far.
  std::size_t received() { return per_recipient().size(); }
  std::vector<std::string> violations() { return sms_ ? twilio.violations() : fake.violations(); }

  // What happens at each fault point: the service is killed (SIGKILL) and
  // started again, or (PostgreSQL) every connection of the service to its
  // database is terminated by the server while it keeps running.
  enum class Fault { kSigkill, kDropConnections };
  void crash_run(bool sms, Fault fault = Fault::kSigkill);
  bool sms_ = false;

  std::int64_t ledger(const std::string& where) {
    return std::stoll(db_inspect::query_value(
        db(), "SELECT COUNT(*) FROM outbox WHERE broadcast_id <> 0 AND " + where));
  }

  // Waits for done() while the broadcast moves: fails once progress() has
  // not changed for 20 s (or after 150 s in all). A message left leased
  // waits for its lease (300 s) and stops the broadcast short of done, so
  // it fails here; a host slowed by other work (ASan, parallel tests) only
  // makes the broadcast slower, which a fixed bound on the whole took for
  // a stall (the SIGKILL runs too).
  template <class Done, class Progress>
  static bool wait_progressing(Done done, Progress progress) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);
    auto last = progress();
    while (std::chrono::steady_clock::now() < deadline) {
      bool moved = false;
      const bool ok = wait_for(
          [&] {
            if (done()) return true;
            const auto now = progress();
            moved = now != last;
            last = now;
            return moved;
          },
          std::chrono::seconds(20));
      if (!ok) return false;  // no progress for 20 s
      if (!moved) return true;
    }
    return done();
  }

  // The ledger's unfinished rows by state, lease (claimed < 0 < handed
  // over), owner and due time: what a broadcast that does not finish waits for.
  std::string unfinished() {
    std::string out = "now " + std::to_string(std::time(nullptr)) +
                      "; unfinished rows (state, lease_until, lease_owner, next_attempt_at, "
                      "count):\n";
    for (const auto& r : db_inspect::rows(
             db(),
             "SELECT state, lease_until, lease_owner, next_attempt_at, COUNT(*) FROM outbox"
             " WHERE broadcast_id <> 0 AND state IN ('queued', 'sending')"
             " GROUP BY state, lease_until, lease_owner, next_attempt_at ORDER BY 5 DESC LIMIT "
             "20")) {
      for (const auto& v : r) out += " " + v.value_or("NULL");
      out += "\n";
    }
    return out;
  }

  void fault_at(Fault fault) {
    if (fault == Fault::kDropConnections) {
      db_inspect::exec(db(),
                       "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()");
      return;
    }
    kill_and_restart();
  }

  void kill_and_restart() {
    svc_->kill_hard();
    ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
    cli_->set_read_timeout(10, 0);
  }

  fakes::FakeSendgrid fake{fake_options()};
  fakes::FakeTwilio twilio;
};

void BroadcastCrashTest::crash_run(bool sms, Fault fault) {
  sms_ = sms;
  twilio.set_jitter_ms(20);
  const auto t0 = std::chrono::steady_clock::now();
  std::uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("SC_CRASH_SEED"))
    seed = static_cast<std::uint32_t>(std::stoul(s));
  std::cout << "broadcast crash test: SC_CRASH_SEED=" << seed << "\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 rng(seed);

  // The schema comes from a first start; the subscribers are written while
  // the service is stopped.
  start(env());
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
  seed_subscribers(kRecipients, sms);
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  cli_->set_read_timeout(10, 0);

  auto created = cli_->Post("/api/v1/admin/broadcasts", admin(),
                            (sms ? json{{"channel", "sms"}, {"text", "Hello {{first_name}}, news."}}
                                 : json{{"channel", "email"},
                                        {"subject", "News"},
                                        {"text", "Hello {{first_name}}, here is the news."}})
                                .dump(),
                            "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const auto id = json::parse(created->body)["id"].get<std::int64_t>();
  const std::string base = "/api/v1/admin/broadcasts/" + std::to_string(id);
  auto sent = cli_->Post((base + "/send").c_str(), admin(), "", "application/json");
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;

  // Kill 1: during the snapshot, as soon as its first chunk is in the
  // ledger (it may have finished by then on a fast machine: either must be safe).
  int kills = 0;
  std::vector<std::string> points;
  std::int64_t in_ledger = 0;
  // Polled every millisecond (by default wait_for backs off to 100 ms, past the snapshot).
  ASSERT_TRUE(wait_for([&] { return (in_ledger = ledger("1 = 1")) > 0; }, std::chrono::seconds(10),
                       std::chrono::milliseconds(1)))
      << svc_->stderr_text();
  points.push_back("in the snapshot, ledger rows " + std::to_string(in_ledger) + "+");
  fault_at(fault);
  ++kills;
  // The others: once the fake has received a random number of further
  // messages, plus a random 0-15 ms. The waits are on the fake's count (an
  // event), the extra delay only moves the kill point.
  for (int k = 1; k < kKills; ++k) {
    const auto have = received();
    const auto left = static_cast<int>(kRecipients - static_cast<int>(have));
    ASSERT_GT(left, 0) << "finished before kill " << k + 1 << "; seed " << seed;
    const int more =
        std::uniform_int_distribution<int>(1, std::max(1, left / (kKills - k + 1)))(rng);
    const auto target = have + static_cast<std::size_t>(more);
    ASSERT_TRUE(wait_progressing([&] { return received() >= target; }, [&] { return received(); }))
        << "kill " << k + 1 << " waited for " << target << " recipients, has " << received()
        << "; seed " << seed << "\n"
        << svc_->stderr_text();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 15)(rng)));
    points.push_back("after " + std::to_string(received()) + " recipients");
    fault_at(fault);
    ++kills;
  }

  // The last run finishes the broadcast.
  json b;
  ASSERT_TRUE(wait_progressing(
      [&] {
        b = broadcast(id);
        return !b.is_null() && b["status"] == "completed";
      },
      [&] { return received() + static_cast<std::size_t>(ledger("state <> 'sending'")); }))
      << (b.is_null() ? std::string("no broadcast") : b.dump()) << "; seed " << seed << "\n"
      << unfinished() << svc_->stderr_text();
  EXPECT_TRUE(violations().empty()) << violations().front();

  // The ledger as an auditor reads it.
  std::map<std::string, std::string> state_of;  // address → state
  for (std::int64_t after = 0;;) {
    auto rows = db_inspect::outbox_rows(db(), after, 1000);
    if (rows.empty()) break;
    for (const auto& r : rows) {
      after = r.id;
      ASSERT_EQ(r.purpose, "broadcast");
      auto to = json::parse(r.payload)["to"].get<std::string>();
      ASSERT_TRUE(state_of.emplace(to, r.state).second) << "two ledger rows for " << to;
    }
  }
  ASSERT_EQ(state_of.size(), static_cast<std::size_t>(kRecipients));
  const auto got = per_recipient();

  // (a) Nobody received two messages, across all the runs.
  for (const auto& [to, n] : got) {
    EXPECT_EQ(n, 1) << to << " received " << n << " messages; seed " << seed;
    EXPECT_TRUE(state_of.contains(to)) << to << " is not in the audience";
  }
  // (b) Everyone not unknown received exactly one and is sent; (c) the
  // unknown ones received at most one (checked by (a)).
  std::set<std::string> unknown;
  int unknown_received = 0;
  for (const auto& [to, state] : state_of) {
    if (state == "unknown") {
      unknown.insert(to);
      if (got.contains(to)) ++unknown_received;
      continue;
    }
    EXPECT_EQ(state, "sent") << to << "; seed " << seed;
    EXPECT_EQ(got.contains(to) ? got.at(to) : 0, 1) << to << "; seed " << seed;
  }
  // (c) Unknown only for what was in flight at a kill (issue 14 point 6).
  // A broadcast message is marked handed over just before its request, a
  // few at a time, and its outcome is written with the next marks: at a
  // kill, what is marked and not yet recorded is at most the requests in
  // flight (the provider's cap) plus those marked ahead (half the cap); the
  // rest of the claimed batch (512) goes back to the queue at the restart.
  // It was the whole batch: 512 of 3,000 after one kill.
  const int cap = sms ? kTwilioInFlight : kSendgridInFlight;
  const auto bound = static_cast<std::size_t>(kills * (cap + cap / 2));
  EXPECT_LE(unknown.size(), bound) << "seed " << seed;

  // (d) The counts add up, and match the ledger.
  const auto& c = b["counts"];
  EXPECT_EQ(c["total"], kRecipients);
  EXPECT_EQ(c["queued"], 0);
  EXPECT_EQ(c["failed"], 0);
  EXPECT_EQ(c["skipped"], 0);
  EXPECT_EQ(c["unknown"].get<std::size_t>(), unknown.size());
  EXPECT_EQ(c["sent"].get<std::size_t>() + unknown.size(), static_cast<std::size_t>(kRecipients));
  EXPECT_EQ(got.size(), c["sent"].get<std::size_t>() + static_cast<std::size_t>(unknown_received));

  // (e) The API lists exactly the unknown ones (paged).
  std::set<std::string> listed;
  for (std::string next = base + "/recipients?status=unknown&limit=50"; !next.empty();) {
    auto r = cli_->Get(next.c_str(), admin());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto page = json::parse(r->body);
    for (const auto& row : page["items"]) {
      EXPECT_EQ(row["state"], "unknown");
      listed.insert(row["address"].get<std::string>());
    }
    next = page.contains("next") ? page["next"].get<std::string>() : "";
  }
  EXPECT_EQ(listed, unknown);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "broadcast crash test (" << (sms ? "sms" : "email") << "): seed " << seed << ", "
            << kills << (fault == Fault::kSigkill ? " kills (" : " dropped connections (");
  for (std::size_t i = 0; i < points.size(); ++i) std::cout << (i ? "; " : "") << points[i];
  std::cout << "), " << unknown.size() << " unknown (" << unknown_received
            << " of them received) of at most " << bound << ", " << kRecipients << " recipients in "
            << seconds << " s\n";
}

TEST_F(BroadcastCrashTest, SigkillAtRandomPointsSendsEachRecipientAtMostOnce) { crash_run(false); }

TEST_F(BroadcastCrashTest, SigkillAtRandomPointsTextsEachRecipientAtMostOnce) { crash_run(true); }

// A dispatcher whose database connections drop mid-batch (the server
// terminates them; the service keeps running and opens them again) neither
// loses nor double-sends: the same checks as after a SIGKILL. What it could
// not write while they were down (hand-over marks, outcomes, hand-backs) is
// written once they are back, so nothing waits for its lease (300 s).
TEST_F(BroadcastCrashTest, DroppedDatabaseConnectionsSendEachRecipientAtMostOnce) {
  if (!on_postgres()) GTEST_SKIP() << "PostgreSQL only: SQLite has no connection to drop";
  crash_run(false, Fault::kDropConnections);
}

TEST_F(BroadcastCrashTest, DroppedDatabaseConnectionsTextEachRecipientAtMostOnce) {
  if (!on_postgres()) GTEST_SKIP() << "PostgreSQL only: SQLite has no connection to drop";
  crash_run(true, Fault::kDropConnections);
}

}  // namespace
}  // namespace sc::testing
