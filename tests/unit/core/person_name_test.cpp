#include "sc/core/person_name.h"

#include <gtest/gtest.h>

#include <string>

#ifdef SC_HAVE_ICU
#include <unicode/uchar.h>
#endif

namespace sc {
namespace {

TEST(NameCharClass, LettersAndMarksOfManyScripts) {
  for (char32_t cp :
       {U'A', U'z', U'\u00e9', U'\u03a9', U'\u0436', U'\u05d0', U'\u0628', U'\u0915', U'\u0e01',
        U'\u3042', U'\u30ab', U'\u4e00', U'\uac00', U'\u02bc', U'\U00020000'}) {
    EXPECT_EQ(name_char_class(cp), NameCharClass::kLetter) << std::hex << static_cast<unsigned>(cp);
  }
  for (char32_t cp :
       {U'\u0301', U'\u0308', U'\u093e', U'\u094d', U'\u0e34', U'\u064e', U'\u05b4'}) {
    EXPECT_EQ(name_char_class(cp), NameCharClass::kMark) << std::hex << static_cast<unsigned>(cp);
  }
  // Digits of every script, symbols, punctuation, spaces, emoji, enclosing marks.
  for (char32_t cp :
       {U'0',      U'9',      U'\u0660',     U'\u06f5',     U'\u0966', U'\uff11', U'\U0001d7ce',
        U'$',      U'\u20ac', U'\u00a3',     U'@',          U'.',      U':',      U'/',
        U' ',      U'\u00a0', U'\U0001f600', U'\u2764',     U'\u2122', U'\u20dd', U'\u2167',
        U'\u00bd', U'\uff0e', U'\u3002',     U'\U0010ffff', U'\0'}) {
    EXPECT_EQ(name_char_class(cp), NameCharClass::kOther) << std::hex << static_cast<unsigned>(cp);
  }
}

TEST(PersonName, TrimsAndNamesTheField) {
  auto ok = check_person_name("  Ann Lee  ", "first_name");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "Ann Lee");
  auto bad = check_person_name("Ann\xef\xbc\x91", "last_name");  // fullwidth 1
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "last_name");
  EXPECT_EQ(bad.error().code, "invalid_last_name");
  EXPECT_TRUE(is_acceptable_person_name("Ann"));
  EXPECT_TRUE(is_acceptable_person_name(""));
  EXPECT_FALSE(is_acceptable_person_name("call 555"));
}

TEST(PersonName, LengthIsCountedInCodePoints) {
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "\xd0\x96";  // Ж, two bytes
  EXPECT_TRUE(is_acceptable_person_name(hundred));
  EXPECT_FALSE(is_acceptable_person_name(hundred + "\xd0\x96"));
}

#ifdef SC_HAVE_ICU
// The table is generated from ICU (scripts/gen_name_chars.cpp); after an ICU
// upgrade this fails until the table is generated again.
TEST(NameCharClass, TableMatchesIcuForEveryCodePoint) {
  int mismatches = 0;
  for (UChar32 c = 0; c <= 0x10FFFF; ++c) {
    NameCharClass want = NameCharClass::kOther;
    switch (u_charType(c)) {
      case U_UPPERCASE_LETTER:
      case U_LOWERCASE_LETTER:
      case U_TITLECASE_LETTER:
      case U_MODIFIER_LETTER:
      case U_OTHER_LETTER:
        want = NameCharClass::kLetter;
        break;
      case U_NON_SPACING_MARK:
      case U_COMBINING_SPACING_MARK:
        want = NameCharClass::kMark;
        break;
      default:
        break;
    }
    if (name_char_class(static_cast<char32_t>(c)) != want && ++mismatches <= 5) {
      ADD_FAILURE() << "U+" << std::hex << c << " differs from ICU " << U_ICU_VERSION;
    }
  }
  EXPECT_EQ(mismatches, 0);
}
#endif

}  // namespace
}  // namespace sc
