// RateGrants: a provider's rate limit held across every instance that
// shares one database. The database hands out the provider's tokens in
// slots of kRateSlotMs on its own clock: the j-th slot of each second
// (j = 0..9) holds rate_slot_budget(rate, j) tokens, which sum to exactly
// `rate` over the second, each at most one slice (rate_slice(rate)). An
// instance asks for a slice when it runs out, spends it with its own pacing
// (TokenBucket), and drops what is left when the slot ends.
//
// The bound: a one-second interval overlaps at most 11 slots, so N
// instances together hand the provider at most rate + rate_slice(rate)
// messages in any one second, and exactly at most `rate` in each second of
// the database's clock. Tokens granted to an instance that dies are lost
// for their slot only (at most one slice, for at most 100 ms).
#pragma once
#include <cstdint>
#include <string>

namespace sc {

inline constexpr std::int64_t kRateSlotMs = 100;
inline constexpr int kRateSlotsPerSecond = 10;

// Tokens of slot j (0..9) of a second: floor(rate (j+1) / 10) - floor(rate j / 10).
constexpr int rate_slot_budget(int rate, int j) {
  return rate * (j + 1) / kRateSlotsPerSecond - rate * j / kRateSlotsPerSecond;
}
// The most one slot holds: ceil(rate / 10), at least 1 for any rate > 0.
constexpr int rate_slice(int rate) {
  return rate <= 0 ? 0 : (rate + kRateSlotsPerSecond - 1) / kRateSlotsPerSecond;
}

// What one grant gave: `tokens` (0..want), to be spent within `valid_ms`
// from when the request was made (the rest of the slot on the database's
// clock; measured from before the request, it never reaches past the
// slot's end whatever the offset between the two clocks).
struct RateGrant {
  int tokens = 0;
  std::int64_t valid_ms = 0;
  std::int64_t slot = 0;  // the slot asked from: unix ms / kRateSlotMs on the database's clock
};

// Port: the database's ledger of grants. A grant is atomic across
// instances: concurrent grants never give more than the slot holds.
class RateGrants {
 public:
  virtual ~RateGrants() = default;
  // Up to `want` tokens of the current slot of `provider`, for a limit of
  // `rate_per_second` (> 0; none for 0).
  virtual RateGrant grant(const std::string& provider, int rate_per_second, int want) = 0;
};

}  // namespace sc
