// POST /webhooks/sendgrid/events in process: what is refused (403, 400)
// writes nothing; what is signed and fresh reaches core in one transaction.
#include <gtest/gtest.h>

#include "http_fixture.h"

namespace sc::unit {
namespace {

using nlohmann::json;

class SendgridEventsHttpTest : public HttpTest {
 protected:
  httplib::Result post_events(const std::string& body, std::int64_t ts,
                              std::optional<std::string> signature = std::nullopt) {
    const auto stamp = std::to_string(ts);
    httplib::Headers h{{"X-Twilio-Email-Event-Webhook-Timestamp", stamp},
                       {"X-Twilio-Email-Event-Webhook-Signature",
                        signature.value_or(FakePayloadVerifier::signature(stamp, body))}};
    return post("/webhooks/sendgrid/events", body, "application/json", h);
  }
  std::string bounce_for(std::int64_t outbox_id, const std::string& email) {
    return json::array({{{"event", "bounce"},
                         {"type", "bounce"},
                         {"status", "5.1.1"},
                         {"email", email},
                         {"sg_event_id", "ev-1"},
                         {"sc_outbox_id", std::to_string(outbox_id)}}})
               .dump() +
           "\r\n";
  }
};

TEST_F(SendgridEventsHttpTest, RefusedPostsWriteNothing) {
  start();
  const auto cid = signed_up_email("a@example.org");
  const auto body = bounce_for(store_.emails.at(0).id, "a@example.org");
  const auto now = clock_.now_unix();
  const int runs = writes_.runs;
  struct Case {
    const char* name;
    std::string body;
    std::int64_t ts;
    std::optional<std::string> signature;
    int status;
    const char* code;
  };
  const std::vector<Case> cases = {
      {"no signature", body, now, std::string(), 403, "invalid_signature"},
      {"wrong signature", body, now, "1.2", 403, "invalid_signature"},
      {"signed other bytes", body, now, FakePayloadVerifier::signature(std::to_string(now), "[]"),
       403, "invalid_signature"},
      {"11 minutes old", body, now - 660, std::nullopt, 403, "invalid_signature"},
      {"10 minutes ahead", body, now + 600, std::nullopt, 403, "invalid_signature"},
      {"not json", "[{", now, std::nullopt, 400, "invalid_events"},
      {"an object", R"({"event":"bounce"})", now, std::nullopt, 400, "invalid_events"},
      {"an array of numbers", "[1,2]", now, std::nullopt, 400, "invalid_events"},
  };
  for (const auto& c : cases) {
    auto r = post_events(c.body, c.ts, c.signature);
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_EQ(error_code(r), c.code) << c.name;
  }
  // No timestamp header at all.
  auto bare = post("/webhooks/sendgrid/events", body, "application/json",
                   {{"X-Twilio-Email-Event-Webhook-Signature", "x"}});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 403);
  EXPECT_EQ(writes_.runs, runs);
  EXPECT_EQ(store_.channels.at(cid).state, ConsentState::kPending);
  // Exactly 10 minutes old is still fresh, and the same body is then taken.
  auto ok = post_events(body, now - 600);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(json::parse(ok->body), json({{"received", 1}, {"applied", 1}}));
  EXPECT_EQ(store_.channels.at(cid).state, ConsentState::kUndeliverable);
}

TEST_F(SendgridEventsHttpTest, WithoutAKeyEveryPostIsRefused) {
  with_event_verifier_ = false;
  start();
  const auto body = bounce_for(1, "a@example.org");
  auto r = post_events(body, clock_.now_unix());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(error_code(r), "invalid_signature");
  EXPECT_NE(r->body.find("SC_SENDGRID_WEBHOOK_PUBLIC_KEY"), std::string::npos) << r->body;
  EXPECT_EQ(writes_.runs, 0);
}

TEST_F(SendgridEventsHttpTest, AnEmptyBatchAndUnknownEventsAreFine) {
  start();
  auto empty = post_events("[]", clock_.now_unix());
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  auto odd =
      post_events(R"([{"event":"open","sg_event_id":1,"sc_outbox_id":"x"},{}])", clock_.now_unix());
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 200) << odd->body;
  EXPECT_EQ(json::parse(odd->body)["applied"], 0);
}

TEST_F(SendgridEventsHttpTest, AStorageFailureIsA503SoSendgridPostsAgain) {
  start();
  const auto cid = signed_up_email("a@example.org");
  const auto body = bounce_for(store_.emails.at(0).id, "a@example.org");
  writes_.fail = true;
  auto r = post_events(body, clock_.now_unix());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  writes_.fail = false;
  EXPECT_EQ(store_.channels.at(cid).state, ConsentState::kPending);
  auto again = post_events(body, clock_.now_unix());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(store_.channels.at(cid).state, ConsentState::kUndeliverable);
}

}  // namespace
}  // namespace sc::unit
