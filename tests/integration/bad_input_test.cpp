// Bad input over the wire, against the real binary and its database: a few
// representative bad requests get their 4xx, change nothing on disk, and the
// service keeps serving; the sign-up limits are wired to SC_SIGNUP_LIMITS.
// Every route's error answers are covered in process by tests/unit/http.
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

class BadInputTest : public ServiceTest {
 protected:
  std::map<std::string, std::int64_t> snapshot() {
    std::map<std::string, std::int64_t> s;
    for (const char* t : {"subscribers", "channels", "consent_log", "outbox", "subscriber_topics",
                          "inbound_texts", "provider_events", "broadcasts"})
      s[t] = count(t);
    return s;
  }
};

TEST_F(BadInputTest, BadRequestsChangeNothingOnDisk) {
  start({{"SC_SIGNUP_LIMITS", "off"}});
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "known@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  auto confirm = *find_link(decode_quoted_printable(emails()[0]), "/confirm/");
  auto tampered = confirm;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  // A cancelled broadcast, to be sent again below.
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto made = cli_->Post("/api/v1/admin/broadcasts", admin,
                         R"({"channel":"email","subject":"S","text":"Hi"})", "application/json");
  ASSERT_TRUE(made && made->status == 201);
  const auto cancelled = "/api/v1/admin/broadcasts/" + json::parse(made->body)["id"].dump();
  ASSERT_EQ(cli_->Post((cancelled + "/cancel").c_str(), admin, "", "application/json")->status,
            200);
  const auto before = snapshot();
  struct Bad {
    const char* name;
    std::string path, type, body;
    int status;
    const char* code;
    bool as_admin = false;  // sent with the bootstrap admin key
  };
  const std::string broadcasts = "/api/v1/admin/broadcasts";
  const std::vector<Bad> table = {
      {"malformed json", "/api/v1/subscriptions", "application/json", "{\"email\": ", 422,
       "malformed_json"},
      {"json duplicate email", "/api/v1/subscriptions", "application/json",
       R"({"email":"a@example.org","email":"b@example.org"})", 422, "duplicate_field"},
      {"phone in a country not texted", "/api/v1/subscriptions", "application/json",
       R"({"phone":"+442079460000","sms_consent":true})", 422, "unsupported_country"},
      {"wrong content type", "/api/v1/subscriptions", "text/plain", "email=a@example.org", 415,
       "unsupported_media_type"},
      {"oversized body", "/api/v1/subscriptions", "application/json",
       "{\"email\":\"" + std::string(70000, 'a') + "\"}", 413, "payload_too_large"},
      {"tampered confirm token", tampered, "application/x-www-form-urlencoded", "", 400,
       "invalid_token"},
      {"unsigned webhook", "/webhooks/twilio/sms", "application/x-www-form-urlencoded",
       "From=%2B16502530000&Body=STOP", 403, "invalid_signature"},
      {"unsigned status callback", "/webhooks/twilio/status", "application/x-www-form-urlencoded",
       "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30006", 403, "invalid_signature"},
      {"admin opt-out without a key", "/api/v1/admin/inbound/1/opt-out", "application/json", "",
       401, "unauthorized"},
      {"unsigned email events (no key set)", "/webhooks/sendgrid/events", "application/json",
       R"([{"event":"spamreport","email":"known@example.org","sg_event_id":"x"}])", 403,
       "invalid_signature"},
      {"broadcast without a key", broadcasts, "application/json",
       R"({"channel":"email","subject":"S","text":"Hi"})", 401, "unauthorized"},
      {"broadcast unknown channel", broadcasts, "application/json",
       R"({"channel":"fax","text":"Hi"})", 422, "invalid_channel", true},
      {"broadcast email without subject", broadcasts, "application/json",
       R"({"channel":"email","text":"Hi"})", 422, "missing_subject", true},
      {"broadcast empty text", broadcasts, "application/json", R"({"channel":"sms","text":""})",
       422, "missing_text", true},
      {"broadcast text over the segment limit", broadcasts, "application/json",
       R"({"channel":"sms","text":")" + std::string(800, 'a') + "\"}", 422, "too_many_segments",
       true},
      {"broadcast bad send_at", broadcasts, "application/json",
       R"({"channel":"email","subject":"S","text":"Hi","send_at":"2026-13-01"})", 422,
       "invalid_send_at", true},
      {"broadcast unknown topic", broadcasts, "application/json",
       R"({"channel":"email","subject":"S","text":"Hi","topics":["nobody-chose-this"]})", 422,
       "unknown_topic", true},
      {"broadcast template that does not parse", broadcasts, "application/json",
       R"({"channel":"email","subject":"S","text":"Hi {{#first_name}"})", 422, "invalid_template",
       true},
      {"broadcast body not json", broadcasts, "application/json", "{\"channel\":", 400,
       "malformed_json", true},
      {"broadcast body not an object", broadcasts, "application/json", "[1]", 400, "malformed_json",
       true},
      {"broadcast wrong content type", broadcasts, "text/plain", "channel=email", 415,
       "unsupported_media_type", true},
      {"broadcast unknown id", broadcasts + "/424242/send", "application/json", "", 404,
       "not_found", true},
      {"broadcast send a cancelled one", cancelled + "/send", "application/json", "", 409,
       "invalid_transition", true},
      {"broadcast edit a cancelled one", cancelled, "application/json",
       R"({"channel":"email","subject":"S","text":"Hi"})", 409, "invalid_transition", true},
  };
  for (const auto& t : table) {
    auto r = t.as_admin ? cli_->Post(t.path.c_str(), admin, t.body, t.type.c_str())
                        : cli_->Post(t.path.c_str(), t.body, t.type.c_str());
    ASSERT_TRUE(r) << t.name;
    EXPECT_EQ(r->status, t.status) << t.name << ": " << r->body.substr(0, 300);
    auto j = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << t.name;
    EXPECT_EQ(j["error"]["code"], t.code) << t.name;
    auto health = cli_->Get("/healthz");
    ASSERT_TRUE(health && health->status == 200) << "after " << t.name;
  }
  EXPECT_EQ(snapshot(), before) << "a bad request changed the database";
  EXPECT_EQ(emails().size(), 1u);
  EXPECT_EQ(email_state("known@example.org"), "pending");
  // SC_SIGNUP_LIMITS=off: more than a burst from one address is accepted.
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(
        post_json("/api/v1/subscriptions", {{"email", "open" + std::to_string(i) + "@example.org"}})
            ->status,
        202);
  }
}

TEST_F(BadInputTest, SignupsPerAddressAreLimitedByDefault) {
  start();
  int accepted = 0, limited = 0;
  for (int i = 0; i < 35; ++i) {
    auto r = post_json("/api/v1/subscriptions",
                       {{"email", "flood" + std::to_string(i) + "@example.org"}});
    ASSERT_TRUE(r);
    if (r->status == 202) ++accepted;
    if (r->status == 429) ++limited;
  }
  EXPECT_EQ(accepted + limited, 35);
  EXPECT_GE(accepted, 30);
  EXPECT_LE(accepted, 31);                 // a token may refill during the loop
  EXPECT_EQ(count("channels"), accepted);  // a refused sign-up changed nothing
}

}  // namespace
}  // namespace sc::testing
