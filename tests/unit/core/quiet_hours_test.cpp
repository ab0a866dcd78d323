#include "sc/core/quiet_hours.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#ifdef SC_HAVE_ICU
#include <unicode/timezone.h>
#endif

namespace sc {
namespace {

// Unix time of a UTC calendar instant (H. Hinnant's days-from-civil).
std::int64_t utc(int y, int m, int d, int hh, int mm, int ss = 0) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
}

bool has_zone(const std::vector<std::string>& zones, const char* z) {
  return std::find(zones.begin(), zones.end(), z) != zones.end();
}

constexpr QuietHours kFederal{};  // 08:00-21:00

TEST(QuietHours, NewYorkInJanuary) {
  const char* ny = "+12125550123";
  EXPECT_EQ(time_zones_for_number(ny), std::vector<std::string>{"America/New_York"});
  // 12:59 UTC is 07:59 EST: wait for 08:00 EST.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 12, 59), kFederal),
            utc(2026, 1, 15, 13, 0));
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 13, 0), kFederal), 0);
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 16, 1, 59, 59), kFederal), 0);  // 20:59:59
  // 21:00 EST: the next morning.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 16, 2, 0), kFederal), utc(2026, 1, 16, 13, 0));
  // Mid-minute: waits to the exact instant.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 12, 59, 30), kFederal),
            utc(2026, 1, 15, 13, 0));
}

TEST(QuietHours, LosAngelesWinterAndSummer) {
  const char* la = "+13105550123";
  EXPECT_EQ(time_zones_for_number(la), std::vector<std::string>{"America/Los_Angeles"});
  EXPECT_EQ(quiet_hours_wait_until(la, utc(2026, 1, 15, 15, 59), kFederal),
            utc(2026, 1, 15, 16, 0));  // PST, UTC-8
  EXPECT_EQ(quiet_hours_wait_until(la, utc(2026, 7, 15, 14, 59), kFederal),
            utc(2026, 7, 15, 15, 0));  // PDT, UTC-7
  EXPECT_EQ(quiet_hours_wait_until(la, utc(2026, 7, 15, 15, 0), kFederal), 0);
  // 20:30 PDT: allowed in LA even though New York is past 21:00.
  EXPECT_EQ(quiet_hours_wait_until(la, utc(2026, 7, 16, 3, 30), kFederal), 0);
}

TEST(QuietHours, AnAreaCodeInTwoZonesWaitsForTheStricter) {
  const char* ky = "+12705550123";  // western Kentucky: Eastern and Central
  const auto zones = time_zones_for_number(ky);
  EXPECT_TRUE(has_zone(zones, "America/New_York"));
  EXPECT_TRUE(has_zone(zones, "America/Chicago"));
  // 08:30 Eastern is 07:30 Central: wait for 08:00 Central.
  EXPECT_EQ(quiet_hours_wait_until(ky, utc(2026, 1, 15, 13, 30), kFederal),
            utc(2026, 1, 15, 14, 0));
  // 20:30 Eastern / 19:30 Central: allowed; 21:00 Eastern: the next 08:00 Central.
  EXPECT_EQ(quiet_hours_wait_until(ky, utc(2026, 1, 16, 1, 30), kFederal), 0);
  EXPECT_EQ(quiet_hours_wait_until(ky, utc(2026, 1, 16, 2, 0), kFederal), utc(2026, 1, 16, 14, 0));
  // Idaho's 208 spans Pacific and Mountain.
  const auto idaho = time_zones_for_number("+12085550123");
  EXPECT_TRUE(has_zone(idaho, "America/Los_Angeles"));
  EXPECT_TRUE(has_zone(idaho, "America/Denver") || has_zone(idaho, "America/Boise"));
  EXPECT_EQ(quiet_hours_wait_until("+12085550123", utc(2026, 1, 15, 15, 30), kFederal),
            utc(2026, 1, 15, 16, 0));  // 08:30 MST is 07:30 PST
}

TEST(QuietHours, DaylightSavingChangeDays) {
  const char* ny = "+12125550123";
  // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT (07:00 UTC). 08:00 EDT
  // is 12:00 UTC, not the 13:00 a fixed EST offset would give.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 3, 8, 6, 0), kFederal), utc(2026, 3, 8, 12, 0));
  // 2026-11-01: back from 02:00 EDT to 01:00 EST (06:00 UTC); 08:00 EST is 13:00 UTC.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 11, 1, 5, 0), kFederal), utc(2026, 11, 1, 13, 0));
  // A window opening at 02:30, a local time that does not exist on the
  // spring-forward day: allowed from the jump to 03:00 EDT.
  const QuietHours from_0230{2 * 60 + 30, 21 * 60};
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 3, 8, 6, 0), from_0230), utc(2026, 3, 8, 7, 0));
  // 20:30 EDT on 2026-03-08 (00:30 UTC the 9th) is allowed; 21:00 EDT is not.
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 3, 9, 0, 30), kFederal), 0);
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 3, 9, 1, 0), kFederal), utc(2026, 3, 9, 12, 0));
}

