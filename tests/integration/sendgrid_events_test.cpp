// SendGrid's Event Webhook through the real binary: sends go to a loopback
// SendGrid (custom_args name the outbox row, tracking is off), and signed
// events posted back make addresses undeliverable or unsubscribed, once.
#include <chrono>

#include "fakes/fake_sendgrid.h"
#include "service_fixture.h"
#include "support/ecdsa_test_key.h"

namespace sc::testing {
namespace {

using nlohmann::json;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SendgridEventsTest : public ServiceTest {
 protected:
  // The service holds keep-alive connections to the fake: stop it first.
  void TearDown() override {
    if (svc_) svc_->stop();
  }
  void start_with_sendgrid() {
    start({{"SC_EMAIL_PROVIDER", "sendgrid"},
           {"SC_SENDGRID_API_KEY", fake_.api_key()},
           {"SC_SENDGRID_API_BASE", fake_.base_url()},
           {"SC_SENDGRID_WEBHOOK_PUBLIC_KEY", key_.public_key_base64()}});
  }

  // The Mail Send bodies sent to `email`, in order.
  std::vector<json> bodies_to(const std::string& email) {
    std::vector<json> out;
    for (const auto& b : fake_.bodies()) {
      if (b["personalizations"][0]["to"][0]["email"] == email) out.push_back(b);
    }
    return out;
  }
  static std::int64_t outbox_id_of(const json& body) {
    return std::stoll(
        body["personalizations"][0]["custom_args"]["sc_outbox_id"].get<std::string>());
  }

  // Signs up and confirms through the links SendGrid was asked to send;
  // returns the welcome message's outbox id once it has been sent.
  std::int64_t subscribe(const std::string& email) {
    auto r = post_json("/api/v1/subscriptions", {{"email", email}});
    EXPECT_TRUE(r && r->status == 202);
    EXPECT_TRUE(wait_for([&] { return bodies_to(email).size() >= 1; })) << svc_->stderr_text();
    const auto confirm_mail = bodies_to(email).at(0);
    // We do not track readers.
    EXPECT_EQ(confirm_mail["tracking_settings"]["open_tracking"]["enable"], false);
    EXPECT_EQ(confirm_mail["tracking_settings"]["click_tracking"]["enable"], false);
    auto link = find_link(confirm_mail["content"][0]["value"].get<std::string>(), "/confirm/");
    EXPECT_TRUE(link);
    if (!link) return 0;
    auto c = cli_->Post(link->c_str(), "", "application/x-www-form-urlencoded");
    EXPECT_TRUE(c && c->status == 200);
    EXPECT_TRUE(wait_for([&] { return bodies_to(email).size() >= 2; })) << svc_->stderr_text();
    const auto welcome = outbox_id_of(bodies_to(email).at(1));
    // Sent, with SendGrid's X-Message-Id kept.
    EXPECT_TRUE(wait_for([&] { return !provider_id(welcome).empty(); }));
    EXPECT_EQ(email_state(email), "confirmed");
    return welcome;
  }

  std::string sql(const std::string& q) { return db_inspect::query_value(db(), q); }
  std::string provider_id(std::int64_t outbox) {
    return sql("SELECT provider_message_id FROM outbox WHERE id = " + std::to_string(outbox));
  }
  std::string delivery(std::int64_t outbox) {
    return sql(
        "SELECT delivery_state || '/' || COALESCE(delivery_code, '') FROM outbox WHERE id = " +
        std::to_string(outbox));
  }

  // Posts events the way SendGrid does: one JSON array, \r\n after it, signed.
  httplib::Result post_events(const std::string& body, std::int64_t ts = 0,
                              std::string signature = "") {
    const auto stamp = std::to_string(ts == 0 ? unix_now() : ts);
    if (signature.empty()) signature = key_.sign(stamp, body);
    httplib::Headers h{{"X-Twilio-Email-Event-Webhook-Signature", signature},
                       {"X-Twilio-Email-Event-Webhook-Timestamp", stamp}};
    return cli_->Post("/webhooks/sendgrid/events", h, body, "application/json");
  }
  static std::string events(const std::vector<json>& list) {
    std::string out = "[";
    for (std::size_t i = 0; i < list.size(); ++i) out += (i ? ",\r\n" : "") + list[i].dump();
    return out + "]\r\n";
  }

  json last_log_row(const std::string& email) {
    auto j = admin_lookup(email);
    return j.is_null() || j["consent_log"].empty() ? json() : j["consent_log"].back();
  }
  // Every row's first column, joined by commas.
  std::string column(const std::string& q) {
    std::string out;
    for (const auto& v : db_inspect::column(db(), q)) out += (out.empty() ? "" : ",") + v;
    return out;
  }
  std::map<std::string, std::string> snapshot() {
    return {{"consent_log", std::to_string(count("consent_log"))},
            {"channels", column("SELECT state FROM channels ORDER BY id")},
            {"delivery", column("SELECT COALESCE(delivery_state, '-') FROM outbox ORDER BY id")},
            {"provider_events", std::to_string(count("provider_events"))}};
  }

  fakes::FakeSendgrid fake_;
  test::EcdsaTestKey key_;
};

TEST_F(SendgridEventsTest, AHardBounceMakesTheAddressUndeliverableOnce) {
  start_with_sendgrid();
  const auto welcome = subscribe("bounce@example.org");
  ASSERT_NE(welcome, 0);
  const auto bounce = events({{{"email", "bounce@example.org"},
                               {"event", "bounce"},
                               {"type", "bounce"},
                               {"status", "5.1.1"},
                               {"reason", "550 5.1.1 The email account does not exist"},
                               {"sg_event_id", "Ym91bmNlLTEtdGVzdA"},
                               {"sg_message_id", provider_id(welcome) + ".filterdrecv-1-2"},
                               {"sc_outbox_id", std::to_string(welcome)},
                               {"timestamp", unix_now()}}});
  auto r = post_events(bounce);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(email_state("bounce@example.org"), "undeliverable");
  const auto row = last_log_row("bounce@example.org");
  EXPECT_EQ(row["action"], "undeliverable");
  EXPECT_EQ(row["source"], "provider");
  EXPECT_NE(row["detail"].get<std::string>().find("sendgrid bounce 5.1.1"), std::string::npos)
      << row;
  EXPECT_EQ(delivery(welcome), "bounced/5.1.1");

  // SendGrid posts the same batch again: nothing more happens.
  const auto before = snapshot();
  auto again = post_events(bounce);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(snapshot(), before);

  // A new sign-up with the address starts a fresh confirmation.
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "bounce@example.org"}})->status, 202);
  EXPECT_TRUE(wait_for([&] { return bodies_to("bounce@example.org").size() >= 3; }));
  EXPECT_EQ(email_state("bounce@example.org"), "pending");
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(SendgridEventsTest, ASpamReportUnsubscribesAsAComplaintAndDeliveriesAreRecorded) {
  start_with_sendgrid();
  const auto welcome = subscribe("spam@example.org");
  ASSERT_NE(welcome, 0);
  // Matched by sg_message_id alone; delivered, then a late deferral.
  const auto pid = provider_id(welcome);
  auto r = post_events(events({{{"email", "spam@example.org"},
                                {"event", "delivered"},
                                {"response", "250 2.0.0 OK"},
                                {"sg_event_id", "ZGVsaXZlcmVk"},
                                {"sg_message_id", pid + ".filter-1"},
                                {"timestamp", unix_now()}},
                               {{"email", "spam@example.org"},
                                {"event", "deferred"},
                                {"response", "421 try later"},
                                {"sg_event_id", "ZGVmZXJyZWQ"},
                                {"sg_message_id", pid + ".filter-1"},
                                {"timestamp", unix_now()}},
                               {{"email", "spam@example.org"},
                                {"event", "open"},
                                {"sg_event_id", "b3Blbg"},
                                {"sg_message_id", pid + ".filter-1"}}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(delivery(welcome), "delivered/250");
  EXPECT_EQ(email_state("spam@example.org"), "confirmed");

  auto spam = post_events(events({{{"email", "spam@example.org"},
                                   {"event", "spamreport"},
                                   {"sg_event_id", "c3BhbXJlcG9ydA"},
                                   {"sg_message_id", pid + ".filter-1"},
                                   {"sc_outbox_id", std::to_string(welcome)},
                                   {"timestamp", unix_now()}}}));
  ASSERT_TRUE(spam);
  ASSERT_EQ(spam->status, 200) << spam->body;
  EXPECT_EQ(email_state("spam@example.org"), "unsubscribed");
  const auto row = last_log_row("spam@example.org");
  EXPECT_EQ(row["action"], "withdraw");
  EXPECT_EQ(row["source"], "complaint");
  EXPECT_EQ(delivery(welcome), "delivered/250");  // a complaint is not a delivery report

  // Counted by event and result.
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto m = cli_->Get("/metrics", h);
  ASSERT_TRUE(m && m->status == 200);
  EXPECT_NE(m->body.find("sc_email_events_total{event=\"spamreport\",result=\"applied\"} 1"),
            std::string::npos)
      << m->body.substr(0, 2000);
  EXPECT_NE(m->body.find("sc_email_events_total{event=\"open\",result=\"ignored\"} 1"),
            std::string::npos);
}

// SendGrid batches events up to 768 KB: a batch far larger than a form's
// 64 KB limit is taken (1 MB on this path only; the limits themselves are
// tested at the edge, tests/unit/http/edge_server_test.cpp).
TEST_F(SendgridEventsTest, ALargeBatchIsTaken) {
  start_with_sendgrid();
  std::vector<json> batch;
  for (int i = 0; i < 2500; ++i) {
    batch.push_back({{"email", "someone" + std::to_string(i) + "@example.org"},
                     {"event", "processed"},
                     {"sg_event_id", "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA" +
                                         std::to_string(i)},
                     {"sg_message_id", "qNwBLgPQQjW6DJvKQwSAbw.filterdrecv-canary-1"},
                     {"timestamp", unix_now()}});
  }
  const auto body = events(batch);
  ASSERT_GT(body.size(), 300u * 1024);
  auto r = post_events(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body.substr(0, 300);
  EXPECT_EQ(json::parse(r->body)["received"], 2500);
}

TEST_F(SendgridEventsTest, UnsignedStaleOrMalformedPostsChangeNothing) {
  start_with_sendgrid();
  const auto welcome = subscribe("kept@example.org");
  ASSERT_NE(welcome, 0);
  const auto bounce = events({{{"email", "kept@example.org"},
                               {"event", "bounce"},
                               {"type", "bounce"},
                               {"status", "5.1.1"},
                               {"sg_event_id", "YmFkLWlucHV0"},
                               {"sc_outbox_id", std::to_string(welcome)}}});
  const auto now = unix_now();
  test::EcdsaTestKey other;
  struct Bad {
    const char* name;
    std::string body;
    std::int64_t ts;
    std::string signature;  // empty: signed with the configured key
    int status;
    const char* code;
  };
  const std::vector<Bad> table = {
      {"another key's signature", bounce, now, other.sign(std::to_string(now), bounce), 403,
       "invalid_signature"},
      {"signature over other bytes", bounce, now, key_.sign(std::to_string(now), bounce + " "), 403,
       "invalid_signature"},
      {"signature not base64", bounce, now, "%%%", 403, "invalid_signature"},
      {"stale timestamp", bounce, now - 11 * 60, "", 403, "invalid_signature"},
      {"timestamp far ahead", bounce, now + 30 * 60, "", 403, "invalid_signature"},
      {"not json", "[{\"event\":", now, "", 400, "invalid_events"},
      {"an object, not an array", R"({"event":"bounce"})", now, "", 400, "invalid_events"},
      {"an array of strings", R"(["bounce"])", now, "", 400, "invalid_events"},
  };
  const auto before = snapshot();
  for (const auto& t : table) {
    auto r = post_events(t.body, t.ts, t.signature);
    ASSERT_TRUE(r) << t.name;
    EXPECT_EQ(r->status, t.status) << t.name << ": " << r->body;
    auto j = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << t.name;
    EXPECT_EQ(j["error"]["code"], t.code) << t.name;
  }
  // Without the headers at all.
  auto bare = cli_->Post("/webhooks/sendgrid/events", bounce, "application/json");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 403);
  EXPECT_EQ(snapshot(), before) << "a refused post changed the database";
  EXPECT_EQ(email_state("kept@example.org"), "confirmed");
  // The same bounce, properly signed now, is taken: the table proved something.
  auto ok = post_events(bounce);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(email_state("kept@example.org"), "undeliverable");
}

}  // namespace
}  // namespace sc::testing
