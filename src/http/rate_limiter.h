// Internal to http: a token bucket per client IP for sign-ups, so one
// client cannot use the form to flood strangers' inboxes or run up texts.
#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sc::detail {

class RateLimiter {
 public:
  // burst: requests allowed at once; per_minute: the refill rate.
  RateLimiter(double burst, double per_minute) : burst_(burst), rate_(per_minute / 60.0) {}

  // Takes one token for key; false when the bucket is empty.
  bool allow(const std::string& key, std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    std::lock_guard lk(mu_);
    if (buckets_.size() > kMaxKeys) prune(now);
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
    auto& b = it->second;
    if (!fresh) {
      b.tokens = std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.at).count());
      b.at = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

 private:
  static constexpr std::size_t kMaxKeys = 100000;
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  // Buckets that have refilled completely carry no state worth keeping.
  void prune(std::chrono::steady_clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double t = it->second.tokens + rate_ * std::chrono::duration<double>(now - it->second.at).count();
      it = t >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  double burst_, rate_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sc::detail