TEST(QuietHours, ConfigurableWindow) {
  const char* ny = "+12125550123";
  const QuietHours strict{9 * 60, 20 * 60};  // e.g. Connecticut
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 13, 30), strict), utc(2026, 1, 15, 14, 0));
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 14, 0), strict), 0);
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 16, 0, 59), strict), 0);  // 19:59
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 16, 1, 0), strict), utc(2026, 1, 16, 14, 0));
  // A window across midnight (22:00-06:00) and one without quiet hours.
  const QuietHours night{22 * 60, 6 * 60};
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 10, 0), night), 0);  // 05:00
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 12, 0), night), utc(2026, 1, 16, 3, 0));
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 7, 0), QuietHours{0, 24 * 60}), 0);
  EXPECT_EQ(quiet_hours_wait_until(ny, utc(2026, 1, 15, 7, 0), QuietHours{600, 600}), 0);
}

TEST(QuietHours, OtherCountriesUseTheirOwnZones) {
  const char* uk = "+447700900123";
  EXPECT_TRUE(has_zone(time_zones_for_number(uk), "Europe/London"));
  EXPECT_EQ(quiet_hours_wait_until(uk, utc(2026, 1, 15, 7, 59), kFederal), utc(2026, 1, 15, 8, 0));
  EXPECT_EQ(quiet_hours_wait_until(uk, utc(2026, 7, 15, 6, 59), kFederal),
            utc(2026, 7, 15, 7, 0));  // BST
  EXPECT_EQ(time_zones_for_number("+33612345678"), std::vector<std::string>{"Europe/Paris"});
  EXPECT_EQ(quiet_hours_wait_until("+33612345678", utc(2026, 1, 15, 6, 59), kFederal),
            utc(2026, 1, 15, 7, 0));
  // A Canadian area code in the NANP table.
  EXPECT_EQ(time_zones_for_number("+16045550123"), std::vector<std::string>{"America/Vancouver"});
}

TEST(QuietHours, UnknownAreaCodeTakesEveryZoneOfTheStates) {
  for (const char* n : {"+12115550123", "+17295550123"}) {  // N11 never; 729 an overlay
    const auto zones = time_zones_for_number(n);
    EXPECT_TRUE(has_zone(zones, "America/New_York")) << n;
    EXPECT_TRUE(has_zone(zones, "America/Los_Angeles")) << n;
    EXPECT_TRUE(has_zone(zones, "Pacific/Honolulu")) << n;
    // 07:00 HST: wait for 08:00 in Honolulu; 21:00 EST closes the day.
    EXPECT_EQ(quiet_hours_wait_until(n, utc(2026, 1, 15, 17, 0), kFederal), utc(2026, 1, 15, 18, 0))
        << n;
    EXPECT_EQ(quiet_hours_wait_until(n, utc(2026, 1, 16, 1, 59), kFederal), 0) << n;
    EXPECT_EQ(quiet_hours_wait_until(n, utc(2026, 1, 16, 2, 0), kFederal), utc(2026, 1, 16, 18, 0))
        << n;
  }
}

TEST(QuietHours, NotANumberHasNoZonesAndIsNotHeld) {
  for (const char* n :
       {"", "12125550123", "+1", "+121255", "+1212555012x", "+1234567890123456", "+80012345678"}) {
    EXPECT_TRUE(time_zones_for_number(n).empty()) << n;
    EXPECT_EQ(quiet_hours_wait_until(n, utc(2026, 1, 15, 3, 0), kFederal), 0) << n;
  }
}

#ifdef SC_HAVE_ICU
// Every zone of the table is one ICU knows, and every place has hours in the
// federal window shared by all its zones: the answer is checked against
// ICU's offsets directly.
TEST(QuietHours, EveryPlaceInTheTableHasAFederalWindow) {
  const std::int64_t now = utc(2026, 1, 15, 3, 17);
  int places = 0;
  auto check = [&](const std::string& number) {
    const auto zones = time_zones_for_number(number);
    if (zones.empty()) return;
    ++places;
    auto t = quiet_hours_wait_until(number, now, kFederal);
    if (t == 0) t = now;
    EXPECT_LT(t - now, 2 * 86400) << number;
    for (const auto& id : zones) {
      std::unique_ptr<icu::TimeZone> tz(
          icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(id)));
      icu::UnicodeString got;
      std::string got_utf8;
      tz->getID(got).toUTF8String(got_utf8);
      EXPECT_NE(got_utf8, "Etc/Unknown") << id << " is not a zone this ICU knows";
      std::int32_t raw = 0, dst = 0;
      UErrorCode ec = U_ZERO_ERROR;
      tz->getOffset(static_cast<UDate>(t) * 1000.0, false, raw, dst, ec);
      const auto local_minute = (((t + (raw + dst) / 1000) % 86400) + 86400) % 86400 / 60;
      EXPECT_GE(local_minute, 8 * 60) << number << " " << id;
      EXPECT_LT(local_minute, 21 * 60) << number << " " << id;
    }
  };
  for (int npa = 200; npa <= 999; ++npa) check("+1" + std::to_string(npa) + "5550123");
  for (int cc = 2; cc <= 999; ++cc) check("+" + std::to_string(cc) + "12345678");
  EXPECT_GT(places, 600);
}
#endif

}  // namespace
}  // namespace sc
