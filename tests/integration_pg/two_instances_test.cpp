// Two instances, end to end (issue 16 point 9): two real `stayconnected serve`
// processes on one PostgreSQL database, behind a real nginx with the shipped
// upstream example (deploy/nginx/stayconnected-upstream.conf) and proxy
// settings, against a fake SendGrid that counts every (broadcast, recipient)
// pair and the messages per second.
//
// A broadcast to 20,000 recipients under a rate limit; instance A is
// SIGKILLed mid-send and started again. Meanwhile people sign up through
// nginx and one recipient unsubscribes. Then both instances are killed and
// started again. What it asserts:
// - every recipient ends `sent`, the provider having seen that pair exactly
//   once, or `unknown` (listed by GET …/recipients); none is lost (every one
//   is in the ledger, none `sent` that the provider never saw, none queued
//   or failed); a pair the provider saw twice is only ever an `unknown`;
//   unknowns at most what the killed instance had in flight (the cap + half,
//   as tests/integration/broadcast_crash_test.cpp bounds it per kill);
// - the provider's rate, over any sliding 1 s window of arrivals, at most
//   the limit plus one slice (kSlice: what one grant of the global bucket
//   may add) plus one more for the hand-over: a token is taken when the
//   dispatcher hands the message to the provider client, and the request
//   may wait there for one of the in-flight places, so on a loaded host
//   messages of one slot arrive up to that wait later (565 in one second
//   once under ctest -j2 with ASan; two per-process limits give ~1,000);
// - every sign-up nginx answered 2xx is in the database after both
//   instances were killed and restarted;
// - the unsubscribe: the recipient unsubscribes (through nginx) while the
//   send is far from their turn (they are the last of the ledger, and the
//   provider has seen nothing for them): their row ends `skipped` and the
//   provider never receives the broadcast for them. (A message already handed
//   over to the provider when the unsubscribe is acknowledged may still
//   arrive; that is at most the in-flight cap, and is not this case.)
// - a confirmation link mailed by instance A confirms on instance B (the
//   same SC_SECRET), while B has never seen the sign-up.
// The figures (messages, duplicates, unknowns, the highest rate) are printed
// on one line, "two instances: ...", pass or fail.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_sendgrid.h"
#include "support/db_inspect.h"
#include "support/nginx.h"
#include "support/pg_cluster.h"
#include "support/sent_email.h"
#include "support/service_process.h"
#include "support/temp_dir.h"
#include "support/wait_for.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr int kRecipients = 20'000;
// SC_EMAIL_RATE_LIMIT on both: messages/s in all. Low enough to bind: two
// ASan instances on a busy 2-core host still send about 900/s between them,
// so two per-process limits of 500 show as ~2x the limit; the global limit
// makes the send last 40 s (the test about 60 s).
constexpr int kRate = 500;
// What the global bucket may add within a second: one grant (a tenth of the
// rate, 100 ms of sending). Align with the bucket's grant size if it differs.
constexpr int kSlice = kRate / 10;
constexpr int kUnsubscribeAt = 2'000;  // broadcast messages seen when the unsubscribe goes
constexpr int kKillAt = 6'000;         // ... when instance A is SIGKILLed
constexpr int kSignUpEvery = 40;       // one sign-up through nginx per 40 broadcast messages
constexpr int kInFlight = 64;          // SC_SENDGRID_MAX_IN_FLIGHT's default
constexpr const char* kAdminKey = "two-instances-admin-key";
constexpr const char* kSecret = "two-instances-shared-secret-0123456789";
constexpr const char* kLate = "late@example.org";  // signs up last, unsubscribes mid-send

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TwoInstancesTest : public ::testing::Test {
 protected:
  void TearDown() override {
    stop_signups_ = true;
    if (signups_.joinable()) signups_.join();
  }

  static fakes::FakeSendgrid::Options fake_options() {
    fakes::FakeSendgrid::Options o;
    o.jitter_ms = 10;
    o.threads = 256;  // two instances' connections, and a killed one's still open
    o.keep_bodies = false;
    o.keep_transactional_bodies = true;  // the confirmation and welcome links
    return o;
  }

  std::map<std::string, std::string> env(const std::string& name, int port) {
    return {{"SC_DB", db_},
            {"SC_SECRET", kSecret},
            {"SC_LISTEN", "127.0.0.1:" + std::to_string(port)},
            {"SC_PUBLIC_URL", "https://signup.test-org.example"},
            {"SC_TRUSTED_PROXIES", "127.0.0.1"},
            {"SC_ADMIN_API_KEY", kAdminKey},
            {"SC_ORG_NAME", "Test Org"},
            {"SC_POSTAL_ADDRESS", "1 Main St, Springfield"},
            {"SC_EMAIL_FROM", "Test Org <news@test-org.example>"},
            {"SC_EMAIL_PROVIDER", "sendgrid"},
            {"SC_SENDGRID_API_KEY", fake_.api_key()},
            {"SC_SENDGRID_API_BASE", fake_.base_url()},
            {"SC_EMAIL_RATE_LIMIT", std::to_string(kRate)},
            {"SC_EMAIL_OUTBOX_DIR", dir_.str(name + "/outbox")},  // per instance (unused)
            {"SC_SMS_LOG_FILE", dir_.str(name + "/sms.log")},
            {"SC_SIGNUP_LIMITS", "off"},  // every sign-up comes from 127.0.0.1
            {"SC_BROADCAST_PAUSE_AFTER_ERRORS", "0"},
            {"SC_RETRY_BASE_SECONDS", "1"}};
  }

  // The shipped upstream example with its server lines replaced by the
  // instances' ports, the site's per-client zone, and a server block with the
  // shipped proxy settings.
  std::string nginx_http(int port) {
    auto upstream = slurp(std::string(SC_SOURCE_DIR) + "/deploy/nginx/stayconnected-upstream.conf");
    const std::regex server_line(R"(\n(\s*)server\s+[0-9.]+:[0-9]+)");
    std::string out;
    std::size_t n = 0;
    auto begin = std::sregex_iterator(upstream.begin(), upstream.end(), server_line);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      out += upstream.substr(last, static_cast<std::size_t>(it->position()) - last);
      out +=
          "\n" + (*it)[1].str() + "server 127.0.0.1:" + std::to_string(n == 0 ? port_a_ : port_b_);
      last = static_cast<std::size_t>(it->position() + it->length());
      ++n;
    }
    out += upstream.substr(last);
    EXPECT_EQ(n, 2u) << "the example names two instances";
    return out + "\nlimit_conn_zone $binary_remote_addr zone=sc_per_ip:1m;\n" +
           "server {\n  listen 127.0.0.1:" + std::to_string(port) + ";\n  include " +
           SC_SOURCE_DIR + "/deploy/nginx/stayconnected-proxy.conf;\n}\n";
  }

  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

  std::unique_ptr<httplib::Client> client(int port) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(20, 0);
    return c;
  }

  // 20,000 confirmed email channels, r0..r19999@example.org, written
  // straight into the migrated database (ids from the identity columns).
  void seed() {
    db_inspect::exec(db_,
                     "INSERT INTO subscribers (first_name, created_at) SELECT 'Reader' || i, "
                     "1700000000 FROM generate_series(0, " +
                         std::to_string(kRecipients - 1) + ") AS i");
    db_inspect::exec(
        db_,
        "INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at) "
        "SELECT id, 'email', 'r' || (id - (SELECT min(id) FROM subscribers)) || '@example.org', "
        "'confirmed', 1700000000, 1700000000 FROM subscribers ORDER BY id");
  }

  // The first transactional body the fake received for `to` that holds a
  // link under `prefix`: the link's path.
  std::string link_for(const std::string& to, const std::string& prefix) {
    std::string link;
    EXPECT_TRUE(wait_for([&] {
      for (const auto& b : fake_.bodies()) {
        if (b["personalizations"][0]["to"][0]["email"] != to) continue;
        for (const auto& c : b["content"]) {
          if (auto l = find_link(c["value"].get<std::string>(), prefix)) {
            link = *l;
            return true;
          }
        }
      }
      return false;
    })) << "no message to "
        << to << " with a " << prefix << " link";
    return link;
  }

  json get(httplib::Client& c, const std::string& path) {
    auto r = c.Get(path.c_str(), admin());
    if (!r || r->status != 200) return nullptr;
    return json::parse(r->body);
  }

  // The whole ledger through the recipients API, following `next`.
  std::map<std::string, std::string> ledger(httplib::Client& c, std::int64_t id) {
    std::map<std::string, std::string> state_of;
    std::string path = "/api/v1/admin/broadcasts/" + std::to_string(id) + "/recipients?limit=1000";
    while (!path.empty()) {
      auto page = get(c, path);
      if (page.is_null()) {
        ADD_FAILURE() << "recipients page " << path << " failed";
        break;
      }
      for (const auto& item : page["items"]) {
        const auto address = item["address"].get<std::string>();
        EXPECT_TRUE(state_of.emplace(address, item["state"].get<std::string>()).second)
            << address << " twice in the ledger";
      }
      path = page.contains("next") ? page["next"].get<std::string>() : std::string();
    }
    return state_of;
  }

  // Signs up walkin-N@example.org through nginx each time the fake has seen
  // kSignUpEvery more broadcast messages, until stopped; keeps the 2xx ones.
  void sign_up_during_the_send() {
    signups_ = std::thread([this] {
      auto c = client(nginx_port_);
      std::size_t next = kSignUpEvery;
      for (int n = 0; !stop_signups_; ++n) {
        wait_for([&] { return stop_signups_ || fake_.broadcast_count() >= next; },
                 std::chrono::seconds(60));
        if (stop_signups_) break;
        next += kSignUpEvery;
        const auto email = "walkin-" + std::to_string(n) + "@example.org";
        auto r =
            c->Post("/api/v1/subscriptions", json{{"email", email}}.dump(), "application/json");
        std::lock_guard lock(signup_mu_);
        const int status = r ? r->status : 0;
        ++signup_statuses_[status];
        if (status >= 200 && status < 300) acknowledged_.push_back(email);
      }
    });
  }

  TempDir dir_;
  fakes::FakeSendgrid fake_{fake_options()};
  std::string db_;
  int port_a_ = 0, port_b_ = 0, nginx_port_ = 0;
  std::thread signups_;
  std::atomic<bool> stop_signups_{false};
  std::mutex signup_mu_;
  std::map<int, int> signup_statuses_;
  std::vector<std::string> acknowledged_;
};

