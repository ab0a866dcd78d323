#include "sc/core/throttled_log.h"

#include <chrono>
#include <cstdio>

namespace sc {
namespace {
// Kinds remembered at once: a message that varies per call (an id in it)
// must not grow the map without end. Past this, kinds that have been quiet
// for an interval are forgotten, and if none has, new kinds share one entry.
constexpr std::size_t kMaxKinds = 256;
const std::string kOverflowKind = "\x01other";
}  // namespace

std::int64_t ThrottledLog::steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ThrottledLog::write_to_stderr(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

ThrottledLog::ThrottledLog(std::int64_t interval_ms, NowMs now_ms, Sink sink)
    : interval_ms_(interval_ms), now_ms_(std::move(now_ms)), sink_(std::move(sink)) {}

void ThrottledLog::forget_quiet_kinds(std::int64_t now) {
  for (auto it = kinds_.begin(); it != kinds_.end();) {
    if (it->second.left_out == 0 && now - it->second.written_ms >= interval_ms_)
      it = kinds_.erase(it);
    else
      ++it;
  }
}

void ThrottledLog::log(const std::string& kind, const std::string& line) {
  std::lock_guard lk(mu_);
  const auto now = now_ms_();
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) {
    if (kinds_.size() >= kMaxKinds) forget_quiet_kinds(now);
    const auto& key = kinds_.size() >= kMaxKinds ? kOverflowKind : kind;
    auto [added, fresh] = kinds_.try_emplace(key);
    it = added;
    if (fresh) {
      it->second.written_ms = now;
      sink_(line);
      return;
    }
  }
  auto& k = it->second;
  const auto elapsed = now - k.written_ms;
  if (elapsed < interval_ms_) {
    ++k.left_out;
    return;
  }
  if (k.left_out == 0) {
    sink_(line);
  } else {
    sink_(line + " (" + std::to_string(k.left_out) + " more in the last " +
          std::to_string(elapsed / 1000) + " s)");
  }
  k.written_ms = now;
  k.left_out = 0;
}

}  // namespace sc
