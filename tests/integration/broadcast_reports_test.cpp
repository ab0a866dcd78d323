// Operators' reports of broadcasts against the real binary: `stayconnected
// broadcasts list|show|watch` read a running service's database, and
// /metrics carries the broadcast counters (promtool accepts them).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "sc/core/broadcast.h"
#include "sc/core/quiet_hours.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class BroadcastReportsTest : public ServiceTest {
 protected:
  const httplib::Headers auth_{{"Authorization", std::string("Bearer ") + kAdminKey}};

  RunResult broadcasts(const std::vector<std::string>& args,
                       std::map<std::string, std::string> env = {}) {
    std::vector<std::string> a = {"broadcasts"};
    a.insert(a.end(), args.begin(), args.end());
    auto e = base_env();
    for (auto& [k, v] : env) e[k] = v;
    return run_binary(SC_BINARY, a, e);
  }

  // Signs up and confirms an address through the link in its confirmation
  // (found by address: a welcome email may arrive in between).
  void confirmed(const std::string& email) {
    ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", email}})->status, 202);
    std::optional<std::string> link;
    ASSERT_TRUE(wait_for([&] {
      for (const auto& eml : emails()) {
        const auto body = decode_quoted_printable(eml);
        if (body.find(email) == std::string::npos) continue;
        if ((link = find_link(body, "/confirm/"))) return true;
      }
      return false;
    })) << "no confirmation for "
        << email;
    auto r = cli_->Post(link->c_str(), "", "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(email_state(email), "confirmed");
  }

  // The broadcast emails written so far (their text part holds `marker`).
  std::vector<std::string> broadcast_emails(const std::string& marker) {
    std::vector<std::string> out;
    for (const auto& eml : emails()) {
      auto body = decode_quoted_printable(eml);
      if (body.find(marker) != std::string::npos) out.push_back(std::move(body));
    }
    return out;
  }

  json create(const json& body, const std::string& idempotency_key = "") {
    auto h = auth_;
    if (!idempotency_key.empty()) h.emplace("Idempotency-Key", idempotency_key);
    auto r = cli_->Post("/api/v1/admin/broadcasts", h, body.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 201) << r->body;
    return json::parse(r->body);
  }

  int act(std::int64_t id, const std::string& what) {
    auto r = cli_->Post(("/api/v1/admin/broadcasts/" + std::to_string(id) + "/" + what).c_str(),
                        auth_, "", "application/json");
    return r ? r->status : -1;
  }

  json get(std::int64_t id) {
    auto r = cli_->Get(("/api/v1/admin/broadcasts/" + std::to_string(id)).c_str(), auth_);
    if (!r || r->status != 200) return nullptr;
    return json::parse(r->body);
  }

  std::string scrape() {
    auto r = cli_->Get("/metrics", auth_);
    if (!r || r->status != 200) return {};
    return r->body;
  }
};

