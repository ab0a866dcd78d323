// SMS pumping defences through the real binary: the confirmation-text limits
// (kept in the database, so a restart resets nothing), the form's trap
// field, SC_SIGNUP_LIMITS=off, and a number that left and comes back.
#include <atomic>
#include <fstream>
#include <thread>

#include "sc/providers/twilio_signature.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr const char* kFlooder = "198.51.100.7";
constexpr const char* kPerson = "203.0.113.5";

class PumpingTest : public ServiceTest {
 protected:
  // The client is named by X-Forwarded-For from a trusted proxy (the test).
  void start_limited(std::map<std::string, std::string> extra = {}) {
    extra["SC_TRUSTED_PROXIES"] = "127.0.0.1";
    start(extra);
  }
  httplib::Result sign_up_from(const std::string& ip, const json& body) {
    return cli_->Post("/api/v1/subscriptions", {{"X-Forwarded-For", ip}}, body.dump(),
                      "application/json");
  }
  httplib::Result sign_up_phone(const std::string& ip, const std::string& phone) {
    return sign_up_from(ip, {{"phone", phone}, {"sms_consent", true}});
  }
  // Sends `n` sign-ups from `ip`; expects only 202 {"sms":"pending"} or the
  // request limiter's 429, and returns how many were accepted.
  int flood(const std::string& ip, int n, const std::function<std::string(int)>& number) {
    int accepted = 0;
    for (int i = 0; i < n; ++i) {
      auto r = sign_up_phone(ip, number(i));
      EXPECT_TRUE(r) << i;
      if (!r) return accepted;
      if (r->status == 202) {
        ++accepted;
        EXPECT_EQ(json::parse(r->body), json({{"sms", "pending"}})) << number(i);
      } else {
        EXPECT_EQ(r->status, 429) << number(i) << ": " << r->body;
      }
    }
    return accepted;
  }
  std::string sql(const std::string& q) { return db_inspect::query_value(db(), q); }
  std::int64_t queued_texts() {
    return std::stoll(
        sql("SELECT count(*) FROM outbox WHERE kind = 'sms' AND purpose = 'confirm'"));
  }
  std::vector<std::string> sms_log() {
    std::ifstream in(dir_.str("sms.log"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  std::string metrics() {
    auto r = cli_->Get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
    return r && r->status == 200 ? r->body : "";
  }
};

// +1 650 253 XXXX: one block of 10,000 numbers.
std::string same_prefix(int i) {
  auto tail = std::to_string(i);
  return "+1650253" + std::string(4 - tail.size(), '0') + tail;
}
// 98 exchanges of 650 (2NN, without the N11 service code 211), one number each in turn.
std::string other_prefixes(int i) {
  int exchange = 200 + i % 98;
  if (exchange >= 211) ++exchange;
  return "+1650" + std::to_string(exchange) + std::to_string(1000 + i);
}

TEST_F(PumpingTest, AThousandNumbersFromOneClientSendAtMostTenTextsAcrossARestart) {
  start_limited();
  const int before = flood(kFlooder, 500, same_prefix);
  EXPECT_GE(before, 30);  // the request limiter's burst got through to the text limits
  restart();              // the request limiter starts afresh; the text counts do not
  const int after = flood(kFlooder, 500, other_prefixes);
  EXPECT_GE(after, 30);

  // Exactly what the limit allows was queued (60 or more sign-ups got 202).
  EXPECT_EQ(queued_texts(), 10);
  EXPECT_EQ(sql("SELECT count(*) FROM sms_confirm_sends WHERE client = '198.51.100.7'"), "10");
  ASSERT_TRUE(wait_for([&] { return sms_log().size() >= 10; })) << sms_log().size();

  // A person on their own address still gets their text.
  auto r = sign_up_phone(kPerson, "+1 650 300 1234");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(json::parse(r->body), json({{"sms", "pending"}}));
  ASSERT_TRUE(wait_for([&] {
    auto lines = sms_log();
    return !lines.empty() && lines.back().find("+16503001234") != std::string::npos;
  }));
  EXPECT_EQ(queued_texts(), 11);
  EXPECT_EQ(sms_log().size(), 11u);  // every text in the log has its outbox row

  // Refusals are counted: every accepted sign-up of the flood but the ten
  // texts (since the restart, the counters start at zero).
  const auto m = metrics();
  EXPECT_NE(m.find("sc_sms_confirm_limited_total{limit=\"ip\"} " + std::to_string(after)),
            std::string::npos)
      << m;
}

TEST_F(PumpingTest, ANumberBlockIsLimitedAcrossClients) {
  start_limited();
  for (int i = 0; i < 15; ++i) {
    auto r = sign_up_phone("192.0.2." + std::to_string(i + 1), same_prefix(i));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
  }
  EXPECT_EQ(queued_texts(), 10);
  EXPECT_NE(metrics().find("sc_sms_confirm_limited_total{limit=\"prefix\"} 5"), std::string::npos);
}

TEST_F(PumpingTest, TheLimitsAreConfigurable) {
  start_limited({{"SC_SMS_CONFIRM_LIMIT_PER_IP", "2"}, {"SC_SMS_CONFIRM_DAILY_CAP", "3"}});
  for (int i = 0; i < 4; ++i) ASSERT_EQ(sign_up_phone(kFlooder, other_prefixes(i))->status, 202);
  EXPECT_EQ(queued_texts(), 2);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(sign_up_phone(kPerson, other_prefixes(10 + i))->status, 202);
  EXPECT_EQ(queued_texts(), 3);  // the daily cap holds everyone
  EXPECT_NE(metrics().find("sc_sms_confirm_limited_total{limit=\"daily\"} 1"), std::string::npos);
}

TEST_F(PumpingTest, AnIpv6ClientCountsByItsSlash64) {
  start_limited({{"SC_SMS_CONFIRM_LIMIT_PER_IP", "2"}});
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sign_up_phone("2001:db8:7:7::" + std::to_string(i + 1), other_prefixes(i))->status,
              202);
  }
  EXPECT_EQ(queued_texts(), 2);  // one /64, one client
  ASSERT_EQ(sign_up_phone("2001:db8:7:8::1", other_prefixes(5))->status, 202);
  EXPECT_EQ(queued_texts(), 3);  // the next /64 is another client
}

TEST_F(PumpingTest, ConcurrentSignUpsFromOneClientDoNotOvershoot) {
  start_limited();
  std::atomic<int> accepted{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", svc_->port());
      for (int i = 0; i < 7; ++i) {
        const json body = {{"phone", other_prefixes(t * 10 + i)}, {"sms_consent", true}};
        auto r = c.Post("/api/v1/subscriptions", {{"X-Forwarded-For", kFlooder}}, body.dump(),
                        "application/json");
        if (r && r->status == 202) ++accepted;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(accepted.load(), 28);
  EXPECT_EQ(queued_texts(), 10);
}

TEST_F(PumpingTest, SignupLimitsOffLiftsThemAll) {
  start_limited({{"SC_SIGNUP_LIMITS", "off"}});
  EXPECT_EQ(flood(kFlooder, 60, same_prefix), 60);  // no 429 either
  EXPECT_EQ(queued_texts(), 60);
  EXPECT_EQ(sql("SELECT count(*) FROM sms_confirm_sends"), "0");
}

TEST_F(PumpingTest, AFilledTrapFieldIsAnsweredAsUsualAndKeepsNothing) {
  start_limited();
  // The browser form: the same 303 to the same page.
  auto form_post = [&](const std::string& body) {
    return cli_->Post("/api/v1/subscriptions",
                      {{"Accept", "text/html"}, {"X-Forwarded-For", kPerson}}, body,
                      "application/x-www-form-urlencoded");
  };
  auto trapped = form_post(
      "email=bot%40example.com&first_name=Bot&phone=%2B16502530000&sms_consent=on&website=http%3A%"
      "2F%"
      "2Fspam.example&source=signup-page");
  auto person = form_post(
      "email=ann%40example.com&first_name=Ann&phone=%2B16502530001&sms_consent=on&website=&source="
      "signup-page");
  ASSERT_TRUE(trapped);
  ASSERT_TRUE(person);
  EXPECT_EQ(trapped->status, 303);
  EXPECT_EQ(trapped->status, person->status);
  EXPECT_EQ(trapped->get_header_value("Location"), person->get_header_value("Location"));
  EXPECT_EQ(trapped->body, person->body);

  // JSON: the same 202 and body; any value counts as filled.
  for (const json& bait : {json("x"), json(1), json::object()}) {
    auto j = sign_up_from(kPerson, {{"email", "bot2@example.com"},
                                    {"phone", "+16502530002"},
                                    {"sms_consent", true},
                                    {"website", bait}});
    ASSERT_TRUE(j);
    EXPECT_EQ(j->status, 202) << bait;
    EXPECT_EQ(json::parse(j->body), json({{"email", "pending"}, {"sms", "pending"}}));
  }
  // Bad input with the trap filled is refused as it would be without it.
  auto bad = sign_up_from(kPerson, {{"email", "not-an-email"}, {"website", "x"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);

  // Only the person was kept: one subscriber, two channels, their texts and mail.
  EXPECT_EQ(count("subscribers"), 1);
  EXPECT_EQ(count("channels"), 2);
  EXPECT_EQ(sql("SELECT count(*) FROM consent_log WHERE address LIKE 'bot%' OR address IN "
                "('+16502530000', '+16502530002')"),
            "0");
  EXPECT_EQ(sql("SELECT count(*) FROM outbox"), "2");
  EXPECT_NE(metrics().find("sc_signup_honeypot_total 4"), std::string::npos) << metrics();
}

// Decision: a number that left with STOP and is typed into the form again is
// pending at once but waits for SC_CONFIRM_COOLDOWN_SECONDS since its last
// confirmation text before it is texted again.
class ReturningNumberTest : public PumpingTest {
 protected:
  static constexpr const char* kToken = "twilio-auth-token-test";
  void stop_by_text() {
    const providers::FormParams p{{"MessageSid", sm_sid("stop1")},
                                  {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
                                  {"From", "+16502530000"},
                                  {"To", "+15005550006"},
                                  {"Body", "STOP"},
                                  {"NumMedia", "0"},
                                  {"ApiVersion", "2010-04-01"}};
    std::string body;
    for (const auto& [k, v] : p) {
      if (!body.empty()) body += '&';
      body += httplib::detail::encode_query_param(k) + "=" + httplib::detail::encode_query_param(v);
    }
    const auto sig = providers::twilio_signature(
        kToken, "https://signup.test-org.example/webhooks/twilio/sms", p);
    auto r = cli_->Post("/webhooks/twilio/sms", {{"X-Twilio-Signature", sig}}, body,
                        "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::string state() { return sql("SELECT state FROM channels WHERE address = '+16502530000'"); }
  void sign_up_stop_sign_up() {
    ASSERT_EQ(sign_up_phone(kPerson, "+16502530000")->status, 202);
    ASSERT_EQ(queued_texts(), 1);
    stop_by_text();
    ASSERT_EQ(state(), "unsubscribed");
    auto again = sign_up_phone(kPerson, "+16502530000");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 202);
    EXPECT_EQ(json::parse(again->body), json({{"sms", "pending"}}));  // the same answer
    EXPECT_EQ(state(), "pending");
  }
};

TEST_F(ReturningNumberTest, AnUnsubscribedNumberWaitsForTheCooldown) {
  start_limited({{"SC_TWILIO_AUTH_TOKEN", kToken}});  // cooldown 600 s
  sign_up_stop_sign_up();
  EXPECT_EQ(queued_texts(), 1);
}

TEST_F(ReturningNumberTest, AfterTheCooldownItIsTextedAgain) {
  start_limited({{"SC_TWILIO_AUTH_TOKEN", kToken}, {"SC_CONFIRM_COOLDOWN_SECONDS", "0"}});
  sign_up_stop_sign_up();
  EXPECT_EQ(queued_texts(), 2);
}

}  // namespace
}  // namespace sc::testing
