// The whole email journey over real HTTP against the real binary:
// sign up -> .eml appears -> GET confirm changes nothing -> POST confirms ->
// one-click unsubscribe.
#include <thread>

#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class JourneyTest : public ServiceTest {};

std::string header_value(const std::string& eml, const std::string& name) {
  auto pos = eml.find("\r\n" + name + ": ");
  if (pos == std::string::npos) return {};
  pos += name.size() + 4;
  return eml.substr(pos, eml.find("\r\n", pos) - pos);
}

TEST_F(JourneyTest, SignUpConfirmAndOneClickUnsubscribe) {
  start();
  auto r =
      post_json("/api/v1/subscriptions",
                {{"email", "  Reader@Example.ORG "}, {"first_name", "Zoë"}, {"topics", {"news"}}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body), json({{"email", "pending"}}));
  EXPECT_EQ(email_state("Reader@example.org"), "pending");

  ASSERT_TRUE(wait_emails(1)) << svc_->stderr_text();
  auto eml = emails().at(0);
  EXPECT_EQ(header_value(eml, "To"), "<Reader@example.org>");
  EXPECT_EQ(header_value(eml, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  auto lu = header_value(eml, "List-Unsubscribe");
  ASSERT_EQ(lu.rfind("<https://signup.test-org.example/unsubscribe/", 0), 0u) << lu;
  EXPECT_NE(eml.find("Message-ID: <"), std::string::npos);
  EXPECT_NE(eml.find("@test-org.example>"), std::string::npos);
  auto body = decode_quoted_printable(eml);
  EXPECT_NE(body.find("Hello Zoë"), std::string::npos);
  EXPECT_NE(body.find("1 Main St, Springfield"), std::string::npos);  // footer
  auto confirm = find_link(body, "/confirm/");
  auto unsubscribe = find_link(body, "/unsubscribe/");
  ASSERT_TRUE(confirm && unsubscribe);

  // Mail scanners follow links: GET shows a page and changes nothing.
  auto g = cli_->Get(confirm->c_str(), {{"Accept", "text/html"}});
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_NE(g->body.find("<form method=\"post\""), std::string::npos);
  EXPECT_EQ(email_state("Reader@example.org"), "pending");

  auto p = cli_->Post(confirm->c_str(), {{"Accept", "text/html"}}, "",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_NE(p->body.find("You are subscribed"), std::string::npos);
  EXPECT_EQ(email_state("Reader@example.org"), "confirmed");
  ASSERT_TRUE(wait_emails(2));  // the welcome message

  // RFC 8058 one-click: urlencoded body, no cookies, no redirect.
  auto u = cli_->Post(unsubscribe->c_str(), "List-Unsubscribe=One-Click",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 200);
  EXPECT_EQ(email_state("Reader@example.org"), "unsubscribed");

  auto j = admin_lookup("reader@EXAMPLE.org");
  ASSERT_FALSE(j.is_null());
  std::vector<std::string> actions;
  for (auto& e : j["consent_log"])
    actions.push_back(e["action"].get<std::string>() + "/" + e["source"].get<std::string>());
  EXPECT_EQ(actions,
            (std::vector<std::string>{"grant/form", "confirm/link", "withdraw/one-click"}));
  EXPECT_EQ(j["consent_log"][0]["ip"], "127.0.0.1");
  EXPECT_FALSE(j["consent_log"][0]["consent_text_version"].get<std::string>().empty());
  EXPECT_EQ(j["topics"], json({"news"}));

  // A repeat unsubscribe is harmless and logs nothing more.
  u = cli_->Post(unsubscribe->c_str(), "List-Unsubscribe=One-Click",
                 "application/x-www-form-urlencoded");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 200);
  EXPECT_EQ(admin_lookup("reader@example.org")["consent_log"].size(), 3u);
}

TEST_F(JourneyTest, SignupPageIsAFormThatWorksWithoutJavaScript) {
  start();
  auto r = cli_->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto& b = r->body;
  for (const char* needle :
       {"<form method=\"post\" action=\"/api/v1/subscriptions\"", "<label for=\"email\"",
        "name=\"email\"", "name=\"first_name\"", "name=\"postal_code\"", "name=\"phone\"",
        "name=\"sms_consent\"", "Reply HELP for help, STOP to cancel", "Test Org", "<script"}) {
    if (std::string(needle) == "<script")
      EXPECT_EQ(b.find(needle), std::string::npos);
    else
      EXPECT_NE(b.find(needle), std::string::npos) << needle;
  }
}

TEST_F(JourneyTest, KnownAndNewAddressesGetTheSameAnswer) {
  start({{"SC_CONFIRM_COOLDOWN_SECONDS", "3600"}});
  auto first = post_json("/api/v1/subscriptions", {{"email", "same@example.org"}});
  ASSERT_TRUE(wait_emails(1));
  auto second = post_json("/api/v1/subscriptions",
                          {{"email", "same@example.org"}, {"first_name", "Mallory"}});
  auto fresh = post_json("/api/v1/subscriptions", {{"email", "other@example.org"}});
  ASSERT_TRUE(first && second && fresh);
  EXPECT_EQ(first->status, second->status);
  EXPECT_EQ(first->body, second->body);
  EXPECT_EQ(first->body, fresh->body);
  ASSERT_TRUE(wait_emails(2));
  // Within the cooldown the repeat sends nothing more, and an anonymous
  // repeat does not rename the subscriber.
  EXPECT_FALSE(wait_for([&] { return emails().size() > 2; }, std::chrono::milliseconds(1500)));
  EXPECT_EQ(admin_lookup("same@example.org")["first_name"], "");
}

TEST_F(JourneyTest, NewTopicsForAConfirmedAddressNeedItsOwnersClick) {
  start({{"SC_CONFIRM_COOLDOWN_SECONDS", "0"}});
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "t@example.org"}, {"topics", {"news"}}})
                ->status,
            202);
  ASSERT_TRUE(wait_emails(1));
  auto first = find_link(decode_quoted_printable(emails().at(0)), "/confirm/");
  ASSERT_TRUE(first);
  ASSERT_EQ(cli_->Post(first->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  ASSERT_TRUE(wait_emails(2));  // welcome

  // Anyone can type this address with other topics: nothing changes until its owner agrees.
  // (A second later, so the new link differs from the first: links carry their time.)
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "t@example.org"}, {"topics", {"events"}}})
                ->status,
            202);
  EXPECT_EQ(admin_lookup("t@example.org")["topics"], json({"news"}));
  EXPECT_EQ(email_state("t@example.org"), "confirmed");
  ASSERT_TRUE(wait_emails(3));
  std::optional<std::string> second;
  for (const auto& eml : emails()) {
    auto link = find_link(decode_quoted_printable(eml), "/confirm/");
    if (link && *link != *first) second = link;
  }
  ASSERT_TRUE(second);
  // The email asking about them names them and says ignoring it changes nothing.
  std::string asking;
  for (const auto& eml : emails()) {
    auto text = decode_quoted_printable(eml);
    if (text.find(*second) != std::string::npos) asking = text;
  }
  EXPECT_NE(asking.find("events"), std::string::npos) << asking;
  EXPECT_NE(asking.find("nothing changes"), std::string::npos) << asking;
  // The old link was sent before the request: it approves nothing new.
  ASSERT_EQ(cli_->Post(first->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  EXPECT_EQ(admin_lookup("t@example.org")["topics"], json({"news"}));
  ASSERT_EQ(cli_->Post(second->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  EXPECT_EQ(admin_lookup("t@example.org")["topics"], json({"events", "news"}));
  EXPECT_EQ(count("topic_requests"), 0);
}

TEST_F(JourneyTest, PendingRepeatResendsAfterCooldown) {
  start({{"SC_CONFIRM_COOLDOWN_SECONDS", "0"}});
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "again@example.org"}})->status, 202);
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "again@example.org"}})->status, 202);
  EXPECT_TRUE(wait_emails(2));
}

