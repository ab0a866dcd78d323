// Our Twilio requests checked against Twilio's own OpenAPI document (Create
// Message, patched: tests/prism/twilio_api_v2010_messages_only.patched.json) by Prism, started by
// tests/prism/run_prism_tests.sh. Skipped unless SC_PRISM_TWILIO_URL is set;
// with SC_REQUIRE_PRISM=1 a missing Prism fails instead.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>

#include "sc/providers/crypto.h"
#include "sc/providers/twilio_sms_sender.h"

namespace sc::providers {
namespace {

const std::string kSid = "AC0123456789abcdef0123456789abcdef";

std::string prism_url() {
  const char* url = std::getenv("SC_PRISM_TWILIO_URL");
  return url != nullptr ? url : "";
}

bool prism_required() {
  const char* req = std::getenv("SC_REQUIRE_PRISM");
  return req != nullptr && std::string(req) == "1";
}

#define SC_NEED_TWILIO_PRISM()                                                               \
  do {                                                                                       \
    if (prism_url().empty()) {                                                               \
      if (prism_required()) FAIL() << "SC_REQUIRE_PRISM=1 but SC_PRISM_TWILIO_URL is unset"; \
      GTEST_SKIP() << "SC_PRISM_TWILIO_URL not set (run tests/prism/run_prism_tests.sh)";    \
    }                                                                                        \
  } while (0)

TwilioConfig config(bool service) {
  TwilioConfig c;
  c.account_sid = kSid;
  c.auth_token = "prism-token";
  if (service) {
    c.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  } else {
    c.from = "+15005550006";
  }
  c.status_callback = "https://signup.example.org/webhooks/twilio/status";
  c.api_base = prism_url();
  return c;
}

std::vector<OutboundSms> texts() {
  OutboundSms plain;
  plain.to = "+14155550100";
  plain.body =
      "Example Org: Reply YES to confirm you want text updates. Reply HELP for help, STOP to "
      "cancel.";
  OutboundSms unicode = plain;
  unicode.body = "Grüße aus Köln 🎉 & 100% \"quoted\" + more=yes\nsecond line";
  OutboundSms longest = plain;
  longest.body = std::string(1600, 'x');
  return {plain, unicode, longest};
}

TEST(PrismTwilio, SenderGets201ForEveryMessageShape) {
  SC_NEED_TWILIO_PRISM();
  for (bool service : {false, true}) {
    TwilioSmsSender sender(config(service));
    for (const auto& m : texts()) {
      auto r = sender.send(m);
      EXPECT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
      EXPECT_EQ(r.provider_code, "201");
      EXPECT_EQ(r.provider_message_id.rfind("SM", 0), 0u) << r.provider_message_id;
    }
    for (const auto& r : sender.send_batch(texts()))
      EXPECT_EQ(r.provider_code, "201") << r.provider_message;
  }
}

TEST(PrismTwilio, RequestBodiesHaveNoSpecViolations) {
  SC_NEED_TWILIO_PRISM();
  httplib::Client cli(prism_url());
  httplib::Headers auth = {{"Authorization", "Basic " + crypto::base64(kSid + ":prism-token")}};
  const std::string path = "/2010-04-01/Accounts/" + kSid + "/Messages.json";
  for (bool service : {false, true}) {
    for (const auto& m : texts()) {
      const auto body = twilio_request_body(config(service), m);
      // Every text asks for its status callback (issue 10), and Prism checks it is a URI.
      EXPECT_NE(body.find("&StatusCallback=https%3A%2F%2Fsignup.example.org%2Fwebhooks%2Ftwilio%"
                          "2Fstatus"),
                std::string::npos);
      auto res = cli.Post(path.c_str(), auth, body, "application/x-www-form-urlencoded");
      ASSERT_TRUE(res) << httplib::to_string(res.error());
      EXPECT_EQ(res->status, 201) << res->body;
      EXPECT_FALSE(res->has_header("sl-violations")) << res->get_header_value("sl-violations");
    }
  }
  // The check can fail: a request with only To is flagged.
  auto bad = cli.Post(path.c_str(), auth, "To=%2B14155550100", "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->status, 201);
  EXPECT_TRUE(bad->has_header("sl-violations"));
  // And so is a StatusCallback that is not a URI.
  auto c = config(false);
  c.status_callback = "not a url";
  auto bad_callback = cli.Post(path.c_str(), auth, twilio_request_body(c, texts()[0]),
                               "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad_callback);
  EXPECT_NE(bad_callback->status, 201) << bad_callback->body;
}

}  // namespace
}  // namespace sc::providers
