// The progress line of `broadcasts watch`: bar, percent, rate and ETA,
// rounded the way an operator reads them.
#include "sc/app/progress.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

BroadcastCounts counts(std::int64_t sent, std::int64_t failed, std::int64_t skipped,
                       std::int64_t unknown, std::int64_t queued, std::int64_t sending = 0) {
  BroadcastCounts c;
  c.sent = sent;
  c.failed = failed;
  c.skipped = skipped;
  c.unknown = unknown;
  c.queued = queued;
  c.sending = sending;
  c.total = sent + failed + skipped + unknown + queued + sending;
  return c;
}

TEST(ProgressTest, PercentRoundsDownSoOnlyAFinishedBroadcastShows100) {
  EXPECT_EQ(progress_percent(0, 1000), 0);
  EXPECT_EQ(progress_percent(5, 1000), 0);
  EXPECT_EQ(progress_percent(999, 1000), 99);
  EXPECT_EQ(progress_percent(1000, 1000), 100);
  EXPECT_EQ(progress_percent(1, 3), 33);
  EXPECT_EQ(progress_percent(2, 3), 66);
  EXPECT_EQ(progress_percent(0, 0), 100);  // nothing to do
}

TEST(ProgressTest, BarFillsByTheFinishedShareRoundedDown) {
  EXPECT_EQ(progress_bar(0, 100, 10), "[----------]");
  EXPECT_EQ(progress_bar(19, 100, 10), "[#---------]");
  EXPECT_EQ(progress_bar(50, 100, 10), "[#####-----]");
  EXPECT_EQ(progress_bar(99, 100, 10), "[#########-]");
  EXPECT_EQ(progress_bar(100, 100, 10), "[##########]");
  EXPECT_EQ(progress_bar(0, 0, 4), "[####]");
  EXPECT_EQ(progress_bar(3, 7, 1), "[-]");
}

TEST(ProgressTest, EtaIsDashesWithoutARateAndRoundsUp) {
  EXPECT_EQ(format_eta(100, 0), "--");
  EXPECT_EQ(format_eta(100, -3), "--");
  EXPECT_EQ(format_eta(0, 0), "0s");
  EXPECT_EQ(format_eta(10, 4), "3s");  // 2.5 s rounds up
  EXPECT_EQ(format_eta(59, 1), "59s");
  EXPECT_EQ(format_eta(60, 1), "1m00s");
  EXPECT_EQ(format_eta(725, 1), "12m05s");
  EXPECT_EQ(format_eta(3600, 1), "1h00m");
  EXPECT_EQ(format_eta(11040, 1), "3h04m");
  EXPECT_EQ(format_eta(183600, 1), "2d03h");
  EXPECT_EQ(format_eta(1'000'000'000, 1), "--");  // years: no use
}

TEST(ProgressTest, RateHasOneDecimalBelowTen) {
  EXPECT_EQ(format_rate(0), "0 msg/s");
  EXPECT_EQ(format_rate(2.54), "2.5 msg/s");
  EXPECT_EQ(format_rate(9.96), "10 msg/s");
  EXPECT_EQ(format_rate(1234.4), "1234 msg/s");
}

TEST(ProgressTest, LineShowsEveryCountRateAndEta) {
  auto line = progress_line(counts(580, 10, 5, 5, 390, 10), BroadcastStatus::kSending, 100, 10);
  EXPECT_EQ(line,
            "[######----]  60% 600/1000 sent 580 failed 10 skipped 5 unknown 5 queued 400 | "
            "sending | 100 msg/s | ETA 4s");
}

TEST(ProgressTest, CompletedLineIsFullAndAPausedOneHasNoEta) {
  EXPECT_EQ(progress_line(counts(3, 1, 0, 0, 0), BroadcastStatus::kCompleted, 0, 4),
            "[####] 100% 4/4 sent 3 failed 1 skipped 0 unknown 0 queued 0 | completed | 0 msg/s | "
            "ETA 0s");
  EXPECT_EQ(progress_line(counts(1, 0, 0, 0, 3), BroadcastStatus::kPaused, 50, 4),
            "[#---]  25% 1/4 sent 1 failed 0 skipped 0 unknown 0 queued 3 | paused | 50 msg/s | "
            "ETA --");
  // Sending but no recipients yet (the snapshot is running): not 100 %.
  EXPECT_EQ(progress_line(counts(0, 0, 0, 0, 0), BroadcastStatus::kSending, 0, 4),
            "[----]   0% 0/0 sent 0 failed 0 skipped 0 unknown 0 queued 0 | sending | 0 msg/s | "
            "ETA --");
  // A cancelled broadcast that reached nobody is finished.
  EXPECT_NE(
      progress_line(counts(0, 0, 0, 0, 0), BroadcastStatus::kCancelled, 0, 4).find("[####] 100%"),
      std::string::npos);
}

// Texts held by quiet hours: "waiting for the send window until HH:MM UTC"
// instead of "ETA --", and the ETA of the others when some still move.
TEST(ProgressTest, TextsHeldByQuietHoursShowWhenTheyMayGoInsteadOfNoEta) {
  auto c = counts(1, 0, 0, 0, 3);
  c.waiting = 3;
  c.waiting_until = 1768482000;  // 2026-01-15T13:00:00Z
  EXPECT_EQ(progress_line(c, BroadcastStatus::kSending, 0, 4),
            "[#---]  25% 1/4 sent 1 failed 0 skipped 0 unknown 0 queued 3 (3 waiting) | sending | "
            "0 msg/s | waiting for the send window until 13:00 UTC");
  // Some still go now: their ETA, then the wait.
  c = counts(1, 0, 0, 0, 5, 4);
  c.waiting = 3;
  c.waiting_until = 1768492860;  // 16:01 UTC
  EXPECT_EQ(progress_line(c, BroadcastStatus::kSending, 2, 4),
            "[----]  10% 1/10 sent 1 failed 0 skipped 0 unknown 0 queued 9 (3 waiting) | sending | "
            "2.0 msg/s | ETA 3s, then waiting for the send window until 16:01 UTC");
  // Paused: nothing moves, whatever waits.
  EXPECT_NE(progress_line(c, BroadcastStatus::kPaused, 2, 4).find("| paused | 2.0 msg/s | ETA --"),
            std::string::npos);
  EXPECT_EQ(waiting_phrase(counts(1, 0, 0, 0, 3)), "");
  EXPECT_EQ(format_hhmm_utc(1768435200 + 9 * 3600 + 5 * 60), "09:05 UTC");
}

TEST(ProgressTest, RateIsOverTheLastWindowAndNeverNegative) {
  RateMeter m(5000);
  EXPECT_EQ(m.per_second(), 0);
  m.add(0, 0);
  EXPECT_EQ(m.per_second(), 0);  // one sample: no rate yet
  m.add(1000, 100);
  EXPECT_DOUBLE_EQ(m.per_second(), 100);
  // A fast start then a slow spell: only the last 5 s count.
  for (int s = 2; s <= 10; ++s) m.add(s * 1000, 100 + (s - 1) * 10);
  EXPECT_DOUBLE_EQ(m.per_second(), 10);
  m.add(11000, 0);  // retry-failed re-queued them
  EXPECT_EQ(m.per_second(), 0);
}

}  // namespace
}  // namespace sc