TEST_F(JourneyTest, SmsSignupQueuesAConfirmationText) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"phone", "(415) 555-0132"}, {"sms_consent", true}});
  ASSERT_TRUE(r);
  // 555-01xx numbers are fictional; libphonenumber may call them invalid.
  if (r->status == 202) {
    EXPECT_EQ(json::parse(r->body), json({{"sms", "pending"}}));
  }
  auto r2 = post_json(
      "/api/v1/subscriptions",
      {{"phone", "+1 650 253 0000"}, {"sms_consent", "on"}, {"email", "both@example.org"}});
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 202) << r2->body;
  EXPECT_EQ(json::parse(r2->body), json({{"email", "pending"}, {"sms", "pending"}}));
  ASSERT_TRUE(wait_for([&] {
    std::ifstream in(dir_.str("sms.log"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("+16502530000") != std::string::npos &&
          line.find("Reply YES") != std::string::npos && line.find("STOP") != std::string::npos &&
          line.find("HELP") != std::string::npos && line.find("Test Org") != std::string::npos) {
        return true;
      }
    }
    return false;
  }));
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto a = cli_->Get("/api/v1/admin/subscribers?phone=%2B16502530000", h);
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 200);
  auto j = json::parse(a->body);
  EXPECT_EQ(j["channels"]["sms"]["state"], "pending");
  EXPECT_EQ(j["channels"]["email"]["state"], "pending");
}

