// The Twilio sender against a loopback fake that checks every request the
// way Twilio documents Create Message (path, basic auth, form fields).
#include "sc/providers/twilio_sms_sender.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "fakes/fake_twilio.h"

namespace sc::providers {
namespace {

using nlohmann::json;

using fakes::FakeTwilio;
using Answer = fakes::FakeTwilio::Answer;
const std::string kSid = FakeTwilio::kAccountSid;
const std::string kToken = FakeTwilio::kAuthToken;

TwilioConfig config_for(const FakeTwilio& fake) {
  TwilioConfig c;
  c.account_sid = kSid;
  c.auth_token = kToken;
  c.from = "+15005550006";
  c.api_base = fake.base_url();
  c.timeout_ms = 5000;
  return c;
}

OutboundSms text(const std::string& to,
                 const std::string& body = "Example Org: Reply YES to confirm.") {
  OutboundSms m;
  m.to = to;
  m.body = body;
  return m;
}

TEST(TwilioBody, IsAFormWithEveryByteEscaped) {
  TwilioConfig c;
  c.from = "+15005550006";
  auto b = twilio_request_body(c, text("+14155550100", "Größe & 100% + more=yes\nline"));
  EXPECT_EQ(b,
            "To=%2B14155550100&From=%2B15005550006&Body=Gr%C3%B6%C3%9Fe%20%26%20100%25%20%2B%"
            "20more%3Dyes%0Aline");
  c.from.clear();
  c.messaging_service_sid = "MG" + std::string(32, 'b');
  c.status_callback = "https://signup.example.org/webhooks/twilio/status";
  b = twilio_request_body(c, text("+14155550100", "hi"));
  EXPECT_EQ(
      b,
      "To=%2B14155550100&MessagingServiceSid=MG" + std::string(32, 'b') +
          "&Body=hi&StatusCallback=https%3A%2F%2Fsignup.example.org%2Fwebhooks%2Ftwilio%2Fstatus");
}

TEST(TwilioClassify, BothErrorShapesAndEveryClass) {
  auto r = classify_twilio_response(201, R"({"sid":"SMabc","status":"queued"})", "");
  EXPECT_EQ(r.status, SendStatus::kSent);
  EXPECT_EQ(r.provider_message_id, "SMabc");
  r = classify_twilio_response(
      400,
      R"({"code":21610,"message":"Attempt to send to unsubscribed recipient","more_info":"https://www.twilio.com/docs/errors/21610","status":400})",
      "");
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "21610");
  EXPECT_EQ(r.provider_message, "Attempt to send to unsubscribed recipient");
  EXPECT_TRUE(r.recipient_opted_out);
  r = classify_twilio_response(
      400,
      R"({"type":"https://www.twilio.com/docs/errors/21211","title":"Invalid 'To' Phone Number","status":400,"code":21211,"detail":"+1 is not valid"})",
      "");
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "21211");
  EXPECT_EQ(r.provider_message, "+1 is not valid");
  EXPECT_FALSE(r.recipient_opted_out);
  r = classify_twilio_response(429, R"({"code":20429,"message":"Too Many Requests"})", "7");
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "20429");
  EXPECT_EQ(r.retry_after, std::chrono::seconds(7));
  r = classify_twilio_response(503, "<html>busy</html>", "");
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "503");
  EXPECT_EQ(r.provider_message, "<html>busy</html>");
  EXPECT_FALSE(r.auth_refused);
  r = classify_twilio_response(401, R"({"code":20003,"message":"Authenticate"})", "");
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "20003");
  EXPECT_TRUE(r.auth_refused);
  r = classify_twilio_response(401, "", "");  // a bare 401 refuses our credentials too
  EXPECT_TRUE(r.auth_refused);
  // A 403 is a permission on one resource or region, not our credentials.
  r = classify_twilio_response(403, R"({"code":20403,"message":"Forbidden"})", "");
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_FALSE(r.auth_refused);
  r = classify_twilio_response(400, std::string(5000, 'x'), "");
  EXPECT_LE(r.provider_message.size(), 1000u);
}

