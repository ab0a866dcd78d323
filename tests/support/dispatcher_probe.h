// DispatcherProbe: what tests and benchmarks read of a Dispatcher and
// production does not (production reads provider_states() and the outbox),
// kept out of the production header (a friend of Dispatcher).
#pragma once
#include <cstdint>
#include <vector>

#include "sc/dispatch/dispatcher.h"

namespace sc {

struct DispatcherProbe {
  // Outcomes the dispatcher recorded since it was made.
  struct Stats {
    std::uint64_t sent = 0, retried = 0;
    std::uint64_t failed = 0;  // failed for good, or unknown (never sent again)
  };
  static Stats stats(const Dispatcher& d) {
    return {d.sent_.load(), d.retried_.load(), d.failed_.load()};
  }

  // Answers per provider since start: [0] email, [1] texts.
  using ProviderCounters = Dispatcher::ProviderCounters;
  static std::vector<ProviderCounters> provider_counters(const Dispatcher& d) {
    return d.provider_counters();
  }
};

}  // namespace sc
