// TokenBucket: a provider's rate limit in messages per second, exact over any
// 1 s window. Each token comes back exactly 1000 ms after it was taken, so no
// window [t, t + 1000 ms) ever holds more than `rate` takes. (A bucket that
// refills continuously lets a full bucket plus a second's refill through in
// one window: up to twice the rate.) Time comes from the Clock port, in ms.
#pragma once
#include <cstdint>
#include <deque>
#include <utility>

namespace sc {

class TokenBucket {
 public:
  explicit TokenBucket(int rate_per_second = 0) : rate_(rate_per_second) {}
  bool unlimited() const { return rate_ <= 0; }
  int rate() const { return rate_; }
  // Tokens that may be taken at now_ms (a large number when unlimited).
  int available(std::int64_t now_ms);
  // Takes n tokens at now_ms; n must not exceed available(now_ms).
  void take(std::int64_t now_ms, int n);
  // The first time from now_ms on at which a token is available.
  std::int64_t next_available_ms(std::int64_t now_ms);

 private:
  void give_back(std::int64_t now_ms);
  int rate_;
  int in_use_ = 0;
  std::deque<std::pair<std::int64_t, int>> taken_;  // (ms, tokens), oldest first
};

}  // namespace sc
