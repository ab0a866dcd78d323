#include "sc/core/sms_segments.h"

#include <gtest/gtest.h>

#include <string>

namespace sc {
namespace {

std::string rep(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Counts follow 3GPP TS 23.038/23.040 as Twilio's segment calculator applies
// them: 160/153 septets, 70/67 UCS-2 units, escapes and surrogate pairs never
// split.
TEST(SmsSegments, KnownCounts) {
  struct Case {
    std::string text;
    bool gsm7;
    int units;
    int segments;
  };
  const std::string euro = "\xE2\x82\xAC";       // € (extension table)
  const std::string emoji = "\xF0\x9F\x98\x80";  // 😀 U+1F600, a surrogate pair
  const std::string e_acute = "\xC3\xA9";        // é is in the default alphabet
  const std::string a_circ = "\xC3\xA2";         // â is not
  const std::string cjk = "\xE4\xB8\xAD";        // 中
  const Case cases[] = {
      {"", true, 0, 0},
      {"a", true, 1, 1},
      {rep("a", 160), true, 160, 1},
      {rep("a", 161), true, 161, 2},
      {rep("a", 306), true, 306, 2},
      {rep("a", 307), true, 307, 3},
      {rep("a", 459), true, 459, 3},
      {rep("a", 460), true, 460, 4},
      {euro, true, 2, 1},
      {"[", true, 2, 1},
      {"^{}\\[~]|", true, 16, 1},
      {rep("a", 158) + euro, true, 160, 1},
      {rep("a", 159) + euro, true, 161, 2},
      // 152 septets then an escape: it does not fit the first part's last
      // septet, so it opens the second part.
      {rep("a", 152) + euro + rep("a", 7), true, 161, 2},
      {rep("a", 152) + euro + rep("a", 152), true, 306, 3},
      {rep("a", 151) + euro + rep("a", 153), true, 306, 2},
      {"@\xC2\xA3$\xC2\xA5" + e_acute + "\n\r\xC3\x85\xCE\x94_\xCE\xA6 !\"#\xC2\xA4%&'()*+,-./",
       true, 27, 1},
      {"\xC2\xBF\xC3\xA0\xC3\xBC\xC2\xA7\xC3\x91", true, 5, 1},  // ¿àü§Ñ
      {rep(e_acute, 160), true, 160, 1},
      // Outside the alphabet: UCS-2.
      {a_circ, false, 1, 1},
      {"`", false, 1, 1},
      {"a\tb", false, 3, 1},
      {rep("a", 69) + emoji, false, 71, 2},
      {rep("a", 68) + emoji, false, 70, 1},
      {emoji, false, 2, 1},
      {rep("a", 159) + emoji, false, 161, 3},
      {rep(cjk, 70), false, 70, 1},
      {rep(cjk, 71), false, 71, 2},
      {rep(cjk, 134), false, 134, 2},
      {rep(cjk, 135), false, 135, 3},
      {rep(cjk, 201), false, 201, 3},
      {rep(cjk, 202), false, 202, 4},
      // A pair that would straddle the end of a 67-unit part moves whole.
      {rep(cjk, 66) + emoji + rep(cjk, 67), false, 135, 3},
      {rep(cjk, 65) + emoji + rep(cjk, 67), false, 134, 2},
      // Invalid UTF-8 is U+FFFD: UCS-2, one unit per bad byte.
      {"abc\xFF", false, 4, 1},
      {"\xC3", false, 1, 1},
      {"\xED\xA0\x80", false, 3, 1},  // an encoded surrogate is not UTF-8
  };
  for (const auto& c : cases) {
    const auto s = count_sms_segments(c.text);
    EXPECT_EQ(s.gsm7, c.gsm7) << "\"" << c.text << "\" (" << c.text.size() << " bytes)";
    EXPECT_EQ(s.units, c.units) << "\"" << c.text << "\" (" << c.text.size() << " bytes)";
    EXPECT_EQ(s.segments, c.segments) << "\"" << c.text << "\" (" << c.text.size() << " bytes)";
  }
}

TEST(SmsSegments, OptOutFooter) {
  EXPECT_EQ(with_opt_out_footer("Sale today"), "Sale today\nReply STOP to opt out");
  EXPECT_EQ(with_opt_out_footer(""), "\nReply STOP to opt out");
  EXPECT_EQ(with_opt_out_footer("Unstoppable deals"), "Unstoppable deals\nReply STOP to opt out");
  EXPECT_EQ(with_opt_out_footer("STOPS here"), "STOPS here\nReply STOP to opt out");
  EXPECT_EQ(with_opt_out_footer("non_stop"), "non_stop\nReply STOP to opt out");
  EXPECT_EQ(with_opt_out_footer("Caf\xC3\xA9stop"), "Caf\xC3\xA9stop\nReply STOP to opt out");
  for (const char* has : {"Sale. Reply STOP to cancel", "reply stop to end", "Text Stop.", "stop",
                          "(STOP)", "Txt STOP/HELP"}) {
    EXPECT_EQ(with_opt_out_footer(has), has) << has;
  }
  // The footer is GSM-7 and costs 22 septets.
  EXPECT_EQ(count_sms_segments(with_opt_out_footer(rep("a", 138))).segments, 1);
  EXPECT_EQ(count_sms_segments(with_opt_out_footer(rep("a", 139))).segments, 2);
}

}  // namespace
}  // namespace sc
