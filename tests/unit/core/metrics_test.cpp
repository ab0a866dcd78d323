#include "sc/core/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"

namespace sc::metrics {
namespace {

TEST(MetricsTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry r;
  r.counter("sc_requests_total", "HTTP requests.", {{"route", "/healthz"}, {"status", "200"}})
      .inc(3);
  r.counter("sc_requests_total", "HTTP requests.", {{"route", "/"}, {"status", "200"}}).inc();
  r.gauge("sc_paused", "Paused.", {{"provider", "smtp"}}).set(1);
  const auto text = r.render();
  EXPECT_NE(
      text.find("# HELP sc_requests_total HTTP requests.\n# TYPE sc_requests_total counter\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_requests_total{route=\"/healthz\",status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_requests_total{route=\"/\",status=\"200\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE sc_paused gauge\nsc_paused{provider=\"smtp\"} 1\n"),
            std::string::npos)
      << text;
  // HELP/TYPE appear once per family, however many series.
  EXPECT_EQ(text.find("# TYPE sc_requests_total"), text.rfind("# TYPE sc_requests_total"));
}

TEST(MetricsTest, SameLabelsGiveTheSameSeries) {
  Registry r;
  auto& a = r.counter("sc_x_total", "x", {{"k", "v"}});
  auto& b = r.counter("sc_x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.counter("sc_x_total", "x", {{"k", "w"}}));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("sc_latency_seconds", "Latency.", {0.1, 1}, {{"route", "a"}});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  const auto text = r.render();
  EXPECT_NE(text.find("sc_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_latency_seconds_bucket{route=\"a\",le=\"1\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_latency_seconds_sum{route=\"a\"} 7.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sc_latency_seconds_count{route=\"a\"} 4\n"), std::string::npos) << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry r;
  r.counter("sc_y_total", "y", {{"path", "/x\"y"}}).inc();
  EXPECT_NE(r.render().find("sc_y_total{path=\"/x\\\"y\"} 1"), std::string::npos);
}

TEST(MetricsTest, ProgrammingErrorsThrow) {
  Registry r;
  r.counter("sc_z_total", "z");
  EXPECT_THROW(r.gauge("sc_z_total", "z"), std::logic_error);
  EXPECT_THROW(r.counter("9bad", "z"), std::logic_error);
  EXPECT_THROW(r.counter("sc_ok_total", "z", {{"le", "1"}}), std::logic_error);
  EXPECT_THROW(r.counter("sc_ok_total", "z", {{"bad-name", "1"}}), std::logic_error);
}

TEST(MetricsTest, CollectorsAddScrapeTimeGaugesSortedWithTheRest) {
  Registry r;
  r.counter("sc_b_total", "b").inc();
  int depth = 5;
  r.add_collector([&](Collector& c) {
    c.gauge("sc_a_depth", "Depth.", {{"lane", "bulk"}}, depth);
    c.gauge("sc_c_age_seconds", "Age.", {}, 1.5);
  });
  auto text = r.render();
  EXPECT_NE(text.find("sc_a_depth{lane=\"bulk\"} 5\n"), std::string::npos) << text;
  EXPECT_LT(text.find("sc_a_depth"), text.find("sc_b_total"));
  EXPECT_LT(text.find("sc_b_total"), text.find("sc_c_age_seconds 1.5"));
  depth = 9;
  EXPECT_NE(r.render().find("sc_a_depth{lane=\"bulk\"} 9\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& c = r.counter("sc_n_total", "n");
  auto& h = r.histogram("sc_h_seconds", "h", latency_buckets());
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.snapshot().count, 40000u);
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
}

// promtool (Debian's prometheus package) is the reference parser and linter.
TEST(MetricsTest, OutputPassesPromtoolCheckMetrics) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("SC_REQUIRE_PROMTOOL") != nullptr) FAIL() << "promtool is required but missing";
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  Registry r;
  r.counter("sc_http_requests_total", "HTTP requests by route and status.",
            {{"route", "/a"}, {"status", "200"}})
      .inc();
  r.histogram("sc_http_request_duration_seconds", "Request duration.", latency_buckets(),
              {{"route", "/a"}})
      .observe(0.003);
  r.gauge("sc_provider_paused", "1 while a provider is paused.", {{"provider", "smtp"}}).set(0);
  r.add_collector([](Collector& c) {
    c.gauge("sc_outbox_messages", "Outbox rows.", {{"lane", "bulk"}}, 3);
  });
  testing::TempDir dir;
  const auto file = dir.str("metrics.txt");
  std::ofstream(file) << r.render();
  const auto cmd = "promtool check metrics < '" + file + "' > '" + file + ".out' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(file + ".out");
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << out << "\n" << r.render();
}

}  // namespace
}  // namespace sc::metrics
