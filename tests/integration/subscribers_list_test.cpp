// The operators' list through the real binary (both backends): sign-ups
// through the public API, then GET /api/v1/admin/subscribers with searches,
// filters and pages, and GET …/subscribers/{id} with consent and messages.
#include <gtest/gtest.h>

#include <set>

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
  std::optional<std::string> confirm;
  for (const auto& eml : emails())
    if (eml.find("s1@example.org") != std::string::npos)
      confirm = find_link(decode_quoted_printable(eml), "/confirm/");
  ASSERT_TRUE(confirm);
  auto p = cli_->Post(confirm->c_str(), {{"Accept", "text/html"}}, "",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, 200);
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

}  // namespace
}  // namespace sc::testing
