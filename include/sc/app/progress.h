// What `stayconnected broadcasts watch` draws: the progress line of a
// broadcast (bar, counts, rate, ETA) and the rate over the last seconds.
// Pure, so the formatting is unit-tested without a terminal or a database.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include "sc/core/broadcast.h"

namespace sc {

// Recipients with an outcome (sent, failed, skipped, unknown).
std::int64_t finished_recipients(const BroadcastCounts& c);

// "[#####-----]" of `width` cells, filled by the finished share rounded
// down: the bar is full only when every recipient is finished.
std::string progress_bar(std::int64_t done, std::int64_t total, int width);

// The finished share in whole percent, rounded down (999 of 1000 is 99 %);
// 100 when there is nothing left to do.
int progress_percent(std::int64_t done, std::int64_t total);

// Time to send `remaining` at `per_second`: "--" when the rate is zero or
// unknown and something remains, "0s" when nothing does; rounded up to
// "45s", "12m05s", "3h04m", "2d03h".
std::string format_eta(std::int64_t remaining, double per_second);

// "1234 msg/s", "2.5 msg/s" (one decimal below 10), "0 msg/s".
std::string format_rate(double per_second);

// "13:00 UTC": the hour and minute of a time, in UTC.
std::string format_hhmm_utc(std::int64_t unix_seconds);

// "waiting for the send window until 13:00 UTC" while recipients are held by
// quiet hours (c.waiting > 0; the earliest time one may go); "" otherwise.
std::string waiting_phrase(const BroadcastCounts& c);

// One line, e.g. "[######----] 60% 600/1000 sent 580 failed 10 skipped 5
// unknown 5 queued 400 | sending | 120 msg/s | ETA 4s". Recipients held by
// quiet hours show as "queued 400 (300 waiting)", and the ETA covers the
// others: "ETA 1s, then waiting for the send window until 13:00 UTC", or
// only "waiting for the send window until 13:00 UTC" when nothing else is left.
std::string progress_line(const BroadcastCounts& c, BroadcastStatus status, double per_second,
                          int bar_width = 30);

// Finished recipients per second over the last `window_ms` of samples.
class RateMeter {
 public:
  explicit RateMeter(std::int64_t window_ms = 5000) : window_ms_(window_ms) {}
  void add(std::int64_t at_ms, std::int64_t finished);
  // 0 until two samples span some time; never negative (a retry re-queues).
  double per_second() const;

 private:
  std::int64_t window_ms_;
  std::deque<std::pair<std::int64_t, std::int64_t>> samples_;
};

}  // namespace sc
