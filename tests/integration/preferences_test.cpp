// The person's own page through the real binary (both backends): the link
// in every email, GET that changes nothing, topics, unsubscribe, a copy of
// everything held, and erasure after a confirmation step.
#include <gtest/gtest.h>

#include "integration/service_fixture.h"

namespace sc::testing {
namespace {

class PreferencesTest : public ServiceTest {
 protected:
  std::string manage_path() {
    std::optional<std::string> link;
    for (const auto& eml : emails()) {
      auto l = find_link(decode_quoted_printable(eml), "/preferences/");
      if (l) link = l;
    }
    EXPECT_TRUE(link) << "every email carries the link";
    return link.value_or("");
  }
  httplib::Result form(const std::string& path, const std::string& body,
                       const std::string& accept = "text/html") {
    return cli_->Post(path.c_str(), {{"Accept", accept}}, body,
                      "application/x-www-form-urlencoded");
  }
  std::string consent_rows() {
    return db_inspect::query_value(db(), "SELECT count(*) FROM consent_log");
  }
};

TEST_F(PreferencesTest, ThePersonSeesChangesTakesAndErasesTheirOwnData) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"email", "uma@example.org"},
                                               {"phone", "+1 650 253 0199"},
                                               {"sms_consent", true},
                                               {"topics", {"news"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(wait_emails(1));
  const auto base = manage_path();
  ASSERT_EQ(base.rfind("/preferences/p.", 0), 0u) << base;

  // GET shows and changes nothing.
  const auto rows = consent_rows();
  auto page = cli_->Get(base.c_str(), {{"Accept", "text/html"}});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  EXPECT_NE(page->body.find("uma@example.org"), std::string::npos);
  EXPECT_NE(page->body.find("0199"), std::string::npos);
  EXPECT_EQ(page->body.find("6502530199"), std::string::npos) << "the number is masked";
  EXPECT_NE(page->body.find("value=\"news\""), std::string::npos);
  auto j = cli_->Get(base.c_str(), {{"Accept", "application/json"}});
  ASSERT_TRUE(j);
  EXPECT_EQ(nlohmann::json::parse(j->body)["topics"], nlohmann::json({"news"}));
  EXPECT_EQ(consent_rows(), rows);

  // Topics, then a bad one that changes nothing.
  r = form(base + "/topics", "topics=Events%2C+jobs");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), base + "?saved=1");
  const auto topics = [&] { return admin_lookup("uma@example.org")["topics"]; };
  EXPECT_EQ(topics(), nlohmann::json({"events", "jobs"}));
  r = form(base + "/topics", "topics=a+b", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(topics(), nlohmann::json({"events", "jobs"}));

  // Texts off: a consent-log row of source link.
  r = form(base + "/unsubscribe", "channel=sms");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 303);
  const auto who = admin_lookup("uma@example.org");
  EXPECT_EQ(who["channels"]["sms"]["state"], "unsubscribed");
  EXPECT_EQ(who["channels"]["email"]["state"], "pending");
  EXPECT_EQ(db_inspect::query_value(db(),
                                    "SELECT count(*) FROM consent_log WHERE action = 'withdraw' "
                                    "AND source = 'link' AND detail = 'preferences page'"),
            "1");
  r = form(base + "/unsubscribe", "channel=fax", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);

  // A copy of everything held.
  r = form(base + "/export", "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
  const auto mine = nlohmann::json::parse(r->body);
  EXPECT_EQ(mine["email"], "uma@example.org");
  EXPECT_EQ(mine["phone"], "+16502530199");
  EXPECT_GE(mine["consent"].size(), 3u);  // two grants and the withdrawal
  EXPECT_GE(mine["messages"].size(), 1u);

  // Erasure asks first; then erases as an operator's would.
  r = form(base + "/erase", "");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("name=\"confirm\" value=\"erase\""), std::string::npos);
  EXPECT_FALSE(admin_lookup("uma@example.org").is_null()) << "nothing erased yet";
  r = form(base + "/erase", "confirm=erase");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(admin_lookup("uma@example.org").is_null());
  auto s = cli_->Get("/api/v1/admin/suppressions?email=uma%40example.org",
                     {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(s);
  EXPECT_EQ(nlohmann::json::parse(s->body)["reason"], "self");
  page = cli_->Get(base.c_str(), {{"Accept", "text/html"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("holds nothing about you"), std::string::npos);
  r = form(base + "/export", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(PreferencesTest, ForgedAndOtherLinksAreRefused) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"email", "vic@example.org"}});
  ASSERT_TRUE(r);
  ASSERT_TRUE(wait_emails(1));
  auto base = manage_path();
  auto tampered = base;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  std::optional<std::string> unsubscribe;
  for (const auto& eml : emails())
    unsubscribe = find_link(decode_quoted_printable(eml), "/unsubscribe/");
  ASSERT_TRUE(unsubscribe);
  const auto as_preferences =
      "/preferences/" + unsubscribe->substr(std::string("/unsubscribe/").size());
  for (const auto& path : {tampered, as_preferences, std::string("/preferences/p.1.0.zz")}) {
    auto g = cli_->Get(path.c_str(), {{"Accept", "application/json"}});
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 400) << path;
    auto p = form(path + "/erase", "confirm=erase", "application/json");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->status, 400) << path;
  }
  EXPECT_FALSE(admin_lookup("vic@example.org").is_null());
}

}  // namespace
}  // namespace sc::testing
