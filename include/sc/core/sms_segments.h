// How many SMS segments a text costs (GSM 03.38 / 3GPP TS 23.038 and
// TS 23.040 concatenation), and the opt-out footer every marketing text needs.
#pragma once
#include <string>
#include <string_view>

namespace sc {

// units: septets (GSM-7) or UTF-16 code units (UCS-2).
struct SmsSegments {
  bool gsm7 = true;
  int units = 0;
  int segments = 0;
};

// GSM-7 when every character is in the default alphabet or its extension
// table (an extension character costs 2 septets), UCS-2 otherwise. One
// segment holds 160 septets / 70 units; a longer text is split into parts of
// 153 / 67 (the rest is the concatenation header), and neither an escaped
// extension character nor a surrogate pair is ever split across parts.
// Invalid UTF-8 counts as U+FFFD (UCS-2). An empty text is 0 segments.
SmsSegments count_sms_segments(std::string_view utf8);

// Appends "\nReply STOP to opt out" unless the text already names STOP as a
// word, in any case ("Reply stop to cancel" does; "unstoppable" does not).
std::string with_opt_out_footer(std::string_view text);

}  // namespace sc
