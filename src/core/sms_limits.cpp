#include "sc/core/sms_limits.h"

#include "sc/core/ports/stores.h"

namespace sc {

std::string_view to_string(SmsLimit limit) {
  switch (limit) {
    case SmsLimit::kClient:
      return "ip";
    case SmsLimit::kNumber:
      return "number";
    case SmsLimit::kPrefix:
      return "prefix";
    case SmsLimit::kDaily:
      return "daily";
    case SmsLimit::kNone:
      break;
  }
  return "";
}

std::string number_prefix(std::string_view e164) {
  const std::size_t digits = e164.size() - (!e164.empty() && e164.front() == '+' ? 1 : 0);
  if (digits <= 4) return std::string(e164);
  return std::string(e164.substr(0, e164.size() - 4));
}

SmsLimit exceeded_sms_confirm_limit(SmsConfirmLedger& ledger, const SmsConfirmLimits& limits,
                                    const SmsConfirmKeys& keys, std::int64_t now) {
  if (!limits.enabled) return SmsLimit::kNone;
  struct Check {
    SmsLimit scope;
    std::int64_t limit;
    std::int64_t window;
    const std::string* key;
  };
  static const std::string kAll;
  const Check checks[] = {
      {SmsLimit::kClient, limits.per_client, SmsConfirmLimits::kClientWindow, &keys.client},
      {SmsLimit::kNumber, limits.per_number, SmsConfirmLimits::kNumberWindow, &keys.number},
      {SmsLimit::kPrefix, limits.per_prefix, SmsConfirmLimits::kPrefixWindow, &keys.prefix},
      {SmsLimit::kDaily, limits.daily_cap, SmsConfirmLimits::kDailyWindow, &kAll},
  };
  for (const auto& c : checks) {
    if (c.limit <= 0) continue;
    // A client we cannot name (no address) is not one client: the other limits still hold.
    if (c.scope != SmsLimit::kDaily && c.key->empty()) continue;
    if (ledger.count_sms_confirms(c.scope, *c.key, now - c.window) >= c.limit) return c.scope;
  }
  return SmsLimit::kNone;
}

}  // namespace sc
