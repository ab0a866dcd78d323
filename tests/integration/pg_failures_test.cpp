// PostgreSQL going away under a running service (issue 16 points 5 and 7):
// sign-ups are answered only after a durable commit, over a few long-lived
// connections; while the server is down they get 503 with Retry-After and
// none acknowledged is lost; /healthz says why; the service recovers by
// itself, within 5 s, once the server is back. PostgreSQL only: SQLite's
// counterpart is a full disk.
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

#define SC_POSTGRES_ONLY()                                                    \
  if (!::sc::testing::on_postgres()) {                                        \
    GTEST_SKIP() << "PostgreSQL only (run as pg.*): a server that goes away"; \
  }

class PgFailuresTest : public ServiceTest {
 protected:
  // This database's server-wide counters and settings, read by the test.
  std::string value(const std::string& sql) { return db_inspect::query_value(db(), sql); }
  // Sessions ever opened to the database (counted at connect, reported by
  // each backend at the latest when it exits).
  std::int64_t sessions() {
    return std::stoll(
        value("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"));
  }
};

// The service's session sets synchronous_commit = on itself: a database
// whose default is off (ALTER DATABASE ... SET) still gets durable commits,
// and the start log shows the writer's own setting.
TEST_F(PgFailuresTest, TheWriterCommitsWithSynchronousCommitOnWhateverTheDatabaseSays) {
  SC_POSTGRES_ONLY();
  const auto name = value("SELECT current_database()");
  db_inspect::exec(db(), "ALTER DATABASE " + name + " SET synchronous_commit = off");
  ASSERT_EQ(value("SELECT current_setting('synchronous_commit')"), "off");  // a new session's
  start();
  EXPECT_NE(svc_->stderr_text().find("synchronous=on "), std::string::npos) << svc_->stderr_text();
}

// No connection per request: 300 sign-ups and lookups from 4 clients open
// no more sessions than the writer, the read pool (4) and what the
// concurrency of the requests can add to it.
TEST_F(PgFailuresTest, RequestsShareAFewLongLivedConnections) {
  SC_POSTGRES_ONLY();
  start({{"SC_SIGNUP_LIMITS", "off"}});
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", svc_->port());
      for (int i = 0; i < 50; ++i) {
        const auto email = "c" + std::to_string(c) + "-" + std::to_string(i) + "@example.org";
        auto r =
            cli.Post("/api/v1/subscriptions", json{{"email", email}}.dump(), "application/json");
        if (r && r->status == 202) ++ok;
        auto h = cli.Get("/healthz");
        if (h && h->status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 400);
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();  // every backend reports its session
  // Migrations, the writer, 4 pooled readers, up to 4 more for concurrent
  // reads, the start's checks, and this test's own few.
  EXPECT_LE(sessions(), 20);
}

// The server restarted under a steady stream of sign-ups.
TEST_F(PgFailuresTest, ARestartUnderLoadLosesNoAcknowledgedSignUpAndRecoversWithin5s) {
  SC_POSTGRES_ONLY();
  // A cluster of its own: the run's shared one serves other tests meanwhile.
  PgCluster cluster;
  db_ = cluster.create_database("restart");
  start({{"SC_SIGNUP_LIMITS", "off"}});

  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::vector<std::string> unexpected;  // anything but 202 or 503 with Retry-After
  int refused = 0;                      // 503 with Retry-After
  double slowest_refusal = 0;           // seconds
  Clock::time_point last_ack{};
  std::atomic<bool> stop{false};
  std::thread load([&] {
    httplib::Client cli("127.0.0.1", svc_->port());
    cli.set_read_timeout(30, 0);
    for (int i = 0; !stop; ++i) {
      const auto email = "load" + std::to_string(i) + "@example.org";
      const auto t0 = Clock::now();
      auto r = cli.Post("/api/v1/subscriptions", json{{"email", email}}.dump(), "application/json");
      const double took = std::chrono::duration<double>(Clock::now() - t0).count();
      std::lock_guard lk(mu);
      if (r && r->status == 202) {
        acknowledged.push_back(email);
        last_ack = Clock::now();
      } else if (r && r->status == 503 && r->has_header("Retry-After")) {
        ++refused;
        slowest_refusal = std::max(slowest_refusal, took);
      } else {
        unexpected.push_back(
            email + ": " +
            (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())));
      }
    }
  });
  auto acks = [&] {
    std::lock_guard lk(mu);
    return acknowledged.size();
  };
  auto refusals = [&] {
    std::lock_guard lk(mu);
    return refused;
  };

  ASSERT_TRUE(wait_for([&] { return acks() >= 20; })) << svc_->stderr_text();
  cluster.stop();
  // While it is down: health says so, with a reason, and sign-ups are refused.
  json health;
  EXPECT_TRUE(wait_for([&] {
    auto h = cli_->Get("/healthz");
    if (!h || h->status != 503) return false;
    health = json::parse(h->body);
    return true;
  })) << svc_->stderr_text();
  EXPECT_NE(health.value("status", ""), "ok") << health.dump();
  EXPECT_FALSE(health.value("reason", "").empty()) << health.dump();
  const auto refused_before = refusals();
  EXPECT_TRUE(wait_for([&] { return refusals() >= refused_before + 10; })) << svc_->stderr_text();
  const auto acks_while_down = acks();
  EXPECT_TRUE(wait_for([&] { return refusals() >= refused_before + 20; }));
  EXPECT_EQ(acks(), acks_while_down);  // nothing acknowledged while the server is away

  cluster.start();
  const auto back = Clock::now();
  // Recovered: a sign-up acknowledged after the server is back, and health ok.
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lk(mu);
        return last_ack > back;
      },
      std::chrono::seconds(15)))
      << svc_->stderr_text();
  ASSERT_TRUE(wait_for(
      [&] {
        auto h = cli_->Get("/healthz");
        return h && h->status == 200;
      },
      std::chrono::seconds(15)))
      << svc_->stderr_text();
  const double recovery = std::chrono::duration<double>(Clock::now() - back).count();
  const auto target = acks() + 20;
  EXPECT_TRUE(wait_for([&] { return acks() >= target; })) << svc_->stderr_text();
  stop = true;
  load.join();

  std::cout << "restart under load: " << acknowledged.size() << " acknowledged, " << refused
            << " refused (503, slowest " << slowest_refusal << " s), recovered " << recovery
            << " s after the server was back\n";
  RecordProperty("recovery_seconds", std::to_string(recovery));
  EXPECT_LT(recovery, 5.0);
  EXPECT_LT(slowest_refusal, 3.0);  // a refusal is quick, never the connect timeout
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected, e.g. "
                                  << unexpected.front();
  // Every acknowledged sign-up is in the database.
  std::set<std::string> stored;
  for (std::int64_t after = 0;;) {
    const auto page = db_inspect::query_value(
        db(),
        "SELECT string_agg(address, ',' ORDER BY id) || ';' || max(id) FROM (SELECT id,"
        " address FROM channels WHERE id > " +
            std::to_string(after) + " ORDER BY id LIMIT 1000) p");
    if (page.empty()) break;
    const auto semi = page.rfind(';');
    std::stringstream list(page.substr(0, semi));
    for (std::string a; std::getline(list, a, ',');) stored.insert(a);
    after = std::stoll(page.substr(semi + 1));
  }
  for (const auto& email : acknowledged)
    EXPECT_TRUE(stored.contains(email)) << email << " was acknowledged and is not stored";
  EXPECT_EQ(svc_->stop(15), 0) << svc_->stderr_text();  // before its cluster goes
}

}  // namespace
}  // namespace sc::testing
