// A repeated failure is logged at a bounded rate: the first at once, then at
// most one line per interval per kind, with how many were left out.
#include "sc/core/throttled_log.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace sc {
namespace {

struct Recorder {
  std::int64_t now = 1'000'000;
  std::vector<std::string> lines;
  ThrottledLog log{10'000, [this] { return now; },
                   [this](const std::string& line) { lines.push_back(line); }};
};

TEST(ThrottledLog, TheFirstAtOnceThenOneLineAnIntervalWithTheCount) {
  Recorder r;
  r.log.log("disk full", "http: POST /a failed: disk full");
  ASSERT_EQ(r.lines, std::vector<std::string>{"http: POST /a failed: disk full"});
  for (int i = 0; i < 1234; ++i) {
    r.now += 5;  // 1234 more within 6.17 s
    r.log.log("disk full", "http: POST /b failed: disk full");
  }
  EXPECT_EQ(r.lines.size(), 1u);
  r.now = 1'000'000 + 9'999;
  r.log.log("disk full", "http: POST /c failed: disk full");
  EXPECT_EQ(r.lines.size(), 1u);  // still inside the interval: 1235 left out
  r.now = 1'000'000 + 10'000;
  r.log.log("disk full", "http: POST /d failed: disk full");
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[1], "http: POST /d failed: disk full (1235 more in the last 10 s)");
  // The count starts again; a line with nothing left out carries no count.
  r.now += 25'000;
  r.log.log("disk full", "http: POST /e failed: disk full");
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[2], "http: POST /e failed: disk full");
  r.now += 1;
  r.log.log("disk full", "x");
  r.now += 30'000;
  r.log.log("disk full", "y");
  EXPECT_EQ(r.lines.back(), "y (1 more in the last 30 s)");
}

TEST(ThrottledLog, EachKindHasItsOwnInterval) {
  Recorder r;
  r.log.log("a", "first a");
  r.log.log("b", "first b");
  r.log.log("a", "second a");
  r.log.log("b", "second b");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"first a", "first b"}));
  r.now += 10'000;
  r.log.log("b", "third b");
  EXPECT_EQ(r.lines.back(), "third b (1 more in the last 10 s)");
}

TEST(ThrottledLog, ManyDistinctKindsStayBounded) {
  Recorder r;
  // Kinds that never repeat (an id in each message) fill the table; then
  // new ones share one entry, so the lines stay bounded too.
  for (int i = 0; i < 10'000; ++i) r.log.log("kind " + std::to_string(i), "line");
  EXPECT_LE(r.lines.size(), 257u);
  // After an interval the quiet kinds are forgotten and new ones written again.
  r.now += 10'000;
  r.log.log("new kind", "new line");
  EXPECT_EQ(r.lines.back(), "new line");
}

TEST(ThrottledLog, IsSafeFromManyThreads) {
  Recorder r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) r.log.log("same", "line");
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.lines.size(), 1u);
  r.now += 10'000;
  r.log.log("same", "line");
  EXPECT_EQ(r.lines.back(), "line (7999 more in the last 10 s)");
}

}  // namespace
}  // namespace sc
