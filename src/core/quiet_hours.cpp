#include "sc/core/quiet_hours.h"

#include <unicode/basictz.h>
#include <unicode/timezone.h>
#include <unicode/tztrans.h>

#include <algorithm>
#include <map>
#include <memory>

namespace sc {
namespace {

struct ZoneRow {
  std::string_view prefix;
  std::string_view zones;
};

constexpr ZoneRow kZones[] = {
#include "time_zones_table.inc"
};

// Where a NANP area code is not in the table (an overlay newer than the data,
// a code we cannot place), the number may be anywhere in the 50 states: these
// zones cover every offset they use. US territories across the Pacific are left
// out on purpose: with Guam in the set no hour of the day would be allowed.
constexpr std::string_view kUsFallback =
    "America/New_York America/Chicago America/Denver America/Phoenix America/Los_Angeles "
    "America/Anchorage America/Adak Pacific/Honolulu";

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kHorizon = 8 * kDay;

std::vector<std::string> split(std::string_view zones) {
  std::vector<std::string> out;
  while (!zones.empty()) {
    const auto sp = zones.find(' ');
    out.emplace_back(zones.substr(0, sp));
    if (sp == std::string_view::npos) break;
    zones.remove_prefix(sp + 1);
  }
  return out;
}

const ZoneRow* find_row(std::string_view prefix) {
  const auto* it =
      std::lower_bound(std::begin(kZones), std::end(kZones), prefix,
                       [](const ZoneRow& r, std::string_view p) { return r.prefix < p; });
  return it != std::end(kZones) && it->prefix == prefix ? it : nullptr;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t m) { return ((a % m) + m) % m; }

// ICU zones are costly to build; each thread keeps those it has used. An id
// ICU does not know is kept as null and skipped.
const icu::BasicTimeZone* zone(const std::string& id) {
  thread_local std::map<std::string, std::unique_ptr<icu::TimeZone>> cache;
  auto it = cache.find(id);
  if (it == cache.end()) {
    std::unique_ptr<icu::TimeZone> tz(
        icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(id)));
    icu::UnicodeString got;
    if (tz->getID(got) == UNICODE_STRING_SIMPLE("Etc/Unknown")) tz.reset();
    it = cache.emplace(id, std::move(tz)).first;
  }
  return dynamic_cast<const icu::BasicTimeZone*>(it->second.get());
}

struct Window {
  std::int64_t start;  // seconds after local midnight
  std::int64_t end;
  bool contains(std::int64_t second_of_day) const {
    if (start == end) return true;
    if (start < end) return second_of_day >= start && second_of_day < end;
    return second_of_day >= start || second_of_day < end;
  }
};

// The earliest instant >= t at which the zone's local time is in the window.
// Between two transitions the offset is fixed, so the answer is either t, the
// next local `start`, or a transition that jumps into the window.
std::int64_t next_allowed(const icu::BasicTimeZone& tz, std::int64_t t, const Window& w) {
  for (int guard = 0; guard < 64; ++guard) {
    std::int32_t raw = 0;
    std::int32_t dst = 0;
    UErrorCode ec = U_ZERO_ERROR;
    tz.getOffset(static_cast<UDate>(t) * 1000.0, false, raw, dst, ec);
    if (U_FAILURE(ec)) return t;
    const std::int64_t sod = floor_mod(t + (raw + dst) / 1000, kDay);
    if (w.contains(sod)) return t;
    const std::int64_t candidate = t + floor_mod(w.start - sod, kDay);
    icu::TimeZoneTransition tr;
    if (tz.getNextTransition(static_cast<UDate>(t) * 1000.0, false, tr)) {
      const auto at = static_cast<std::int64_t>(tr.getTime() / 1000.0);
      if (at > t && at <= candidate) {
        t = at;
        continue;
      }
    }
    return candidate;
  }
  return t;
}

}  // namespace

std::vector<std::string> time_zones_for_number(std::string_view e164) {
  if (e164.size() < 8 || e164.size() > 16 || e164[0] != '+') return {};
  const auto digits = e164.substr(1);
  for (char c : digits) {
    if (c < '0' || c > '9') return {};
  }
  if (digits[0] == '1') {
    const auto* row = find_row(digits.substr(0, 4));
    return split(row != nullptr ? row->zones : kUsFallback);
  }
  for (std::size_t n = 1; n <= 3; ++n) {
    if (const auto* row = find_row(digits.substr(0, n)); row != nullptr) return split(row->zones);
  }
  return {};
}

std::int64_t quiet_hours_wait_until(std::string_view e164, std::int64_t now_unix,
                                    const QuietHours& window) {
  const Window w{std::clamp(window.start_minute, 0, 1440) * std::int64_t{60},
                 std::clamp(window.end_minute, 0, 1440) * std::int64_t{60}};
  std::vector<const icu::BasicTimeZone*> zones;
  for (const auto& id : time_zones_for_number(e164)) {
    if (const auto* z = zone(id); z != nullptr) zones.push_back(z);
  }
  if (zones.empty()) return 0;
  // Each round moves t to the latest "next allowed" of the zones: nothing
  // earlier suits them all. When every zone allows t, t is the answer.
  std::int64_t t = now_unix;
  while (t - now_unix <= kHorizon) {
    std::int64_t next = t;
    for (const auto* z : zones) next = std::max(next, next_allowed(*z, t, w));
    if (next == t) return t == now_unix ? 0 : t;
    t = next;
  }
  const auto first = next_allowed(*zones.front(), now_unix, w);
  return first == now_unix ? 0 : first;
}

}  // namespace sc
