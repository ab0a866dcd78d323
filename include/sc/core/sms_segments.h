// TEMPORARY local stub until the smstext branch lands (not committed).
#pragma once
#include <string>
#include <string_view>
namespace sc {
struct SmsSegments {
  bool gsm7 = true;
  int units = 0;
  int segments = 0;
};
inline SmsSegments count_sms_segments(std::string_view s) {
  return {true, int(s.size()), int(s.size() <= 160 ? 1 : (s.size() + 152) / 153)};
}
inline std::string with_opt_out_footer(std::string_view t) {
  return std::string(t) + "\nReply STOP to opt out";
}
}  // namespace sc
