#include "sc/dispatch/token_bucket.h"

#include <limits>
#include <stdexcept>

namespace sc {

void TokenBucket::give_back(std::int64_t now_ms) {
  while (!taken_.empty() && taken_.front().first + 1000 <= now_ms) {
    in_use_ -= taken_.front().second;
    taken_.pop_front();
  }
}

int TokenBucket::available(std::int64_t now_ms) {
  if (unlimited()) return std::numeric_limits<int>::max();
  give_back(now_ms);
  return rate_ - in_use_;
}

void TokenBucket::take(std::int64_t now_ms, int n) {
  if (unlimited() || n <= 0) return;
  if (n > available(now_ms)) throw std::logic_error("TokenBucket: took more tokens than available");
  in_use_ += n;
  if (!taken_.empty() && taken_.back().first == now_ms) {
    taken_.back().second += n;  // one entry per millisecond, not per message
  } else {
    taken_.emplace_back(now_ms, n);
  }
}

std::int64_t TokenBucket::next_available_ms(std::int64_t now_ms) {
  if (available(now_ms) > 0) return now_ms;
  return taken_.front().first + 1000;
}

}  // namespace sc
