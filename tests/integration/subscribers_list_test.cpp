// The operators' list through the real binary (both backends): sign-ups
// through the public API, then GET /api/v1/admin/subscribers with searches,
// filters and pages, GET …/subscribers/{id} with consent and messages, and an
// operator's changes: PATCH …/{id} and POST …/{id}/unsubscribe.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "integration/service_fixture.h"

namespace sc::testing {
namespace {

class SubscribersListTest : public ServiceTest {
 protected:
  httplib::Result admin_get(const std::string& path, const std::string& key = kAdminKey) {
    httplib::Headers h{{"Authorization", "Bearer " + key}};
    return cli_->Get(path.c_str(), h);
  }
  nlohmann::json list(const std::string& query) {
    auto r = admin_get("/api/v1/admin/subscribers" + query);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer") << " for " << query;
    return r && r->status == 200 ? nlohmann::json::parse(r->body) : nlohmann::json::object();
  }
  std::vector<std::string> emails_of(const nlohmann::json& page) {
    std::vector<std::string> out;
    for (const auto& item : page.value("items", nlohmann::json::array()))
      out.push_back(item["email"].is_null() ? "" : item["email"].get<std::string>());
    return out;
  }
  std::string error_of(const std::string& query) {
    auto r = admin_get("/api/v1/admin/subscribers" + query);
    if (!r) return "no answer";
    if (r->status != 422) return "status " + std::to_string(r->status) + ": " + r->body;
    return nlohmann::json::parse(r->body)["error"]["code"].get<std::string>();
  }
  httplib::Result admin_send(const std::string& method, const std::string& path,
                             const std::string& body, const std::string& key = kAdminKey,
                             const std::string& type = "application/json") {
    httplib::Headers h{{"Authorization", "Bearer " + key}};
    if (method == "PATCH") return cli_->Patch(path.c_str(), h, body, type.c_str());
    return cli_->Post(path.c_str(), h, body, type.c_str());
  }
  std::int64_t id_of(const std::string& email) {
    const auto page = list("?q=" + httplib::detail::encode_query_param(email));
    EXPECT_EQ(page["items"].size(), 1u) << email;
    return page["items"].empty() ? 0 : page["items"][0]["id"].get<std::int64_t>();
  }
  std::string audit_detail(const std::string& action, std::int64_t id) {
    return db_inspect::query_value(db(),
                                   "SELECT coalesce(max(detail), '') FROM audit_log WHERE "
                                   "action = '" +
                                       action + "' AND target = 'subscriber " + std::to_string(id) +
                                       "'");
  }
  // The person at `address` follows the confirmation link of their email.
  void confirm_by_link(const std::string& address) {
    std::optional<std::string> confirm;
    for (const auto& eml : emails())
      if (eml.find(address) != std::string::npos)
        confirm = find_link(decode_quoted_printable(eml), "/confirm/");
    ASSERT_TRUE(confirm) << address;
    auto p = cli_->Post(confirm->c_str(), {{"Accept", "text/html"}}, "",
                        "application/x-www-form-urlencoded");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->status, 200);
  }
  void sign_up(const nlohmann::json& body) {
    auto r = post_json("/api/v1/subscriptions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
  }
};

TEST_F(SubscribersListTest, SearchesFiltersAndPagesNewestFirst) {
  start();
  sign_up({{"email", "ann.lee@example.org"}, {"first_name", "Ann"}, {"topics", {"news"}}});
  sign_up({{"email", "bob@example.net"}, {"first_name", "Bob"}, {"topics", {"events"}}});
  sign_up({{"email", "annex@example.org"}, {"first_name", "Cy"}});
  sign_up({{"email", "dee@example.org"}, {"first_name", "Dee"}, {"topics", {"news", "events"}}});
  ASSERT_TRUE(wait_emails(4));

  auto all = list("");
  EXPECT_EQ(emails_of(all), (std::vector<std::string>{"dee@example.org", "annex@example.org",
                                                      "bob@example.net", "ann.lee@example.org"}));
  EXPECT_FALSE(all.contains("next"));
  const auto& dee = all["items"][0];
  EXPECT_EQ(dee["first_name"], "Dee");
  EXPECT_TRUE(dee["phone"].is_null());
  EXPECT_EQ(dee["topics"], nlohmann::json({"events", "news"}));
  ASSERT_EQ(dee["channels"].size(), 1u);
  EXPECT_EQ(dee["channels"][0]["channel"], "email");
  EXPECT_EQ(dee["channels"][0]["state"], "pending");
  EXPECT_TRUE(dee["created_at"].get<std::string>().ends_with("Z"));

  // Pages of two, the filter carried by `next`.
  auto first = list("?limit=2&q=ann");
  EXPECT_EQ(emails_of(first),
            (std::vector<std::string>{"annex@example.org", "ann.lee@example.org"}));
  auto p1 = list("?limit=1&topic=NEWS");
  EXPECT_EQ(emails_of(p1), (std::vector<std::string>{"dee@example.org"}));
  ASSERT_TRUE(p1.contains("next"));
  const auto next = p1["next"].get<std::string>();
  EXPECT_NE(next.find("topic=NEWS"), std::string::npos) << next;
  auto p2 = list(next.substr(next.find('?')));
  EXPECT_EQ(emails_of(p2), (std::vector<std::string>{"ann.lee@example.org"}));
  EXPECT_FALSE(p2.contains("next"));

  EXPECT_EQ(emails_of(list("?q=BOB%40")), (std::vector<std::string>{"bob@example.net"}));
  EXPECT_EQ(emails_of(list("?q=cy")), (std::vector<std::string>{"annex@example.org"}));
  EXPECT_TRUE(emails_of(list("?q=example")).empty()) << "prefix only";
  EXPECT_EQ(emails_of(list("?state=pending&channel=email&topic=events")),
            (std::vector<std::string>{"dee@example.org", "bob@example.net"}));
  EXPECT_TRUE(emails_of(list("?state=confirmed")).empty());
  EXPECT_TRUE(emails_of(list("?channel=sms")).empty());
  EXPECT_EQ(emails_of(list("?created_after=2000-01-01T00:00:00Z")).size(), 4u);
  EXPECT_TRUE(emails_of(list("?created_before=2000-01-01T00:00:00Z")).empty());
}

TEST_F(SubscribersListTest, BadFiltersAre422AndTheListNeedsAKey) {
  start();
  EXPECT_EQ(error_of("?channel=fax"), "invalid_channel");
  EXPECT_EQ(error_of("?state=happy"), "invalid_state");
  EXPECT_EQ(error_of("?topic=a%20b"), "invalid_topic");
  EXPECT_EQ(error_of("?created_after=yesterday"), "invalid_created_after");
  EXPECT_EQ(error_of("?created_before=2026-13-01T00:00:00Z"), "invalid_created_before");
  EXPECT_EQ(error_of("?q=%01ann"), "invalid_q");
  EXPECT_EQ(error_of("?q=%FF%FE"), "invalid_q");
  EXPECT_EQ(error_of("?q=" + std::string(300, 'a')), "invalid_q");
  EXPECT_EQ(error_of("?q=%2B1"), "invalid_q");
  EXPECT_EQ(error_of("?limit=0"), "invalid_limit");
  EXPECT_EQ(error_of("?limit=501"), "invalid_limit");
  EXPECT_EQ(error_of("?before=-1"), "invalid_before");
  auto no_key = cli_->Get("/api/v1/admin/subscribers");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  auto wrong = admin_get("/api/v1/admin/subscribers", "not-the-key-0123456789abcdef");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  for (const char* path :
       {"/api/v1/admin/subscribers/0", "/api/v1/admin/subscribers/abc",
        "/api/v1/admin/subscribers/99999999999999999999", "/api/v1/admin/subscribers/12345"}) {
    auto r = admin_get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << ": " << r->body;
  }
}

TEST_F(SubscribersListTest, OneSubscriberWithConsentHistoryMessagesAndAnAuditRow) {
  start();
  sign_up({{"email", "eve@example.org"}, {"first_name", "Eve"}, {"postal_code", "12345"}});
  ASSERT_TRUE(wait_emails(1));
  const auto id = list("?q=eve%40")["items"][0]["id"].get<std::int64_t>();
  auto r = admin_get("/api/v1/admin/subscribers/" + std::to_string(id));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto d = nlohmann::json::parse(r->body);
  EXPECT_EQ(d["id"], id);
  EXPECT_EQ(d["email"], "eve@example.org");
  EXPECT_EQ(d["postal_code"], "12345");
  ASSERT_GE(d["consent"].size(), 1u);
  EXPECT_EQ(d["consent"][0]["action"], "grant");
  EXPECT_EQ(d["consent"][0]["source"], "form");
  // The confirmation request, sent (to the .eml outbox).
  ASSERT_TRUE(wait_for([&] {
    auto again = admin_get("/api/v1/admin/subscribers/" + std::to_string(id));
    if (!again || again->status != 200) return false;
    const auto m = nlohmann::json::parse(again->body)["messages"];
    return m.size() == 1 && m[0]["state"] == "sent";
  }));
  const auto views = [&] {
    return db_inspect::query_value(db(),
                                   "SELECT count(*) FROM audit_log WHERE action = "
                                   "'subscriber.view' AND target = 'subscriber " +
                                       std::to_string(id) + "'");
  };
  const auto seen = std::stoll(views());
  EXPECT_GE(seen, 2);
  // One more look: one more audit row (who looked whom up), stored first.
  const auto m = nlohmann::json::parse(
      admin_get("/api/v1/admin/subscribers/" + std::to_string(id))->body)["messages"][0];
  EXPECT_EQ(m["channel"], "email");
  EXPECT_EQ(m["purpose"], "confirm");
  EXPECT_TRUE(m["broadcast_id"].is_null());
  EXPECT_EQ(std::stoll(views()), seen + 1);
}

// GET /api/v1/admin/stats and /metrics' sc_subscribers count from the
// database: the same after a restart.
TEST_F(SubscribersListTest, StatsAndGaugesCountFromTheDatabaseAcrossARestart) {
  start();
  sign_up({{"email", "s1@example.org"}, {"topics", {"news"}}});
  sign_up({{"email", "s2@example.org"}, {"topics", {"news", "events"}}});
  ASSERT_TRUE(wait_emails(2));
  confirm_by_link("s1@example.org");
  restart();
  auto r = admin_get("/api/v1/admin/stats");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto s = nlohmann::json::parse(r->body);
  EXPECT_EQ(s["subscribers"], 2);
  EXPECT_EQ(s["channels"]["email"]["confirmed"], 1);
  EXPECT_EQ(s["channels"]["email"]["pending"], 1);
  EXPECT_EQ(s["channels"]["sms"]["confirmed"], 0);
  EXPECT_EQ(s["topics"], nlohmann::json({{"events", 1}, {"news", 2}}));
  ASSERT_EQ(s["days"].size(), 30u);
  const auto& today = s["days"][29];
  EXPECT_EQ(today["signups"], 2);
  EXPECT_EQ(today["confirmations"], 1);
  EXPECT_EQ(today["unsubscribes"], 0);
  EXPECT_EQ(today["date"].get<std::string>().size(), 10u);
  auto m = admin_get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("sc_subscribers{channel=\"email\",state=\"confirmed\"} 1"),
            std::string::npos)
      << m->body.substr(0, 2000);
  EXPECT_NE(m->body.find("sc_subscribers{channel=\"email\",state=\"pending\"} 1"),
            std::string::npos);
  auto no_key = cli_->Get("/api/v1/admin/stats");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
}

// PATCH changes what it names, with the sign-up's rules, and audits which
// fields it changed; a repeat changes nothing and writes no audit row.
TEST_F(SubscribersListTest, AnOperatorEditsNamePostalCodeAndTopicsAudited) {
  start();
  sign_up({{"email", "fay@example.org"}, {"first_name", "Fay"}, {"topics", {"news", "jobs"}}});
  ASSERT_TRUE(wait_emails(1));
  const auto id = id_of("fay@example.org");
  const auto path = "/api/v1/admin/subscribers/" + std::to_string(id);
  auto r =
      admin_send("PATCH", path,
                 R"({"first_name":" Faye ","postal_code":"SW1A 1AA","topics":["Events","news"]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["first_name"], "Faye");
  EXPECT_EQ(j["postal_code"], "SW1A 1AA");
  EXPECT_EQ(j["topics"], nlohmann::json({"events", "news"}));
  EXPECT_EQ(j["changed"], nlohmann::json({"first_name", "postal_code", "topics"}));
  const auto item = list("?q=fay%40")["items"][0];
  EXPECT_EQ(item["first_name"], "Faye");
  EXPECT_EQ(item["topics"], nlohmann::json({"events", "news"}));
  EXPECT_EQ(list("?topic=jobs")["items"].size(), 0u);
  EXPECT_EQ(audit_detail("subscriber.update", id), "first_name,postal_code,topics");
  const auto rows = [&] {
    return db_inspect::query_value(db(),
                                   "SELECT count(*) FROM audit_log WHERE action = "
                                   "'subscriber.update'");
  };
  EXPECT_EQ(rows(), "1");
  // The same again: nothing changes, nothing is audited.
  r = admin_send("PATCH", path, R"({"first_name":"Faye","topics":["news","events"]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body)["changed"], nlohmann::json::array());
  EXPECT_EQ(rows(), "1");
  // null clears a field; a field left out stays.
  r = admin_send("PATCH", path, R"({"postal_code":null,"topics":[]})");
  ASSERT_TRUE(r);
  j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["postal_code"], "");
  EXPECT_EQ(j["first_name"], "Faye");
  EXPECT_EQ(j["topics"], nlohmann::json::array());
  EXPECT_EQ(audit_detail("subscriber.update", id), "postal_code,topics");
}

// Each bad change is refused as a whole: nothing of it is stored.
TEST_F(SubscribersListTest, BadChangesAreRefusedAndChangeNothing) {
  start();
  sign_up({{"email", "gus@example.org"}, {"first_name", "Gus"}, {"topics", {"news"}}});
  ASSERT_TRUE(wait_emails(1));
  const auto id = id_of("gus@example.org");
  const auto path = "/api/v1/admin/subscribers/" + std::to_string(id);
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {R"({"first_name":"Ann","topics":["bad topic"]})", 422, "invalid_topics"},
      {R"({"first_name":"http://spam.example"})", 422, "invalid_first_name"},
      {R"({"first_name":5})", 422, "invalid_first_name"},
      {R"({"postal_code":"12345678901234567"})", 422, "invalid_postal_code"},
      {R"({"postal_code":"<b>"})", 422, "invalid_postal_code"},
      {R"({"topics":"news"})", 422, "invalid_topics"},
      {R"({"topics":[1]})", 422, "invalid_topics"},
      {R"({"email":"x@example.org"})", 422, "unknown_field"},
      {R"(["first_name"])", 400, "malformed_json"},
      {R"({"first_name":)", 400, "malformed_json"},
  };
  for (const auto& c : cases) {
    auto r = admin_send("PATCH", path, c.body);
    ASSERT_TRUE(r) << c.body;
    EXPECT_EQ(r->status, c.status) << c.body << ": " << r->body;
    if (r->status == c.status) {
      EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], c.code) << c.body;
    }
  }
  std::string many = R"({"topics":[)";
  for (int i = 0; i < 21; ++i)
    many += (i ? "," : "") + std::string("\"t") + std::to_string(i) + "\"";
  auto r = admin_send("PATCH", path, many + "]}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  r = admin_send("PATCH", path, R"({"first_name":"Al"})", kAdminKey, "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  for (const char* bad : {"/api/v1/admin/subscribers/0", "/api/v1/admin/subscribers/x",
                          "/api/v1/admin/subscribers/987654"}) {
    r = admin_send("PATCH", bad, R"({"first_name":"Al"})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << bad;
  }
  r = cli_->Patch(path.c_str(), R"({"first_name":"Al"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  const auto item = list("?q=gus%40")["items"][0];
  EXPECT_EQ(item["first_name"], "Gus");
  EXPECT_EQ(item["topics"], nlohmann::json({"news"}));
  EXPECT_EQ(audit_detail("subscriber.update", id), "");
}

// An operator unsubscribes one channel or all: each with a consent-log row
// of source admin naming the key, the audit row, and a repeat changes nothing.
TEST_F(SubscribersListTest, AnOperatorUnsubscribesAChannelOrAllWithSourceAdmin) {
  start();
  sign_up({{"email", "hal@example.org"}});
  ASSERT_TRUE(wait_emails(1));
  const auto id = id_of("hal@example.org");
  const auto path = "/api/v1/admin/subscribers/" + std::to_string(id) + "/unsubscribe";
  auto r = admin_send("POST", path, R"({"channel":"sms"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << "hal has no number: " << r->body;
  r = admin_send("POST", path, R"({"channel":"email"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["id"], id);
  ASSERT_EQ(j["channels"].size(), 1u);
  EXPECT_EQ(j["channels"][0]["channel"], "email");
  EXPECT_EQ(j["channels"][0]["state"], "unsubscribed");
  EXPECT_EQ(j["channels"][0]["changed"], true);
  EXPECT_EQ(email_state("hal@example.org"), "unsubscribed");
  const auto withdrawals = [&] {
    return db_inspect::query_value(
        db(),
        "SELECT count(*) || ' ' || coalesce(max(detail), '') FROM consent_log WHERE action = "
        "'withdraw' AND source = 'admin' AND subscriber_id = " +
            std::to_string(id));
  };
  EXPECT_EQ(withdrawals(), "1 SC_ADMIN_API_KEY");  // the key's name
  EXPECT_EQ(audit_detail("subscriber.unsubscribe", id), "email");
  r = admin_send("POST", path, R"({"channel":"all"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(nlohmann::json::parse(r->body)["channels"][0]["changed"], false);
  EXPECT_EQ(withdrawals(), "1 SC_ADMIN_API_KEY");  // the key's name
  // Bad bodies, a read key, no key: 4xx, and nothing more is logged.
  for (const char* bad : {R"({"channel":"fax"})", R"({})", R"({"channel":"email","x":1})",
                          R"({"channel":["email"]})"}) {
    r = admin_send("POST", path, bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 422) << bad << ": " << r->body;
  }
  r = admin_send("POST", path, "channel=email", kAdminKey, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  r = cli_->Post(path.c_str(), R"({"channel":"all"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = admin_send("POST", "/api/v1/admin/subscribers/424242/unsubscribe", R"({"channel":"all"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(withdrawals(), "1 SC_ADMIN_API_KEY");  // the key's name
}

// Looking needs a read key; changing needs an admin key.
TEST_F(SubscribersListTest, AReadKeyMayLookButNotChange) {
  start();
  sign_up({{"email", "ida@example.org"}, {"first_name", "Ida"}});
  ASSERT_TRUE(wait_emails(1));
  const auto id = id_of("ida@example.org");
  auto made =
      run_binary(SC_BINARY, {"keys", "create", "--name", "viewer", "--scope", "read"}, base_env());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto key = made.out.substr(0, made.out.find('\n'));
  auto look = admin_get("/api/v1/admin/subscribers/" + std::to_string(id), key);
  ASSERT_TRUE(look);
  EXPECT_EQ(look->status, 200);
  const auto base = "/api/v1/admin/subscribers/" + std::to_string(id);
  auto r = admin_send("PATCH", base, R"({"first_name":"Eve"})", key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  r = admin_send("POST", base + "/unsubscribe", R"({"channel":"all"})", key);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(list("?q=ida%40")["items"][0]["first_name"], "Ida");
  EXPECT_EQ(email_state("ida@example.org"), "pending");
  // A method the path does not serve: 405 naming those it does.
  auto del = cli_->Put(base.c_str(), {{"Authorization", std::string("Bearer ") + kAdminKey}}, "{}",
                       "application/json");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->get_header_value("Allow"), "GET, HEAD, PATCH, DELETE");
}

// GET …/subscribers/export: everyone, with every channel's state, dates and
// consent evidence and their topics, as CSV (formula-guarded) and JSON
// lines; each export audited with who and the format.
TEST_F(SubscribersListTest, ExportsEveryoneAsGuardedCsvAndJsonLinesAudited) {
  start();
  sign_up({{"email", "jo@example.org"},
           {"first_name", "Jo"},
           {"postal_code", "-123"},
           {"topics", {"-sum", "news"}}});
  sign_up({{"email", "kim@example.org"}, {"first_name", "Kim"}});
  ASSERT_TRUE(wait_emails(2));
  confirm_by_link("jo@example.org");

  auto r = admin_get("/api/v1/admin/subscribers/export?format=csv");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/csv; charset=utf-8");
  EXPECT_NE(r->get_header_value("Content-Disposition").find("subscribers-"), std::string::npos);
  std::vector<std::string> lines;
  for (std::size_t at = 0; at < r->body.size();) {
    const auto end = r->body.find("\r\n", at);
    ASSERT_NE(end, std::string::npos) << "every line ends in CRLF";
    lines.push_back(r->body.substr(at, end - at));
    at = end + 2;
  }
  ASSERT_EQ(lines.size(), 3u) << r->body;
  EXPECT_EQ(lines[0],
            "id,created_at,first_name,postal_code,topics,email,email_state,email_created_at,"
            "email_changed_at,email_consented_at,email_consent_source,email_consent_ip,"
            "email_consent_text_version,email_confirmed_at,email_unsubscribed_at,"
            "email_unsubscribe_source,phone,sms_state,sms_created_at,sms_changed_at,"
            "sms_consented_at,sms_consent_source,sms_consent_ip,sms_consent_text_version,"
            "sms_confirmed_at,sms_unsubscribed_at,sms_unsubscribe_source");
  // Jo: oldest first; the postal code and topics that start with '-' are
  // guarded; confirmed, with the form's evidence.
  const auto jo = lines[1];
  EXPECT_NE(jo.find(",Jo,'-123,'-sum;news,jo@example.org,confirmed,"), std::string::npos) << jo;
  EXPECT_NE(jo.find(",form,127.0.0.1,"), std::string::npos) << jo;
  EXPECT_EQ(std::count(jo.begin(), jo.end(), ','), 26) << jo;
  EXPECT_NE(lines[2].find(",Kim,,,kim@example.org,pending,"), std::string::npos) << lines[2];

  r = admin_get("/api/v1/admin/subscribers/export?format=jsonl");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::vector<nlohmann::json> rows;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["first_name"], "Jo");
  EXPECT_EQ(rows[0]["postal_code"], "-123");  // JSON needs no guard
  EXPECT_EQ(rows[0]["topics"], nlohmann::json({"-sum", "news"}));
  const auto& ch = rows[0]["channels"][0];
  EXPECT_EQ(ch["channel"], "email");
  EXPECT_EQ(ch["state"], "confirmed");
  EXPECT_EQ(ch["consent"]["source"], "form");
  EXPECT_EQ(ch["consent"]["ip"], "127.0.0.1");
  EXPECT_FALSE(ch["consent"]["text_version"].get<std::string>().empty());
  EXPECT_TRUE(ch["confirmed_at"].is_string());
  EXPECT_TRUE(ch["unsubscribed_at"].is_null());
  EXPECT_TRUE(rows[1]["channels"][0]["confirmed_at"].is_null());

  for (const char* format : {"csv", "jsonl"}) {
    EXPECT_EQ(
        db_inspect::query_value(db(), std::string("SELECT count(*) FROM audit_log WHERE "
                                                  "action = 'subscribers.export' AND "
                                                  "target = 'all subscribers' AND detail = '") +
                                          format + "'"),
        "1")
        << format;
  }
  r = admin_get("/api/v1/admin/subscribers/export?format=xml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], "invalid_format");
  r = cli_->Get("/api/v1/admin/subscribers/export");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(db_inspect::query_value(
                db(), "SELECT count(*) FROM audit_log WHERE action = 'subscribers.export'"),
            "2");
}

}  // namespace
}  // namespace sc::testing