TEST_F(JourneyTest, ConfirmAfterUnsubscribeChangesNothing) {
  start();
  post_json("/api/v1/subscriptions", {{"email", "late@example.org"}});
  ASSERT_TRUE(wait_emails(1));
  auto body = decode_quoted_printable(emails()[0]);
  auto confirm = find_link(body, "/confirm/");
  auto unsubscribe = find_link(body, "/unsubscribe/");
  ASSERT_TRUE(confirm && unsubscribe);
  ASSERT_EQ(cli_->Post(unsubscribe->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  auto p = cli_->Post(confirm->c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_EQ(json::parse(p->body)["state"], "unsubscribed");
  EXPECT_EQ(email_state("late@example.org"), "unsubscribed");
}

// Issue 8.2: confirm, unsubscribe, and an anonymous form sets the address
// back to pending: the first email's link must not confirm it again.
TEST_F(JourneyTest, TheFirstLinkDoesNotConfirmAfterUnsubscribeAndAnAnonymousForm) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "back@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  auto body = decode_quoted_printable(emails()[0]);
  auto first = find_link(body, "/confirm/");
  auto unsubscribe = find_link(body, "/unsubscribe/");
  ASSERT_TRUE(first && unsubscribe);
  ASSERT_EQ(cli_->Post(first->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  // The welcome must be out before the unsubscribe: a message to a channel
  // that no longer consents is skipped, and on a busy host the dispatcher
  // could otherwise reach it only after the unsubscribe (seen in a loaded soak).
  ASSERT_TRUE(wait_emails(2));
  ASSERT_EQ(cli_->Post(unsubscribe->c_str(), "List-Unsubscribe=One-Click",
                       "application/x-www-form-urlencoded")
                ->status,
            200);
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "back@example.org"}})->status, 202);
  ASSERT_EQ(email_state("back@example.org"), "pending");
  ASSERT_TRUE(wait_emails(3));  // confirmation, welcome, the new confirmation

  auto old = cli_->Post(first->c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 410) << old->body;
  EXPECT_EQ(json::parse(old->body)["error"]["code"], "superseded_token");
  EXPECT_EQ(email_state("back@example.org"), "pending");
  int link_confirms = 0;
  const auto audit = admin_lookup("back@example.org");
  for (const auto& e : audit["consent_log"])
    link_confirms += e["action"] == "confirm" && e["source"] == "link";
  EXPECT_EQ(link_confirms, 1);

  std::optional<std::string> fresh;
  for (const auto& eml : emails()) {
    auto link = find_link(decode_quoted_printable(eml), "/confirm/");
    if (link && *link != *first) fresh = link;
  }
  ASSERT_TRUE(fresh);
  ASSERT_EQ(cli_->Post(fresh->c_str(), "", "application/x-www-form-urlencoded")->status, 200);
  EXPECT_EQ(email_state("back@example.org"), "confirmed");
}

// The admin API's key checks are covered in process (tests/unit/http).

}  // namespace
}  // namespace sc::testing
