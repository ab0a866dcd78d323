// Pause and cancel take effect at once (issue 14 point 5), through the real
// binary at its default settings (SC_DISPATCH_BATCH 512, Twilio's 16
// requests in flight) against a slow fake Twilio: once the operator's pause
// or cancel has been answered, at most the provider's in-flight cap of new
// requests reaches the provider. Before, the whole claimed batch went out
// after the pause: 300 of 300 texts at 300 ms.
#include <string>

#include "fakes/fake_twilio.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

constexpr int kRecipients = 300;
constexpr std::size_t kTwilioInFlight = 16;  // SC_TWILIO_MAX_IN_FLIGHT's default

class BroadcastStopTest : public ServiceTest {
 protected:
  void TearDown() override {
    if (svc_) svc_->stop();
  }

  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

  json post(const std::string& path) {
    auto r = cli_->Post(path.c_str(), admin(), "", "application/json");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }

  json get(const std::string& path) {
    auto r = cli_->Get(path.c_str(), admin());
    return r && r->status == 200 ? json::parse(r->body) : json();
  }

  // Every text answered after latency_ms; `what` ("pause" or "cancel") right
  // after the first text reaches the provider.
  void stop_mid_way(int latency_ms, const std::string& what) {
    for (int i = 0; i < kRecipients; ++i) {
      fakes::FakeTwilio::Answer slow;
      slow.delay_ms = latency_ms;
      twilio.script(phone(i), slow);
    }
    start({{"SC_SMS_PROVIDER", "twilio"},
           {"SC_TWILIO_ACCOUNT_SID", fakes::FakeTwilio::kAccountSid},
           {"SC_TWILIO_AUTH_TOKEN", fakes::FakeTwilio::kAuthToken},
           {"SC_TWILIO_FROM", "+15005550006"},
           {"SC_TWILIO_API_BASE", twilio.base_url()},
           {"SC_SMS_SEND_WINDOW", "00:00-24:00"}});
    const auto db = this->db();
    db_inspect::exec(db,
                     "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < " +
                         std::to_string(kRecipients - 1) +
                         ") INSERT INTO subscribers (id, first_name, created_at)"
                         " SELECT i + 1, 'Reader' || i, 1700000000 FROM k");
    db_inspect::exec(
        db,
        "INSERT INTO channels (subscriber_id, kind, address, state, created_at,"
        " updated_at) SELECT id, 'sms', '+1650253' || substr(CAST(10000 + id - 1 AS TEXT), 2),"
        " 'confirmed', 1700000000, 1700000000 FROM subscribers");
    auto created = cli_->Post("/api/v1/admin/broadcasts", admin(),
                              json{{"channel", "sms"}, {"text", "News for {{first_name}}."}}.dump(),
                              "application/json");
    ASSERT_TRUE(created);
    ASSERT_EQ(created->status, 201) << created->body;
    const auto base =
        "/api/v1/admin/broadcasts/" + std::to_string(json::parse(created->body)["id"].get<int>());
    post(base + "/send");
    ASSERT_TRUE(wait_for([&] { return twilio.requests() >= 1; }, std::chrono::seconds(20)))
        << svc_->stderr_text();
    const auto answer = post(base + "/" + what);
    const auto at_stop = twilio.requests();
    EXPECT_EQ(answer.value("status", ""), what == "pause" ? "paused" : "cancelled");
    // What was in flight is answered and recorded; the rest waits (paused)
    // or is skipped (cancelled).
    json b;
    ASSERT_TRUE(wait_for(
        [&] {
          b = get(base);
          if (b.is_null()) return false;
          const auto& c = b["counts"];
          const auto done = c["sent"].get<std::size_t>() + c["unknown"].get<std::size_t>() +
                            c["failed"].get<std::size_t>();
          const auto waiting = c[what == "pause" ? "queued" : "skipped"].get<std::size_t>();
          return done == twilio.requests() && done + waiting == kRecipients;
        },
        std::chrono::seconds(30)))
        << b.dump() << "\n"
        << svc_->stderr_text();
    // Nothing more afterwards: a running broadcast sends ~53 texts a second
    // at 300 ms, ~160 at 100 ms.
    const auto settled = twilio.requests();
    EXPECT_FALSE(
        wait_for([&] { return twilio.requests() > settled; }, std::chrono::milliseconds(1000)));
    std::cout << what << " at " << latency_ms << " ms: " << at_stop
              << " texts had reached Twilio when it was answered, " << twilio.requests()
              << " in all, of " << kRecipients << "\n";
    EXPECT_LE(twilio.requests() - at_stop, kTwilioInFlight) << b.dump();
    EXPECT_LT(twilio.requests(), static_cast<std::size_t>(kRecipients));
    EXPECT_EQ(b["status"], what == "pause" ? "paused" : "cancelled");
    EXPECT_EQ(b["counts"]["unknown"], 0) << b.dump();
    EXPECT_TRUE(twilio.violations().empty()) << twilio.violations().front();
  }

  static std::string phone(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "+1650253%04d", i);
    return buf;
  }

  fakes::FakeTwilio twilio;
};

TEST_F(BroadcastStopTest, APauseStopsTextsWithinTheInFlightCapAt300ms) {
  stop_mid_way(300, "pause");
}

TEST_F(BroadcastStopTest, APauseStopsTextsWithinTheInFlightCapAt100ms) {
  stop_mid_way(100, "pause");
}

TEST_F(BroadcastStopTest, ACancelStopsTextsWithinTheInFlightCapAt100ms) {
  stop_mid_way(100, "cancel");
}

}  // namespace
}  // namespace sc::testing
