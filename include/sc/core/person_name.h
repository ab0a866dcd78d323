// The rules for a person's name, which reaches messages sent to addresses
// whose owner has not confirmed anything yet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sc/core/result.h"

namespace sc {

inline constexpr std::size_t kMaxPersonNameLength = 100;  // code points

// Where a code point stands in a name: a letter (Unicode L*), a combining
// mark (Mn, Mc), or nothing a name holds. From a table generated from ICU
// (scripts/gen_name_chars.cpp), so core needs no library.
enum class NameCharClass : std::uint8_t { kOther = 0, kLetter = 1, kMark = 2 };
NameCharClass name_char_class(char32_t cp);

// A name is letters of any script, combining marks on them, spaces,
// apostrophes, hyphens and periods, at most kMaxPersonNameLength code points.
// Digits of any script (Nd), symbols, emoji, other punctuation, controls
// and anything that reads as a web or e-mail address ("evil.example",
// "www.") are refused. Returns the name without surrounding spaces, or an
// error with field `field`.
Result<std::string> check_person_name(std::string_view raw, const std::string& field);

// The same rules as a yes/no, for names stored before they applied.
bool is_acceptable_person_name(std::string_view name);

}  // namespace sc
