// Limits on confirmation texts against SMS pumping: scripts that type
// premium-rate numbers, or whole number ranges, into the sign-up form to
// earn from the texts sent to them (docs/operator-guide.md, SMS pumping). Each limit counts
// the confirmation texts queued in a sliding window, in the database, in
// the same transaction that would queue the next one, so a restart resets
// nothing and concurrent sign-ups cannot overshoot.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace sc {

class SmsConfirmLedger;  // sc/core/ports/stores.h

// Which limit refused a text (kNone: none did). The same values name what a
// confirmation text is counted under (SmsConfirmLedger::count_sms_confirms).
enum class SmsLimit { kNone, kClient, kNumber, kPrefix, kDaily };

// "ip", "number", "prefix", "daily" (the metric label); "" for kNone.
std::string_view to_string(SmsLimit limit);

struct SmsConfirmLimits {
  // Sliding windows. One hour for the client and the prefix: a client held
  // to the per-IP request limit (30, then 30 a minute) needs 33 minutes for
  // 1,000 sign-ups, all inside one window.
  static constexpr std::int64_t kClientWindow = 3600;
  static constexpr std::int64_t kNumberWindow = 86400;
  static constexpr std::int64_t kPrefixWindow = 3600;
  static constexpr std::int64_t kDailyWindow = 86400;
  static constexpr std::int64_t kLongestWindow = 86400;

  bool enabled = true;            // SC_SIGNUP_LIMITS=off lifts every limit
  std::int64_t per_client = 10;   // SC_SMS_CONFIRM_LIMIT_PER_IP, per hour (IPv6: per /64)
  std::int64_t per_number = 3;    // SC_SMS_CONFIRM_LIMIT_PER_NUMBER, per 24 hours
  std::int64_t per_prefix = 10;   // SC_SMS_CONFIRM_LIMIT_PER_PREFIX, per hour
  std::int64_t daily_cap = 1000;  // SC_SMS_CONFIRM_DAILY_CAP, per 24 hours
  // 0 lifts that one limit.
};

// What one confirmation text is counted under.
struct SmsConfirmKeys {
  std::string client;  // the client IP, or its /64 for IPv6; empty: not known (not limited)
  std::string number;  // E.164
  std::string prefix;  // number_prefix(number)
};

// The block of numbers a pumper walks through: the E.164 number without its
// last four digits ("+16502530000" -> "+1650253"). A number of four digits
// or fewer is its own prefix.
std::string number_prefix(std::string_view e164);

// The first limit that one more text under `keys` at `now` would exceed, or
// kNone (always kNone when the limits are off). Reads the counts through the
// ledger, inside the caller's transaction.
SmsLimit exceeded_sms_confirm_limit(SmsConfirmLedger& ledger, const SmsConfirmLimits& limits,
                                    const SmsConfirmKeys& keys, std::int64_t now);

}  // namespace sc
