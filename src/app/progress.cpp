#include "sc/app/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace sc {

std::int64_t finished_recipients(const BroadcastCounts& c) {
  return c.sent + c.failed + c.skipped + c.unknown;
}

int progress_percent(std::int64_t done, std::int64_t total) {
  if (total <= 0 || done >= total) return 100;
  if (done <= 0) return 0;
  return static_cast<int>(done * 100 / total);
}

std::string progress_bar(std::int64_t done, std::int64_t total, int width) {
  width = std::max(width, 1);
  std::int64_t filled = width;
  if (total > 0 && done < total) filled = std::max<std::int64_t>(0, done) * width / total;
  std::string s = "[";
  s.append(static_cast<std::size_t>(filled), '#');
  s.append(static_cast<std::size_t>(width - filled), '-');
  return s + "]";
}

std::string format_eta(std::int64_t remaining, double per_second) {
  if (remaining <= 0) return "0s";
  if (!(per_second > 0) || !std::isfinite(per_second)) return "--";
  const double secs = std::ceil(static_cast<double>(remaining) / per_second);
  if (secs > 99.0 * 86400) return "--";  // beyond any use
  const auto s = static_cast<std::int64_t>(secs);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string format_rate(double per_second) {
  if (!(per_second > 0) || !std::isfinite(per_second)) return "0 msg/s";
  char buf[32];
  if (per_second < 9.95)
    std::snprintf(buf, sizeof buf, "%.1f msg/s", per_second);
  else
    std::snprintf(buf, sizeof buf, "%.0f msg/s", per_second);
  return buf;
}

std::string format_hhmm_utc(std::int64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d UTC", tm.tm_hour, tm.tm_min);
  return buf;
}

std::string waiting_phrase(const BroadcastCounts& c) {
  if (c.waiting <= 0) return "";
  return "waiting for the send window until " + format_hhmm_utc(c.waiting_until);
}

std::string progress_line(const BroadcastCounts& c, BroadcastStatus status, double per_second,
                          int bar_width) {
  const auto done = finished_recipients(c);
  const auto queued = c.queued + c.sending;
  // No recipients yet: still snapshotting (or not sent), unless it ended.
  const bool ended = status == BroadcastStatus::kCompleted || status == BroadcastStatus::kCancelled;
  const bool empty = c.total == 0 && !ended;
  char counts[256];
  std::snprintf(counts, sizeof counts,
                " %3d%% %lld/%lld sent %lld failed %lld skipped %lld unknown %lld queued %lld",
                empty ? 0 : progress_percent(done, c.total), static_cast<long long>(done),
                static_cast<long long>(c.total), static_cast<long long>(c.sent),
                static_cast<long long>(c.failed), static_cast<long long>(c.skipped),
                static_cast<long long>(c.unknown), static_cast<long long>(queued));
  std::string waiting;
  if (c.waiting > 0) waiting = " (" + std::to_string(c.waiting) + " waiting)";
  // Texts held by quiet hours do not move until their window opens: the
  // ETA covers the others, and the line says when the held ones may go.
  const auto moving = std::max<std::int64_t>(0, queued - c.waiting);
  std::string eta;
  if (empty) {
    eta = "ETA --";
  } else if (status != BroadcastStatus::kSending && queued != 0) {
    eta = "ETA --";  // paused, scheduled or a draft: nothing moves
  } else if (c.waiting > 0 && moving == 0) {
    eta = waiting_phrase(c);
  } else if (c.waiting > 0) {
    eta = "ETA " + format_eta(moving, per_second) + ", then " + waiting_phrase(c);
  } else {
    eta = "ETA " + format_eta(queued, per_second);
  }
  return progress_bar(done, empty ? 1 : c.total, bar_width) + counts + waiting + " | " +
         to_string(status) + " | " + format_rate(per_second) + " | " + eta;
}

void RateMeter::add(std::int64_t at_ms, std::int64_t finished) {
  samples_.emplace_back(at_ms, finished);
  // Keep the newest sample at or before the window's start, so the rate
  // always spans the whole window once there is one.
  while (samples_.size() > 2 && samples_[1].first <= at_ms - window_ms_) samples_.pop_front();
}

double RateMeter::per_second() const {
  if (samples_.size() < 2) return 0;
  const auto& [t0, n0] = samples_.front();
  const auto& [t1, n1] = samples_.back();
  if (t1 <= t0 || n1 <= n0) return 0;
  return static_cast<double>(n1 - n0) * 1000.0 / static_cast<double>(t1 - t0);
}

}  // namespace sc