TEST_F(TwoInstancesTest, ABroadcastSurvivesAKilledInstanceWithoutDuplicatesAboveTheRate) {
  ASSERT_FALSE(nginx_binary().empty()) << "nginx is not installed (scripts/install-deps.sh)";
  const auto t0 = steady_ms();
  db_ = PgCluster::shared().create_database("twoinst");
  port_a_ = free_port();
  port_b_ = free_port();
  nginx_port_ = free_port();
  auto migrated = run_binary(SC_BINARY, {"migrate"}, env("a", port_a_));
  ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
  seed();

  // A alone: a sign-up at A, whose confirmation link B (not yet started,
  // so it never saw the sign-up) then confirms.
  ServiceProcess a(SC_BINARY, env("a", port_a_));
  ASSERT_TRUE(a.start()) << a.stderr_text();
  auto ca = client(port_a_);
  auto signed_up =
      ca->Post("/api/v1/subscriptions", json{{"email", kLate}}.dump(), "application/json");
  ASSERT_TRUE(signed_up);
  ASSERT_EQ(signed_up->status, 202) << signed_up->body;
  const auto confirm = link_for(kLate, "/confirm/");
  ASSERT_FALSE(confirm.empty());
  ServiceProcess b(SC_BINARY, env("b", port_b_));
  ASSERT_TRUE(b.start()) << b.stderr_text();
  auto cb = client(port_b_);
  auto confirmed = cb->Post(confirm.c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(confirmed);
  ASSERT_EQ(confirmed->status, 200) << confirmed->body;
  EXPECT_EQ(json::parse(confirmed->body)["state"], "confirmed") << confirmed->body;
  const auto unsubscribe = link_for(kLate, "/unsubscribe/");  // in the welcome message
  ASSERT_FALSE(unsubscribe.empty());

  NginxProcess nginx(dir_.str("nginx"), nginx_http(nginx_port_), nginx_port_);
  ASSERT_TRUE(nginx.ready()) << nginx.log();
  auto cn = client(nginx_port_);

  // The broadcast, through nginx.
  auto created = cn->Post("/api/v1/admin/broadcasts", admin(),
                          json{{"channel", "email"},
                               {"subject", "News"},
                               {"text", "Hello {{first_name}}, here is the news."}}
                              .dump(),
                          "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  const auto id = json::parse(created->body)["id"].get<std::int64_t>();
  const auto bid = std::to_string(id);
  const std::string base = "/api/v1/admin/broadcasts/" + bid;
  auto sent = cn->Post((base + "/send").c_str(), admin(), "", "application/json");
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  const auto send_ms = steady_ms();
  sign_up_during_the_send();

  // The unsubscribe, far from the late recipient's turn.
  ASSERT_TRUE(
      wait_for([&] { return fake_.broadcast_count() >= kUnsubscribeAt; }, std::chrono::seconds(60)))
      << fake_.broadcast_count() << " messages\n"
      << a.stderr_text() << b.stderr_text();
  EXPECT_EQ(fake_.broadcast_pairs().count({bid, kLate}), 0u) << "the late one's turn came early";
  auto unsubscribed = cn->Post(unsubscribe.c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(unsubscribed);
  ASSERT_EQ(unsubscribed->status, 200) << unsubscribed->body;
  const auto acknowledged_ms = steady_ms();

  // Instance A dies mid-send, and comes back on the same port.
  ASSERT_TRUE(
      wait_for([&] { return fake_.broadcast_count() >= kKillAt; }, std::chrono::seconds(60)))
      << fake_.broadcast_count() << " messages\n"
      << a.stderr_text() << b.stderr_text();
  const auto killed_at = fake_.broadcast_count();
  // What two sending instances hold open (for sizing max_connections).
  const auto connections = db_inspect::query_value(
      db_, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()");
  a.kill_hard();
  const auto restart_ms = steady_ms();
  ASSERT_TRUE(a.start()) << a.stderr_text();

  json bc;
  const bool completed = wait_for(
      [&] {
        bc = get(*cn, base);
        return !bc.is_null() && bc["status"] == "completed";
      },
      std::chrono::seconds(120));
  const auto done_ms = steady_ms();
  stop_signups_ = true;
  signups_.join();
  EXPECT_TRUE(completed) << (bc.is_null() ? std::string("no broadcast") : bc.dump()) << "\n"
                         << a.stderr_text() << b.stderr_text();

  // Both instances killed and started again: every acknowledged sign-up stays.
  a.kill_hard();
  b.kill_hard();
  ASSERT_TRUE(a.start()) << a.stderr_text();
  ASSERT_TRUE(b.start()) << b.stderr_text();
  ASSERT_TRUE(wait_for([&] {
    auto h = cn->Get("/healthz");
    return h && h->status == 200;
  }));
  std::set<std::string> stored;
  {
    std::string all = db_inspect::query_value(
        db_,
        "SELECT string_agg(address, ',') FROM channels WHERE address LIKE 'walkin-%@example.org'");
    std::stringstream ss(all);
    for (std::string s; std::getline(ss, s, ',');) stored.insert(s);
  }
  std::size_t lost_signups = 0;
  for (const auto& e : acknowledged_) lost_signups += stored.count(e) == 0;

  // The ledger against what the provider saw.
  const auto state_of = ledger(*cn, id);
  const auto pairs = fake_.broadcast_pairs();
  std::map<std::string, int> states;
  for (const auto& [address, state] : state_of) ++states[state];
  std::size_t duplicates = 0, duplicates_outside_unknown = 0, sent_unseen = 0, sent_twice = 0,
              missing = 0, foreign = 0, b_released = 0;
  for (int i = 0; i < kRecipients; ++i) {
    const auto address = "r" + std::to_string(i) + "@example.org";
    const auto it = state_of.find(address);
    const auto p = pairs.find({bid, address});
    const int seen = p == pairs.end() ? 0 : p->second.count;
    if (seen > 1) ++duplicates;
    if (it == state_of.end()) {
      ++missing;
      continue;
    }
    if (seen > 1 && it->second != "unknown") ++duplicates_outside_unknown;
    if (it->second == "sent" && seen == 0) ++sent_unseen;
    if (it->second == "sent" && seen > 1) ++sent_twice;
    // Arrived well after A was dead, so sent by B, yet unknown: a live claim of B's
    // that A's restart released (a figure for the report, not a check here).
    if (it->second == "unknown" && seen > 0 && p->second.first_ms > restart_ms + 200) ++b_released;
  }
  for (const auto& [key, p] : pairs) foreign += key.first != bid || !state_of.count(key.second);
  const auto late = pairs.find({bid, kLate});
  const int late_seen = late == pairs.end() ? 0 : late->second.count;

  const auto max_1s = fake_.max_in_window(1000);
  std::map<std::int64_t, int> per_second;
  for (auto ms : fake_.arrival_steady_ms())
    if (ms >= send_ms) ++per_second[(ms - send_ms) / 1000];
  int max_second = 0;
  for (auto& [s, n] : per_second) max_second = std::max(max_second, n);
  std::ostringstream figures;
  figures << "two instances: " << kRecipients << " recipients, rate limit " << kRate
          << "/s (+ slice " << kSlice << "); provider got " << fake_.broadcast_count()
          << " broadcast messages for " << pairs.size() << " pairs, " << duplicates
          << " duplicated (" << duplicates_outside_unknown << " outside unknown); ledger";
  for (const auto& [state, n] : states) figures << " " << state << "=" << n;
  figures << " (" << b_released << " of them arrived over 200 ms after A died)";
  figures << "; missing " << missing << ", sent but unseen " << sent_unseen
          << "; max in any 1 s window " << max_1s << ", max per wall second " << max_second
          << "; A killed after " << killed_at << "; send took " << (done_ms - send_ms) << " ms; "
          << connections << " database connections while both sent (the test's own"
          << " included); sign-ups " << acknowledged_.size() << " acknowledged, " << lost_signups
          << " lost (statuses";
  for (const auto& [status, n] : signup_statuses_) figures << " " << status << "x" << n;
  figures << "); late recipient got " << late_seen << " after the unsubscribe at "
          << (acknowledged_ms - send_ms) << " ms; total " << (steady_ms() - t0) << " ms";
  std::cout << figures.str() << std::endl;
  RecordProperty("figures", figures.str());

  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
  // Every recipient once in the ledger, sent or unknown; the late one skipped.
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(state_of.size(), static_cast<std::size_t>(kRecipients) + 1);
  EXPECT_EQ(states["sent"] + states["unknown"], kRecipients) << figures.str();
  EXPECT_EQ(state_of.count(kLate) ? state_of.at(kLate) : "absent", "skipped");
  // Sent exactly once; duplicates only among the listed unknowns.
  EXPECT_EQ(sent_unseen, 0u) << figures.str();
  EXPECT_EQ(sent_twice, 0u) << figures.str();
  EXPECT_EQ(duplicates_outside_unknown, 0u) << figures.str();
  EXPECT_EQ(foreign, 0u) << "the provider got messages of no ledger row";
  EXPECT_LE(states["unknown"], kInFlight + kInFlight / 2) << figures.str();
  // The rate, across both instances.
  EXPECT_LE(max_1s, static_cast<std::size_t>(kRate + 2 * kSlice)) << figures.str();
  // The unsubscribe took effect: nothing of the broadcast reached them.
  EXPECT_EQ(late_seen, 0) << figures.str();
  // Sign-ups during the send: some went through, and none acknowledged was lost.
  EXPECT_GE(acknowledged_.size(), static_cast<std::size_t>(kRecipients / kSignUpEvery / 2))
      << figures.str();
  EXPECT_EQ(lost_signups, 0u) << figures.str();
  auto walkin = get(*cn, "/api/v1/admin/subscribers?email=walkin-0%40example.org");
  EXPECT_FALSE(walkin.is_null()) << "the first sign-up is not served after the restart";
}

}  // namespace
}  // namespace sc::testing