TEST(TwilioClassify, NumbersThatCanNeverGetATextAreUndeliverable) {
  // 21211: invalid 'To'; 21614: not a mobile number (docs/architecture.md).
  for (const char* code : {"21211", "21614"}) {
    auto r = classify_twilio_response(
        400, std::string(R"({"code":)") + code + R"(,"message":"no","status":400})", "");
    EXPECT_EQ(r.status, SendStatus::kPermanent) << code;
    EXPECT_EQ(r.provider_code, code);
    EXPECT_TRUE(r.recipient_undeliverable) << code;
    EXPECT_FALSE(r.recipient_opted_out) << code;
    EXPECT_FALSE(r.ambiguous) << code;
  }
  auto r = classify_twilio_response(400, R"({"code":21610,"message":"stopped"})", "");
  EXPECT_FALSE(r.recipient_undeliverable);
  EXPECT_TRUE(r.recipient_opted_out);
  r = classify_twilio_response(400, R"({"code":21606,"message":"bad From"})", "");
  EXPECT_FALSE(r.recipient_undeliverable);  // our sender, not their number
  r = classify_twilio_response(500, R"({"code":20500,"message":"Internal"})", "");
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_TRUE(r.ambiguous);  // Twilio may have created the message
}

TEST(TwilioSender, EveryTextCarriesItsStatusCallback) {
  FakeTwilio fake;
  auto c = config_for(fake);
  c.status_callback = "https://signup.example.org/webhooks/twilio/status";
  TwilioSmsSender sender(c);
  EXPECT_EQ(sender.send(text("+14155550100")).status, SendStatus::kSent);
  std::vector<OutboundSms> batch{text("+14155550101"), text("+14155550102")};
  for (const auto& r : sender.send_batch(batch)) EXPECT_EQ(r.status, SendStatus::kSent);
  ASSERT_EQ(fake.received().size(), 3u);
  for (const auto& got : fake.received())
    EXPECT_EQ(got.status_callback, "https://signup.example.org/webhooks/twilio/status");
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();
}

TEST(TwilioSender, SendsTheWayTwilioDocumentsIt) {
  FakeTwilio fake;
  TwilioSmsSender sender(config_for(fake));
  auto r = sender.send(text("+14155550100", "Example Org: Reply YES & be glad"));
  EXPECT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  EXPECT_EQ(r.provider_message_id, FakeTwilio::message_sid(1));
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();
  EXPECT_EQ(fake.bodies().at(0), "Example Org: Reply YES & be glad");
}

TEST(TwilioSender, BatchFaultTableKeepsOrderAndSendsEachOnce) {
  FakeTwilio fake;
  fake.script("+14155550101",
              {400, R"({"code":21610,"message":"unsubscribed recipient","status":400})", {}, 0});
  fake.script("+14155550102",
              {429, R"({"code":20429,"message":"Too Many Requests"})", {{"Retry-After", "3"}}, 0});
  fake.script("+14155550103", {500, "", {}, 0});
  fake.script("+14155550104", {201, "", {}, 3000});  // longer than the timeout
  fake.script("+14155550105",
              {400, R"({"code":21211,"message":"Invalid 'To' Phone Number"})", {}, 0});
  auto c = config_for(fake);
  c.timeout_ms = 800;
  c.max_in_flight = 4;
  TwilioSmsSender sender(c);
  std::vector<OutboundSms> batch;
  for (int i = 100; i < 120; ++i) batch.push_back(text("+14155550" + std::to_string(i)));
  auto results = sender.send_batch(batch);
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_EQ(results[1].provider_code, "21610");
  EXPECT_EQ(results[1].status, SendStatus::kPermanent);
  EXPECT_EQ(results[2].status, SendStatus::kRetryable);
  EXPECT_EQ(results[2].retry_after, std::chrono::seconds(3));
  EXPECT_FALSE(results[2].ambiguous);  // 429: never processed
  EXPECT_EQ(results[3].status, SendStatus::kRetryable);
  EXPECT_EQ(results[3].provider_code, "500");
  EXPECT_TRUE(results[3].ambiguous);
  EXPECT_EQ(results[4].status, SendStatus::kRetryable);
  EXPECT_EQ(results[4].provider_code, "curl:28");
  EXPECT_TRUE(results[4].ambiguous);  // Twilio may have taken it before the timeout
  EXPECT_EQ(results[5].status, SendStatus::kPermanent);
  EXPECT_EQ(results[5].provider_code, "21211");
  EXPECT_TRUE(results[5].recipient_undeliverable);
  std::set<std::string> sids;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i >= 1 && i <= 5) continue;
    EXPECT_EQ(results[i].status, SendStatus::kSent) << i;
    sids.insert(results[i].provider_message_id);
  }
  EXPECT_EQ(sids.size(), results.size() - 5);
  EXPECT_EQ(fake.requests(), batch.size());  // each once, none twice
  EXPECT_LE(fake.connections(), 4u + 1u);    // the window, plus the one the timeout closed
  EXPECT_TRUE(fake.violations().empty());
}

