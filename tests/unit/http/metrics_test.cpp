// GET /metrics, the request metrics, the domain counters, the metrics-only
// listener and /healthz detail, in process.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "http_fixture.h"
#include "support/temp_dir.h"
#include "support/wait_for.h"

namespace sc::unit {
namespace {

using nlohmann::json;
using testing::TempDir;
using testing::wait_for;

class MetricsTest : public HttpTest {
 protected:
  std::string scrape() {
    auto r = get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return r->body;
  }
  static bool has(const std::string& text, const std::string& line) {
    return text.find(line) != std::string::npos;
  }
  // The server counts a request after its answer is written, so the client
  // may read the answer first: scrape until every line is there (bounded).
  std::string scrape_until(const std::vector<std::string>& lines) {
    std::string text;
    wait_for([&] {
      text = scrape();
      for (const auto& l : lines) {
        if (!has(text, l)) return false;
      }
      return true;
    });
    return text;
  }
};

TEST_F(MetricsTest, NeedsTheAdminKey) {
  start();
  auto r = get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(error_code(r), "unauthorized");
  r = get("/metrics", {{"Authorization", "Bearer wrong-key-000000"}});
  EXPECT_EQ(r->status, 401);
}

TEST_F(MetricsTest, NoRegistryNoRoute) {
  with_metrics_ = false;
  start();
  auto r = get("/metrics", {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(MetricsTest, RequestsAreCountedByRouteAndStatusAndTimed) {
  start();
  ASSERT_EQ(get("/healthz")->status, 200);
  ASSERT_EQ(get("/healthz")->status, 200);
  ASSERT_EQ(get("/no/such/page/123")->status, 404);
  ASSERT_EQ(get("/confirm/not-a-token")->status, 400);
  const auto text =
      scrape_until({"sc_http_request_duration_seconds_count{route=\"/healthz\"} 2\n",
                    "sc_http_requests_total{route=\"/confirm/{token}\",status=\"400\"} 1\n",
                    "sc_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"});
  EXPECT_TRUE(has(text, "sc_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n")) << text;
  // Unknown paths share one label, so scanners cannot grow the series.
  EXPECT_TRUE(has(text, "sc_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "sc_http_requests_total{route=\"/confirm/{token}\",status=\"400\"} 1\n"))
      << text;
  EXPECT_TRUE(has(text, "sc_http_request_duration_seconds_count{route=\"/healthz\"} 2\n")) << text;
  EXPECT_TRUE(
      has(text, "sc_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 2\n"))
      << text;
}

TEST_F(MetricsTest, SignupsConfirmationsAndUnsubscribesAreCounted) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "m@example.org"}})->status, 202);
  ASSERT_EQ(
      post_json("/api/v1/subscriptions", {{"phone", "6502530000"}, {"sms_consent", true}})->status,
      202);
  const auto id = signed_up_email("n@example.org");
  ASSERT_EQ(post(confirm_path(id), "", "application/x-www-form-urlencoded")->status, 200);
  ASSERT_EQ(
      post(unsubscribe_path(id), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
          ->status,
      200);
  // A repeat changes nothing and counts nothing.
  ASSERT_EQ(
      post(unsubscribe_path(id), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
          ->status,
      200);
  const auto text = scrape();
  EXPECT_TRUE(has(text, "sc_signups_total{channel=\"email\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "sc_signups_total{channel=\"sms\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "sc_confirmations_total{channel=\"email\",source=\"link\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "sc_unsubscribes_total{channel=\"email\",source=\"one_click\"} 1\n"))
      << text;
}

TEST_F(MetricsTest, OutputPassesPromtool) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("SC_REQUIRE_PROMTOOL") != nullptr) FAIL() << "promtool is required but missing";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  metrics_.add_collector([](metrics::Collector& c) {
    c.gauge("sc_outbox_messages", "Unfinished outbox messages.",
            {{"lane", "bulk"}, {"state", "queued"}}, 3);
  });
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "p@example.org"}})->status, 202);
  ASSERT_EQ(get("/nope")->status, 404);
  const auto text =
      scrape_until({"sc_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"});
  TempDir dir;
  const auto file = dir.str("metrics.txt");
  std::ofstream(file) << text;
  const auto cmd = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(file + ".out");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out << "\n" << text;
}

TEST_F(MetricsTest, HealthzShowsAPausedProviderAndWhy) {
  // Twilio's refusal text names the account: /healthz, open to anyone, says
  // only why in a fixed phrase; the text is behind a read key.
  const std::string refusal = "20003 Authenticate: account AC0123456789abcdef0123456789abcdef";
  providers_ = {ProviderHealth{"sendgrid", "email", true, refusal, 1700000000, 3, 1700000010},
                ProviderHealth{"twilio", "sms", false, "", 0, 0, 0}};
  start();
  auto r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);  // sign-ups still work; the messages wait in the outbox
  auto j = json::parse(r->body);
  EXPECT_EQ(j["status"], "degraded");
  ASSERT_EQ(j["providers"].size(), 2u);
  EXPECT_EQ(j["providers"][0]["name"], "sendgrid");
  EXPECT_EQ(j["providers"][0]["paused"], true);
  EXPECT_EQ(j["providers"][0]["reason"], "provider refused credentials");
  EXPECT_EQ(r->body.find("AC0123456789"), std::string::npos) << r->body;
  EXPECT_EQ(j["providers"][0]["next_probe_at"], "2023-11-14T22:13:30Z");
  EXPECT_EQ(j["providers"][1]["paused"], false);
  // The provider's own text: with a read key, not without.
  admin_store_.add_key("sc_read-key-providers-0000000000", "dashboard", Scope::kRead);
  EXPECT_EQ(get("/api/v1/admin/providers")->status, 401);
  r = get("/api/v1/admin/providers",
          {{"Authorization", "Bearer sc_read-key-providers-0000000000"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  j = json::parse(r->body);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["name"], "sendgrid");
  EXPECT_EQ(j["items"][0]["reason"], refusal);
  EXPECT_EQ(j["items"][0]["consecutive_failures"], 3);
  EXPECT_EQ(j["items"][1]["paused"], false);
  EXPECT_FALSE(j["items"][1].contains("reason"));
  {
    std::lock_guard lk(providers_mu_);
    providers_[0].paused = false;
  }
  EXPECT_EQ(json::parse(get("/healthz")->body)["status"], "ok");
}

TEST(MetricsServerTest, ServesMetricsOnlyWithoutAKey) {
  metrics::Registry registry;
  registry.counter("sc_x_total", "x").inc(7);
  MetricsServer server(registry);
  const int port = server.bind("127.0.0.1", 0);
  std::thread t([&] { server.serve(); });
  ASSERT_TRUE(server.wait_until_ready());
  httplib::Client cli("127.0.0.1", port);
  auto r = cli.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("sc_x_total 7\n"), std::string::npos) << r->body;
  r = cli.Get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("\"not_found\""), std::string::npos) << r->body;
  r = cli.Post("/metrics", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  EXPECT_NE(r->body.find("\"method_not_allowed\""), std::string::npos) << r->body;
  server.stop();
  t.join();
}

}  // namespace
}  // namespace sc::unit
