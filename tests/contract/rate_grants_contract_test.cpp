// A provider's rate across instances (sc/core/rate_grants.h) on every
// backend: a slot never grants more than its budget, also when several
// instances (writers of their own) ask at once. The database's clock
// decides the slot (SQLite's and PostgreSQL's own; the memory backend's
// fake clock), so the cases group what was granted by the slot each grant
// reports rather than by the time they asked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "contract/backends.h"
#include "sc/core/rate_grants.h"

namespace sc::contract {
namespace {

template <class B>
class RateGrantsContract : public Contract<B> {};
TYPED_TEST_SUITE(RateGrantsContract, Backends, BackendNames);

// Granted tokens by slot, checked against the budgets.
struct Ledger {
  std::mutex mu;
  std::map<std::int64_t, int> by_slot;
  int grants = 0;

  void add(const RateGrant& g, int want) {
    std::lock_guard lk(mu);
    EXPECT_GE(g.tokens, 0);
    EXPECT_LE(g.tokens, want) << "a grant gave more than it was asked for";
    EXPECT_GT(g.valid_ms, 0);
    EXPECT_LE(g.valid_ms, kRateSlotMs);
    by_slot[g.slot] += g.tokens;
    ++grants;
  }
  void expect_within(int rate) {
    std::map<std::int64_t, int> by_second;
    for (const auto& [slot, n] : by_slot) {
      EXPECT_LE(n, rate_slot_budget(rate, static_cast<int>(slot % kRateSlotsPerSecond)))
          << "slot " << slot << " granted " << n;
      by_second[slot / kRateSlotsPerSecond] += n;
    }
    for (const auto& [second, n] : by_second)
      EXPECT_LE(n, rate) << "second " << second << " granted " << n;
    // Any 11 slots in a row hold at most rate + one slice (any one-second interval).
    for (const auto& [slot, n] : by_slot) {
      int sum = 0;
      for (auto s = slot; s < slot + 11; ++s)
        if (auto it = by_slot.find(s); it != by_slot.end()) sum += it->second;
      EXPECT_LE(sum, rate + rate_slice(rate)) << "the 11 slots from " << slot;
    }
  }
};

TYPED_TEST(RateGrantsContract, ASlotNeverGrantsMoreThanItsBudget) {
  auto& grants = this->backend().rate_grants();
  const int rate = 95;  // slots of 9 or 10 tokens
  Ledger ledger;
  for (int i = 0; i < 60; ++i) {
    ledger.add(grants.grant("email:smtp", rate, 4), 4);
    this->db().clock().advance_ms(7);  // the memory backend's slots move on too
  }
  ledger.expect_within(rate);
}

// The limit is the rate, not less: the first grant of a slot gets all the
// slot holds when it asks for more, and a second one in the same slot gets
// none. (Decided by the slots the grants report, whatever the clock did.)
TYPED_TEST(RateGrantsContract, TheFirstGrantOfASlotGetsItsWholeBudget) {
  auto& grants = this->backend().rate_grants();
  const int rate = 95;
  auto budget = [&](const RateGrant& g) {
    return rate_slot_budget(rate, static_cast<int>(g.slot % kRateSlotsPerSecond));
  };
  const auto first = grants.grant("email:smtp", rate, 1000);
  EXPECT_EQ(first.tokens, budget(first));
  const auto second = grants.grant("email:smtp", rate, 1000);
  EXPECT_EQ(second.tokens, second.slot == first.slot ? 0 : budget(second));
}

TYPED_TEST(RateGrantsContract, EachProviderHasItsOwnBudgetAndNoRateGrantsNothing) {
  auto& grants = this->backend().rate_grants();
  // A rate of 10 puts one token in each slot: a second grant in the same
  // slot gets none, one for another provider gets its own.
  const auto a = grants.grant("sms:twilio", 10, 5);
  const auto b = grants.grant("email:smtp", 10, 5);
  const auto c = grants.grant("sms:twilio", 10, 5);
  EXPECT_EQ(a.tokens, 1);
  EXPECT_EQ(b.tokens, 1);
  EXPECT_EQ(c.tokens, c.slot == a.slot ? 0 : 1);
  EXPECT_EQ(grants.grant("sms:twilio", 0, 5).tokens, 0);
  EXPECT_EQ(grants.grant("email:ses", 10, 0).tokens, 0);
}

// Four instances, each with its own writer, ask as fast as they can for
// about a second: together they never get more than the slots hold.
TYPED_TEST(RateGrantsContract, ConcurrentInstancesNeverGetMoreThanTheRate) {
  const int rate = 200;  // 20 a slot
  const int want = 3;
  std::vector<std::unique_ptr<Instance>> instances;
  for (int i = 0; i < 4; ++i) instances.push_back(this->backend().another_instance());
  Ledger ledger;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
  for (auto& inst : instances) {
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, g = &inst->rate_grants()] {
        try {
          while (std::chrono::steady_clock::now() < until)
            ledger.add(g->grant("email:x", rate, want), want);
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          failed = true;
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed);
  ledger.expect_within(rate);
  int total = 0;
  for (const auto& [slot, n] : ledger.by_slot) total += n;
  EXPECT_GT(total, 0);
  std::printf("%d grants, %d tokens over %zu slots\n", ledger.grants, total, ledger.by_slot.size());
}

}  // namespace
}  // namespace sc::contract