TEST(TwilioSender, WrongTokenIs20003AndRefusesOurCredentials) {
  FakeTwilio fake;
  auto c = config_for(fake);
  c.auth_token = "not-the-token";
  TwilioSmsSender sender(c);
  auto r = sender.send(text("+14155550100"));
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "20003");
  EXPECT_EQ(r.provider_message, "Authenticate");
  EXPECT_TRUE(r.auth_refused);
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();
  EXPECT_TRUE(fake.received().empty());  // refused before anything was sent
}

TEST(TwilioSender, MessagingServiceInsteadOfFrom) {
  FakeTwilio fake;
  auto c = config_for(fake);
  c.from.clear();
  c.messaging_service_sid = "MG" + std::string(32, 'c');
  TwilioSmsSender sender(c);
  EXPECT_EQ(sender.send(text("+14155550100")).status, SendStatus::kSent);
  EXPECT_TRUE(fake.violations().empty());
}

TEST(TwilioSender, ConnectionRefusedIsRetryable) {
  TwilioConfig c;
  c.account_sid = kSid;
  c.auth_token = kToken;
  c.from = "+15005550006";
  c.api_base = "http://127.0.0.1:1";
  TwilioSmsSender sender(c);
  auto r = sender.send(text("+14155550100"));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:7");
  EXPECT_FALSE(r.ambiguous);  // nothing reached Twilio
}

// The dispatcher's feed (issue 14): a request starts as soon as one is
// answered and the next message is cleared, never more than max_in_flight at
// once; a message not cleared yet ("not yet") is asked for again, not lost.
class ScriptedFeed final : public SendFeed<OutboundSms> {
 public:
  explicit ScriptedFeed(std::vector<OutboundSms> ms) : messages(std::move(ms)) {}
  const OutboundSms* next(bool wait) override {
    if (given == messages.size()) return nullptr;
    if (!wait && ++asked % 2 == 0) return nullptr;  // every other ask: not cleared yet
    max_in_flight = std::max(max_in_flight, given + 1 - answers.size());
    return &messages[given++];
  }
  bool finished() override { return given == messages.size(); }
  void answer(std::size_t i, SendResult r) override { answers.emplace_back(i, std::move(r)); }
  std::vector<OutboundSms> messages;
  std::size_t given = 0, asked = 0, max_in_flight = 0;
  std::vector<std::pair<std::size_t, SendResult>> answers;  // in the order they came
};

TEST(TwilioSender, SendStreamStartsTheNextRequestAsSoonAsOneIsAnswered) {
  FakeTwilio fake;
  fake.script("+14155550200", {201, "", {}, 400});  // the first text is slow
  auto c = config_for(fake);
  c.max_in_flight = 2;
  TwilioSmsSender sender(c);
  EXPECT_EQ(sender.max_in_flight(), 2);
  std::vector<OutboundSms> ms;
  for (int i = 200; i < 212; ++i) ms.push_back(text("+14155550" + std::to_string(i)));
  ScriptedFeed feed(ms);
  sender.send_stream(feed);
  ASSERT_EQ(feed.answers.size(), ms.size());
  std::set<std::size_t> answered;
  for (const auto& [i, r] : feed.answers) {
    EXPECT_TRUE(answered.insert(i).second) << "answered twice: " << i;
    EXPECT_EQ(r.status, SendStatus::kSent) << i;
  }
  EXPECT_EQ(answered.size(), ms.size());
  EXPECT_LE(feed.max_in_flight, 2u);
  // The other eleven went through the second slot while the first waited:
  // its answer came last (in windows of two it would have held the second).
  EXPECT_EQ(feed.answers.back().first, 0u);
  EXPECT_EQ(fake.received().size(), ms.size());
  EXPECT_TRUE(fake.violations().empty());
}

}  // namespace
}  // namespace sc::providers
