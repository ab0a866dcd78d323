// Replies to texts over the real binary: Twilio's signed inbound webhook,
// YES confirms, STOP unsubscribes, HELP answers; anything unsigned is refused.
#include "fakes/fake_twilio.h"
#include "sc/providers/twilio_signature.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr const char* kToken = "twilio-auth-token-test";
constexpr const char* kPhone = "+16502530000";

class SmsWebhookTest : public ServiceTest {
 protected:
  void SetUp() override { start({{"SC_TWILIO_AUTH_TOKEN", kToken}}); }

  static std::string form(const providers::FormParams& p) {
    std::string out;
    for (const auto& [k, v] : p) {
      if (!out.empty()) out += '&';
      out += httplib::detail::encode_query_param(k) + "=" + httplib::detail::encode_query_param(v);
    }
    return out;
  }
  providers::FormParams inbound(const std::string& body, const std::string& sid = sm_sid("0001")) {
    return {{"MessageSid", sid},
            {"AccountSid", fakes::FakeTwilio::kAccountSid},
            {"From", kPhone},
            {"To", "+15005550006"},
            {"Body", body},
            {"NumMedia", "0"},
            {"ApiVersion", "2010-04-01"}};
  }
  // Signed the way Twilio signs: SC_PUBLIC_URL + path, every parameter.
  httplib::Result text(const providers::FormParams& p, std::string signature = "") {
    const std::string path = "/webhooks/twilio/sms";
    if (signature.empty()) {
      signature = providers::twilio_signature(kToken, "https://signup.test-org.example" + path, p);
    }
    return cli_->Post(path.c_str(), {{"X-Twilio-Signature", signature}}, form(p),
                      "application/x-www-form-urlencoded");
  }
  json lookup() {
    httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
    auto a = cli_->Get("/api/v1/admin/subscribers?phone=%2B16502530000", h);
    return a && a->status == 200 ? json::parse(a->body) : json();
  }
  std::string state() {
    auto j = lookup();
    return j.is_null() ? "" : j["channels"]["sms"]["state"].get<std::string>();
  }
};

TEST_F(SmsWebhookTest, YesConfirmsStopUnsubscribesHelpAnswers) {
  ASSERT_EQ(
      post_json("/api/v1/subscriptions", {{"phone", "+1 650 253 0000"}, {"sms_consent", true}})
          ->status,
      202);
  ASSERT_EQ(state(), "pending");

  auto r = text(inbound("  yes "));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/xml");
  EXPECT_NE(r->body.find("<Response><Message>Test Org: You are subscribed"), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("Reply HELP for help, STOP to cancel."), std::string::npos);
  EXPECT_EQ(state(), "confirmed");
  auto log = lookup()["consent_log"];
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["action"], "confirm");
  EXPECT_EQ(log[1]["source"], "keyword");
  EXPECT_EQ(log[1]["detail"], "sms " + sm_sid("0001"));  // the reply itself is the proof

  r = text(inbound("HELP", sm_sid("0002")));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("help at https://signup.test-org.example"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("Msg &amp; data rates may apply"), std::string::npos) << r->body;
  EXPECT_EQ(state(), "confirmed");
  EXPECT_EQ(lookup()["consent_log"][2]["action"], "help");  // answered: on record

  r = text(inbound("Stop texting me!", sm_sid("0003")));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("You are unsubscribed"), std::string::npos) << r->body;
  EXPECT_EQ(state(), "unsubscribed");
  EXPECT_EQ(lookup()["consent_log"].size(), 4u);

  // A second STOP is answered again and changes nothing: logged as received.
  r = text(inbound("STOP", sm_sid("0004")));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("You are unsubscribed"), std::string::npos);
  EXPECT_EQ(lookup()["consent_log"].size(), 5u);
  EXPECT_EQ(lookup()["consent_log"][4]["action"], "received");

  // Ordinary chat changes nothing and gets no answer.
  r = text(inbound("thanks, see you", sm_sid("0005")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");

  // START re-subscribes.
  r = text(inbound("START", sm_sid("0006")));
  ASSERT_TRUE(r);
  EXPECT_EQ(state(), "confirmed");
}

TEST_F(SmsWebhookTest, AdvancedOptOutIsRecordedWithoutASecondAnswer) {
  ASSERT_EQ(
      post_json("/api/v1/subscriptions", {{"phone", "+1 650 253 0000"}, {"sms_consent", true}})
          ->status,
      202);
  auto p = inbound("stop");
  p.emplace_back("OptOutType", "STOP");
  auto r = text(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find("<Message>"), std::string::npos) << r->body;  // Twilio answered it already
  EXPECT_EQ(state(), "unsubscribed");
}

TEST_F(SmsWebhookTest, UnknownNumberYesIsPointedToTheForm) {
  auto r = text(inbound("YES"));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("has not signed up"), std::string::npos) << r->body;
  EXPECT_EQ(count("channels"), 0);
  // The answer is on record, under subscriber 0 (nothing is created).
  EXPECT_EQ(count("consent_log"), 1);
  EXPECT_EQ(count("subscribers"), 0);
}