TEST_F(BroadcastReportsTest, ListShowAndWatchReadTheDatabaseOfARunningService) {
  start({{"SC_SIGNUP_LIMITS", "off"}});
  confirmed("ann@example.org");
  confirmed("bob@example.org");
  auto email = create({{"channel", "email"},
                       {"subject", "News for {{first_name}}"},
                       {"text", "Hello from {{org_name}}.\nSecond line."},
                       {"html", "<p>Hello from <b>{{org_name}}</b> &amp; friends.</p>"}},
                      "cli-test-1");
  ASSERT_FALSE(email.is_null());
  const auto id = email["id"].get<std::int64_t>();
  ASSERT_EQ(act(id, "send"), 200);
  ASSERT_TRUE(wait_for([&] {
    auto j = get(id);
    return !j.is_null() && j["status"] == "completed";
  })) << get(id).dump();
  // The admin-written HTML is the HTML part (it was once replaced by the
  // text part for want of the template's flag).
  ASSERT_TRUE(wait_for([&] { return broadcast_emails("Second line.").size() == 2; }));
  for (const auto& body : broadcast_emails("Second line.")) {
    EXPECT_NE(body.find("<p>Hello from <b>Test Org</b> &amp; friends.</p>"), std::string::npos)
        << body;
  }
  std::string town_hall = "Hi {{first_name}}!";
  for (int i = 0; i < 6; ++i) town_hall += " Town hall on Friday at 6pm.";
  auto sms = create({{"channel", "sms"}, {"text", town_hall}});
  const auto sms_id = sms["id"].get<std::int64_t>();

  auto list = broadcasts({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  // Newest first; counts: total, sent, failed, skipped, unknown, queued.
  const std::regex sms_row("\\n" + std::to_string(sms_id) +
                           " +sms +draft +\\S+Z +0 +0 +0 +0 +0 +0\\n");
  const std::regex email_row("\\n" + std::to_string(id) +
                             " +email +completed +\\S+Z +2 +2 +0 +0 +0 +0\\n");
  EXPECT_TRUE(std::regex_search(list.out, sms_row)) << list.out;
  EXPECT_TRUE(std::regex_search(list.out, email_row)) << list.out;
  EXPECT_LT(list.out.find("\n" + std::to_string(sms_id) + " "),
            list.out.find("\n" + std::to_string(id) + " "))
      << list.out;
  EXPECT_EQ(list.out.rfind("ID ", 0), 0u) << list.out;
  auto one = broadcasts({"list", "--limit", "1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out.find("email"), std::string::npos) << one.out;

  auto show = broadcasts({"show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  for (const std::string& want :
       {"id:          " + std::to_string(id) + "\n", std::string("channel:     email\n"),
        std::string("status:      completed\n"),
        std::string("subject:     News for {{first_name}}\n"),
        std::string("idempotency: cli-test-1\n"), std::string("created:     "),
        std::string(" by SC_ADMIN_API_KEY\n"), std::string("snapshot:    done\n"),
        std::string("counts:      total 2, queued 0, sent 2, failed 0, skipped 0, unknown 0, "
                    "delivered 0, undelivered 0\n"),
        std::string("text:\n  Hello from {{org_name}}.\n  Second line.\n")}) {
    EXPECT_NE(show.out.find(want), std::string::npos) << want << "\n" << show.out;
  }
  EXPECT_EQ(show.out.find("finished:    -"), std::string::npos) << show.out;
  auto show_sms = broadcasts({"show", std::to_string(sms_id)});
  ASSERT_EQ(show_sms.exit_code, 0) << show_sms.err;
  EXPECT_NE(show_sms.out.find("status:      draft\n"), std::string::npos) << show_sms.out;
  // The same count as the API's (a 100-character name and the STOP line: 2 parts).
  EXPECT_EQ(get(sms_id)["segments"], 2) << get(sms_id).dump();
  EXPECT_NE(show_sms.out.find("segments:    2 (GSM-7)\n"), std::string::npos) << show_sms.out;
  EXPECT_EQ(show_sms.out.find("subject:"), std::string::npos) << show_sms.out;

  // Not a terminal: plain lines, and a completed broadcast ends at once.
  auto watch = broadcasts({"watch", std::to_string(id), "--interval", "0.1"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_NE(watch.out.find("[##############################] 100% 2/2 sent 2 failed 0 skipped 0 "
                           "unknown 0 queued 0 | completed |"),
            std::string::npos)
      << watch.out;
  EXPECT_EQ(watch.out.find('\r'), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("broadcast " + std::to_string(id) + " completed\n"), std::string::npos)
      << watch.out;

  // On a terminal (script(1) gives it one): the line is redrawn in place.
  if (std::filesystem::exists("/usr/bin/script")) {
    auto tty = run_binary(
        "/usr/bin/script",
        {"-qec",
         std::string(SC_BINARY) + " broadcasts watch " + std::to_string(id) + " --interval 0.1",
         "/dev/null"},
        base_env());
    EXPECT_EQ(tty.exit_code, 0) << tty.out << tty.err;
    EXPECT_NE(tty.out.find("\r[##############################] 100% 2/2 "), std::string::npos)
        << tty.out;
    EXPECT_NE(tty.out.find("\033[K"), std::string::npos) << tty.out;
  }
}

TEST_F(BroadcastReportsTest, WatchShowsThePauseReasonAndExitsOnPauseWhenAsked) {
  start({{"SC_SIGNUP_LIMITS", "off"}});
  confirmed("cat@example.org");
  auto b = create({{"channel", "email"},
                   {"subject", "Later"},
                   {"text", "Hello"},
                   {"send_at", "2099-01-01T09:00:00Z"}});
  const auto id = b["id"].get<std::int64_t>();
  ASSERT_EQ(act(id, "send"), 200);
  ASSERT_EQ(get(id)["status"], "scheduled");
  ASSERT_EQ(act(id, "pause"), 200);
  auto watch = broadcasts({"watch", std::to_string(id), "--exit-on-pause", "--interval", "0.1"});
  EXPECT_EQ(watch.exit_code, 3) << watch.out << watch.err;
  EXPECT_NE(watch.out.find("| paused |"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("ETA --"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("paused: paused by SC_ADMIN_API_KEY\n"), std::string::npos) << watch.out;

  // Cancelled while watched: the watch ends with 0.
  ASSERT_EQ(act(id, "cancel"), 200);
  watch = broadcasts({"watch", std::to_string(id), "--interval", "0.1"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_NE(watch.out.find("broadcast " + std::to_string(id) + " cancelled\n"), std::string::npos)
      << watch.out;
}

TEST_F(BroadcastReportsTest, BadArgumentsAndUnknownIdsExit2WithTheReason) {
  start();
  auto b = create({{"channel", "sms"}, {"text", "Hi"}});
  const auto id = std::to_string(b["id"].get<std::int64_t>());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "missing subcommand"},
      {{"frobnicate"}, "unknown subcommand \"frobnicate\""},
      {{"show"}, "show: give the broadcast's ID"},
      {{"show", "abc"}, "bad ID \"abc\""},
      {{"show", "-1"}, "bad ID \"-1\""},
      {{"show", "0"}, "bad ID \"0\""},
      {{"show", "999999"}, "no broadcast with id 999999"},
      {{"watch", "999999"}, "no broadcast with id 999999"},
      {{"show", id, "extra"}, "unexpected argument \"extra\""},
      {{"watch", id, "--interval", "0"}, "--interval wants seconds from 0.1 to 3600"},
      {{"watch", id, "--interval", "soon"}, "--interval wants seconds"},
      {{"watch", id, "--interval"}, "unexpected argument \"--interval\""},
      {{"watch", id, "--bogus"}, "unexpected argument \"--bogus\""},
      {{"list", "--limit", "0"}, "--limit wants a whole number from 1 to 1000"},
      {{"list", "--limit", "x"}, "--limit wants"},
      {{"list", "--before"}, "unexpected argument \"--before\""},
  };
  for (const auto& [args, want] : cases) {
    auto r = broadcasts(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << ::testing::PrintToString(args) << "\n"
                                                   << r.err;
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(args);
  }
  // No database there: a clear line, and nothing is created.
  auto r = broadcasts({"list"}, {{"SC_DB", dir_.str("nowhere/sc.db")}});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no database at"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.str("nowhere")));
}

TEST_F(BroadcastReportsTest, MetricsCarryTheBroadcastCountersAndPromtoolAcceptsThem) {
  start({{"SC_SIGNUP_LIMITS", "off"}});
  confirmed("dan@example.org");
  confirmed("eve@example.org");
  auto b = create({{"channel", "email"}, {"subject", "Hi"}, {"text", "Hello"}});
  const auto id = std::to_string(b["id"].get<std::int64_t>());
  ASSERT_EQ(act(b["id"].get<std::int64_t>(), "send"), 200);
  create({{"channel", "sms"}, {"text", "A draft"}});
  const std::vector<std::string> want = {
      "sc_broadcasts{status=\"completed\"} 1\n",
      "sc_broadcasts{status=\"draft\"} 1\n",
      "sc_broadcasts{status=\"sending\"} 0\n",
      "sc_broadcast_recipients{broadcast=\"" + id + "\",state=\"sent\"} 2\n",
      "sc_broadcast_recipients{broadcast=\"" + id + "\",state=\"queued\"} 0\n",
      "sc_broadcast_recipients{broadcast=\"" + id + "\",state=\"unknown\"} 0\n",
      "sc_broadcast_delivery_reports{broadcast=\"" + id + "\",state=\"delivered\"} 0\n",
      "sc_broadcast_waiting_recipients{broadcast=\"" + id + "\"} 0\n",
      "sc_broadcast_waiting_until_timestamp_seconds{broadcast=\"" + id + "\"} 0\n",
  };
  std::string text;
  wait_for([&] {
    text = scrape();
    for (const auto& w : want)
      if (text.find(w) == std::string::npos) return false;
    return true;
  });
  for (const auto& w : want) EXPECT_NE(text.find(w), std::string::npos) << w << "\n" << text;
  // A draft has no recipients to report.
  EXPECT_EQ(
      text.find("sc_broadcast_recipients{broadcast=\"" + std::to_string(std::stoll(id) + 1) + "\""),
      std::string::npos)
      << text;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("SC_REQUIRE_PROMTOOL") != nullptr) FAIL() << "promtool is required but missing";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const auto file = dir_.str("metrics.txt");
  std::ofstream(file) << text;
  const int rc =
      std::system(("promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1").c_str());
  std::ifstream in(file + ".out");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out << "\n" << text;
}

// Quiet hours through the real binary: texts held until their recipients'
// window opens show as waiting, with when they may go, in GET, the
// recipients (JSON, filter, CSV), `broadcasts show`, `broadcasts watch` and
// /metrics (promtool accepts it). The window is chosen from the wall clock so
// that California (area code 650) is outside it for at least 15 minutes.
TEST_F(BroadcastReportsTest, TextsHeldByQuietHoursShowAsWaitingEverywhere) {
  const std::string number = "+16502530000";
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::string window;
  std::int64_t until = 0;
  for (int h = 0; h < 24 && window.empty(); ++h) {
    const auto u = quiet_hours_wait_until(number, now, QuietHours{h * 60, (h + 1) * 60});
    if (u > now + 900) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%02d:00-%02d:00", h, h + 1);
      window = buf;
      until = u;
    }
  }
  ASSERT_FALSE(window.empty());
  start({{"SC_SIGNUP_LIMITS", "off"}, {"SC_SMS_SEND_WINDOW", window}});
  std::string sql = "BEGIN;";
  for (int i = 0; i < 3; ++i) {
    sql += "INSERT INTO subscribers (first_name, created_at) VALUES ('P', 1);";
    sql +=
        "INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at) VALUES "
        "((SELECT MAX(id) FROM subscribers), 'sms', '+1650253000" +
        std::to_string(i) + "', 'confirmed', 1, 1);";
  }
  db_inspect::exec(db(), sql + "COMMIT;");
  auto b = create({{"channel", "sms"}, {"text", "Polls open at 7"}});
  const auto id = b["id"].get<std::int64_t>();
  ASSERT_EQ(act(id, "send"), 200);
  json one;
  ASSERT_TRUE(wait_for([&] {
    one = get(id);
    return !one.is_null() && one["counts"]["waiting"] == 3;
  })) << one.dump()
      << svc_->stderr_text();
  EXPECT_EQ(one["status"], "sending");
  EXPECT_EQ(one["counts"]["total"], 3);
  EXPECT_EQ(one["counts"]["queued"], 3);  // waiting is part of queued
  const auto until_utc = format_rfc3339(until);
  EXPECT_EQ(one["waiting_until"], until_utc) << one.dump();

  const std::string base = "/api/v1/admin/broadcasts/" + std::to_string(id);
  auto waiting = cli_->Get((base + "/recipients?status=waiting").c_str(), auth_);
  ASSERT_TRUE(waiting && waiting->status == 200);
  auto rows = json::parse(waiting->body)["items"];
  ASSERT_EQ(rows.size(), 3u) << waiting->body;
  for (const auto& r : rows) {
    EXPECT_EQ(r["state"], "waiting");
    EXPECT_EQ(r["waiting_until"], until_utc);
    EXPECT_EQ(r["attempts"], 0);
  }
  auto queued = cli_->Get((base + "/recipients?status=queued").c_str(), auth_);
  ASSERT_TRUE(queued && queued->status == 200);
  EXPECT_TRUE(json::parse(queued->body)["items"].empty()) << queued->body;
  auto csv = cli_->Get((base + "/recipients.csv").c_str(), auth_);
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_NE(csv->body.find(",+16502530001,waiting,0,,,,,,," + until_utc + "\r\n"),
            std::string::npos)
      << csv->body;

  char hhmm[32];
  const auto t = static_cast<std::time_t>(until);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::snprintf(hhmm, sizeof hhmm, "%02d:%02d UTC", tm.tm_hour, tm.tm_min);
  const std::string phrase = std::string("waiting for the send window until ") + hhmm;
  auto show = broadcasts({"show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("counts:      total 3, queued 3, sent 0,"), std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("waiting:     3 of the queued, " + phrase + " (" + until_utc + ")\n"),
            std::string::npos)
      << show.out;
  // watch never ends while texts wait: a bounded run, then its first line.
  auto watch =
      run_binary(SC_BINARY, {"broadcasts", "watch", std::to_string(id), "--interval", "0.2"},
                 base_env(), std::chrono::seconds(3));
  EXPECT_NE(watch.out.find("queued 3 (3 waiting) | sending | 0 msg/s | " + phrase + "\n"),
            std::string::npos)
      << watch.out << watch.err;
  EXPECT_EQ(watch.out.find("ETA --"), std::string::npos) << watch.out;

  const std::vector<std::string> want = {
      "sc_broadcast_recipients{broadcast=\"" + std::to_string(id) + "\",state=\"queued\"} 3\n",
      "sc_broadcast_waiting_recipients{broadcast=\"" + std::to_string(id) + "\"} 3\n",
      "sc_broadcast_waiting_until_timestamp_seconds{broadcast=\"" + std::to_string(id) + "\"} " +
          std::to_string(until) + "\n"};
  std::string text = scrape();
  for (const auto& w : want) EXPECT_NE(text.find(w), std::string::npos) << w << "\n" << text;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("SC_REQUIRE_PROMTOOL") != nullptr) FAIL() << "promtool is required but missing";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const auto file = dir_.str("metrics.txt");
  std::ofstream(file) << text;
  const int rc =
      std::system(("promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1").c_str());
  std::ifstream in(file + ".out");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out << "\n" << text;
}

}  // namespace
}  // namespace sc::testing
