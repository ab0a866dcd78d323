// Quiet hours: when a marketing text may reach a number, at the called
// party's location (47 CFR 64.1200(c)(1): not before 08:00 or after 21:00;
// some states are stricter, so the window is configurable). The location is
// inferred from the number: the area code for NANP (+1), the country
// otherwise; when a number may be in several zones, every one must allow it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sc {

// Texting allowed in [start, end) local time, in minutes after midnight
// (0..1440). start > end wraps past midnight; start == end allows all day.
struct QuietHours {
  int start_minute = 8 * 60;
  int end_minute = 21 * 60;
};

// IANA zones a number may be in (US/Canada by area code; the country's zones
// otherwise); never empty for a valid E.164 number (fallback: all zones of the
// country). An area code missing from the table (a new overlay) gets every
// zone of the 50 states. Empty for what is not "+" and 7 to 15 digits, and
// for calling codes without a place (international freephone, satellite).
std::vector<std::string> time_zones_for_number(std::string_view e164);

// 0 when texting `e164` is allowed at `now_unix` in every zone the number may
// be in (strictest zone when unsure); otherwise the earliest unix time at
// which it is allowed in all of them. Daylight saving time is ICU's. If no
// instant in the next 8 days suits every zone (the zones span more hours than
// the window is long), the earliest instant allowed in the first zone listed.
// A number with no zones is never held (it cannot be texted anyway).
std::int64_t quiet_hours_wait_until(std::string_view e164, std::int64_t now_unix,
                                    const QuietHours& window);

}  // namespace sc
