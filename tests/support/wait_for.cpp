#include "support/wait_for.h"

#include <algorithm>
#include <thread>

namespace sc::testing {

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
              std::chrono::milliseconds max_poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto step = std::min(std::chrono::milliseconds(1), max_poll);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(step);
    step = std::min(step * 2, max_poll);
  }
}

}  // namespace sc::testing