TEST_F(SmsWebhookTest, UnsignedOrForgedRequestsAreRefusedAndChangeNothing) {
  ASSERT_EQ(
      post_json("/api/v1/subscriptions", {{"phone", "+1 650 253 0000"}, {"sms_consent", true}})
          ->status,
      202);
  const auto before = count("consent_log");
  auto p = inbound("YES");
  // No signature; a signature of other values; one made with another token;
  // an extra parameter the signature did not cover.
  auto none = cli_->Post("/webhooks/twilio/sms", form(p), "application/x-www-form-urlencoded");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 403);
  EXPECT_EQ(json::parse(none->body)["error"]["code"], "invalid_signature");
  auto forged =
      text(p, providers::twilio_signature(
                  kToken, "https://signup.test-org.example/webhooks/twilio/sms", inbound("NO")));
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  auto other =
      text(p, providers::twilio_signature(
                  "another-token", "https://signup.test-org.example/webhooks/twilio/sms", p));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  auto sig =
      providers::twilio_signature(kToken, "https://signup.test-org.example/webhooks/twilio/sms", p);
  auto extra = p;
  extra.emplace_back("Body", "STOP");
  auto added = text(extra, sig);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->status, 403);
  // Bodies that are not a form are refused in process (tests/unit/http).
  EXPECT_EQ(state(), "pending");
  EXPECT_EQ(count("consent_log"), before);
}

// The whole text journey through Twilio: the confirmation goes out through
// the Twilio API (a checking fake), the YES comes back through the webhook.
class TwilioJourneyTest : public ServiceTest {
 protected:
  fakes::FakeTwilio twilio;
  void TearDown() override {
    if (svc_) svc_->stop();  // before the fake, which waits for its connections
  }
};

TEST_F(TwilioJourneyTest, ConfirmationTextGoesThroughTwilioAndYesComesBack) {
  start({{"SC_SMS_PROVIDER", "twilio"},
         {"SC_TWILIO_ACCOUNT_SID", fakes::FakeTwilio::kAccountSid},
         {"SC_TWILIO_AUTH_TOKEN", fakes::FakeTwilio::kAuthToken},
         {"SC_TWILIO_FROM", "+15005550006"},
         {"SC_TWILIO_API_BASE", twilio.base_url()}});
  ASSERT_EQ(
      post_json("/api/v1/subscriptions", {{"phone", "+1 650 253 0000"}, {"sms_consent", true}})
          ->status,
      202);
  // Waits for the request it reads, not for the count (which also counts refused ones).
  ASSERT_TRUE(wait_for([&] { return !twilio.received().empty(); }))
      << twilio.violations().size() << " violations; " << svc_->stderr_text();
  EXPECT_TRUE(twilio.violations().empty()) << twilio.violations().front();
  const auto got = twilio.received().at(0);
  EXPECT_EQ(got.to, kPhone);
  EXPECT_EQ(got.from, "+15005550006");
  EXPECT_NE(got.body.find("Test Org: Reply YES"), std::string::npos) << got.body;
  ASSERT_TRUE(wait_for([&] { return db_inspect::outbox_counts(db()).sent == 1; }));
  auto rows = db_inspect::outbox_rows(db(), 0, 10);
  EXPECT_EQ(rows.at(0).provider, "twilio");
  EXPECT_EQ(rows.at(0).provider_message_id, fakes::FakeTwilio::message_sid(1));

  // The reply, signed by Twilio with the same token.
  providers::FormParams p{
      {"MessageSid", sm_sid("reply1")}, {"From", kPhone}, {"To", "+15005550006"}, {"Body", "Yes"}};
  const std::string path = "/webhooks/twilio/sms";
  auto sig = providers::twilio_signature(fakes::FakeTwilio::kAuthToken,
                                         "https://signup.test-org.example" + path, p);
  std::string body;
  for (const auto& [k, v] : p)
    body += (body.empty() ? "" : "&") + k + "=" + httplib::detail::encode_query_param(v);
  auto r = cli_->Post(path.c_str(), {{"X-Twilio-Signature", sig}}, body,
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto a = cli_->Get("/api/v1/admin/subscribers?phone=%2B16502530000", h);
  ASSERT_TRUE(a);
  EXPECT_EQ(json::parse(a->body)["channels"]["sms"]["state"], "confirmed");
  EXPECT_EQ(twilio.requests(), 1u);  // the answer went as TwiML, not as a second API call
}

// No SC_TWILIO_AUTH_TOKEN: nothing can be checked, so nothing is trusted.
using SmsWebhookWithoutTokenTest = ServiceTest;

TEST_F(SmsWebhookWithoutTokenTest, EveryRequestIsRefused) {
  start();
  auto p = providers::FormParams{{"From", kPhone}, {"Body", "STOP"}};
  auto sig =
      providers::twilio_signature("", "https://signup.test-org.example/webhooks/twilio/sms", p);
  auto r = cli_->Post("/webhooks/twilio/sms", {{"X-Twilio-Signature", sig}},
                      "From=%2B16502530000&Body=STOP", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(
      json::parse(r->body)["error"]["message"].get<std::string>().find("SC_TWILIO_AUTH_TOKEN"),
      std::string::npos);
}

}  // namespace
}  // namespace sc::testing
