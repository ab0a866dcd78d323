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
                          "inbound_texts", "provider_events"})
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
  const auto before = snapshot();
  struct Bad {
    const char* name;
    std::string path, type, body;
    int status;
    const char* code;
  };
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
  };
  for (const auto& t : table) {
    auto r = cli_->Post(t.path.c_str(), t.body, t.type.c_str());
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
