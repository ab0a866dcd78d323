// The real binary's /metrics: every family the issue names is there after a
// sign-up and its confirmation email, promtool accepts the whole output, and
// SC_METRICS_LISTEN serves it without a key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>

#include "service_fixture.h"

namespace sc::testing {
namespace {

class MetricsIntegrationTest : public ServiceTest {
 protected:
  std::string scrape() {
    httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
    auto r = cli_->Get("/metrics", h);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    return r->body;
  }
};

TEST_F(MetricsIntegrationTest, EveryFamilyIsExposedAndPromtoolAcceptsIt) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "metrics@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  // The send is recorded after the file is written, and a request is
  // counted after its answer: wait until every family is there.
  const std::vector<std::string> families = {
      "sc_sends_total{provider=\"file\",outcome=\"sent\"} 1\n",
      "sc_http_requests_total{route=\"/api/v1/subscriptions\",status=\"202\"} 1",
      "sc_http_request_duration_seconds_bucket",
      "sc_signups_total{channel=\"email\"} 1",
      "sc_outbox_messages{lane=\"transactional\",state=\"queued\"}",
      "sc_outbox_messages{lane=\"bulk\",state=\"sending\"}",
      "sc_outbox_oldest_due_age_seconds",
      "sc_send_duration_seconds_count{provider=\"file\"} 1",
      "sc_provider_paused{provider=\"file\",channel=\"email\"} 0",
      "sc_writer_batch_jobs_bucket",
      "sc_writer_commit_seconds_count"};
  std::string text;
  wait_for([&] {
    text = scrape();
    for (const auto& f : families) {
      if (text.find(f) == std::string::npos) return false;
    }
    return true;
  });
  for (const auto& f : families) EXPECT_NE(text.find(f), std::string::npos) << f << "\n" << text;
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("SC_REQUIRE_PROMTOOL") != nullptr) FAIL() << "promtool is required but missing";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const auto file = dir_.str("metrics.txt");
  std::ofstream(file) << text;
  const int rc =
      std::system(("promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1").c_str());
  std::ifstream in(file + ".out");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out << "\n" << text;
}

TEST_F(MetricsIntegrationTest, MetricsListenServesWithoutAKey) {
  start({{"SC_METRICS_LISTEN", "127.0.0.1:0"}});
  std::smatch m;
  const auto out = svc_->stdout_text();
  const std::regex re(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  ASSERT_TRUE(std::regex_search(out, m, re)) << out;
  httplib::Client metrics("127.0.0.1", std::stoi(m[1].str()));
  auto r = metrics.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("# TYPE sc_outbox_messages gauge"), std::string::npos) << r->body;
  EXPECT_EQ(metrics.Get("/api/v1/admin/subscribers?email=a@example.org")->status, 404);
  // The main port still wants the key.
  EXPECT_EQ(cli_->Get("/metrics")->status, 401);
}

}  // namespace
}  // namespace sc::testing
