#include "sc/core/outbox.h"

#include <algorithm>

namespace sc {

const char* to_string(OutboxLane lane) {
  return lane == OutboxLane::kBulk ? "bulk" : "transactional";
}

bool may_send(const LeasedMessage& m) {
  const auto& s = m.channel_state;
  if (s == ConsentState::kUnsubscribed || s == ConsentState::kUndeliverable) return false;
  return m.message.broadcast_id == 0 || s == ConsentState::kConfirmed;
}

std::vector<ClaimedMessage> claim_due(OutboxStore& store, std::int64_t now, ClaimLimits limits,
                                      std::int64_t lease_until) {
  std::vector<ClaimedMessage> out;
  std::vector<std::int64_t> skip;
  int total = limits.total;
  int left[2] = {limits.email, limits.sms};  // what each kind's provider may take
  auto take = [&](OutboxLane lane, OutboxKind kind, int limit) {
    const auto state = lane == OutboxLane::kBulk ? LeaseState::kClaimed : LeaseState::kHandedOver;
    auto got = store.lease_due(lane, kind, limit, now, lease_until, state);
    // A store may return them in any order; send the oldest due first.
    std::sort(got.begin(), got.end(), [](const LeasedMessage& a, const LeasedMessage& b) {
      return a.due != b.due ? a.due < b.due : a.message.id < b.message.id;
    });
    for (auto& m : got) {
      total -= 1;  // a skipped one counts too: the limit bounds the writer's work
      if (!may_send(m)) {
        skip.push_back(m.message.id);
        continue;
      }
      left[kind == OutboxKind::kEmail ? 0 : 1] -= 1;
      out.push_back(std::move(m.message));
    }
  };
  for (auto lane : {OutboxLane::kTransactional, OutboxLane::kBulk}) {
    const int share = (total + 1) / 2;
    for (bool fill : {false, true}) {
      for (auto kind : {OutboxKind::kEmail, OutboxKind::kSms}) {
        int limit = std::min(total, left[kind == OutboxKind::kEmail ? 0 : 1]);
        if (!fill) limit = std::min(limit, share);
        if (limit > 0) take(lane, kind, limit);
      }
    }
  }
  if (!skip.empty()) store.skip(skip, now);
  return out;
}

}  // namespace sc
