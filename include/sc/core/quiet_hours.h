// TEMPORARY local stub until the smstext branch lands (not committed).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
namespace sc {
struct QuietHours {
  int start_minute = 8 * 60;
  int end_minute = 21 * 60;
};
inline std::int64_t quiet_hours_wait_until(std::string_view, std::int64_t, const QuietHours&) {
  return 0;
}
}  // namespace sc
