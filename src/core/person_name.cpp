#include "sc/core/person_name.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "sc/core/text.h"

namespace sc {
namespace {

struct Range {
  char32_t first;
  char32_t last;
  std::uint8_t cls;
};

constexpr Range kRanges[] = {
#include "name_chars_table.inc"
};

static_assert(std::is_sorted(std::begin(kRanges), std::end(kRanges),
                             [](const Range& a, const Range& b) { return a.last < b.first; }));

char32_t decode(std::string_view s, std::size_t i, std::size_t len) {
  auto c = static_cast<unsigned char>(s[i]);
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return cp;
}

constexpr char32_t kRightSingleQuote = 0x2019;  // the apostrophe most keyboards type: O’Brien
constexpr char32_t kHyphenChar = 0x2010;
constexpr char32_t kZwnj = 0x200C;  // Persian and Indic spellings need the joiners
constexpr char32_t kZwj = 0x200D;
// Marks per letter: Vietnamese, Thai and Devanagari need two or three;
// "Zalgo" text stacks dozens to spill over the lines around it.
constexpr int kMaxMarksPerLetter = 4;

enum class Kind { kLetter, kMark, kSpace, kApostrophe, kHyphen, kPeriod, kJoiner, kOther };

Kind kind_of(char32_t cp) {
  if (cp == ' ') return Kind::kSpace;
  if (cp == '\'' || cp == kRightSingleQuote) return Kind::kApostrophe;
  if (cp == '-' || cp == kHyphenChar) return Kind::kHyphen;
  if (cp == '.') return Kind::kPeriod;
  if (cp == kZwnj || cp == kZwj) return Kind::kJoiner;
  // Mathematical alphanumerics are letters to Unicode but are only ever
  // typed to dress text up or slip past filters ("𝐑𝐞𝐟𝐮𝐧𝐝"); no name is spelt in them.
  if (cp >= 0x1D400 && cp <= 0x1D7FF) return Kind::kOther;
  switch (name_char_class(cp)) {
    case NameCharClass::kLetter:
      return Kind::kLetter;
    case NameCharClass::kMark:
      return Kind::kMark;
    case NameCharClass::kOther:
      break;
  }
  return Kind::kOther;
}

bool is_word(Kind k) { return k == Kind::kLetter || k == Kind::kMark; }

Error refuse(const std::string& field, std::string message) {
  return invalid("invalid_" + field, std::move(message), field);
}

}  // namespace

NameCharClass name_char_class(char32_t cp) {
  auto it = std::lower_bound(std::begin(kRanges), std::end(kRanges), cp,
                             [](const Range& r, char32_t c) { return r.last < c; });
  if (it == std::end(kRanges) || cp < it->first) return NameCharClass::kOther;
  return static_cast<NameCharClass>(it->cls);
}

Result<std::string> check_person_name(std::string_view raw, const std::string& field) {
  if (raw.size() > 4 * kMaxPersonNameLength + 64) return refuse(field, field + " is too long");
  if (!text::is_valid_utf8(raw)) return refuse(field, field + " is not valid UTF-8");
  const auto t = text::trim(raw);
  if (text::utf8_length(t) > kMaxPersonNameLength) {
    return refuse(
        field, field + " is longer than " + std::to_string(kMaxPersonNameLength) + " characters");
  }
  std::vector<Kind> kinds;
  kinds.reserve(t.size());
  for (std::size_t i = 0; i < t.size();) {
    const auto len = text::utf8_sequence_length(t, i);
    kinds.push_back(kind_of(decode(t, i, len)));
    i += len;
  }
  if (std::find(kinds.begin(), kinds.end(), Kind::kLetter) == kinds.end() && !kinds.empty()) {
    return refuse(field, field + " has no letters");
  }
  int marks = 0;
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    const Kind prev = k > 0 ? kinds[k - 1] : Kind::kSpace;
    const Kind next = k + 1 < kinds.size() ? kinds[k + 1] : Kind::kSpace;
    switch (kinds[k]) {
      case Kind::kOther:
        return refuse(field,
                      field + " may hold only letters, spaces, apostrophes, hyphens and periods");
      case Kind::kMark:
        // A mark belongs on a letter, and only a few of them.
        if (!is_word(prev) || ++marks > kMaxMarksPerLetter) {
          return refuse(field, field + " has combining marks that belong to no letter");
        }
        continue;
      case Kind::kJoiner:
        if (!is_word(prev) || !is_word(next)) {
          return refuse(field,
                        field + " may hold only letters, spaces, apostrophes, hyphens and periods");
        }
        break;
      case Kind::kPeriod: {
        // "J.R.R. Tolkien", "St. John", "Jr." — but a period right before
        // two or more letters is a host name: "evil.example", "www.x", "bit.ly".
        std::size_t run = 0;
        for (std::size_t j = k + 1; j < kinds.size() && is_word(kinds[j]); ++j) {
          if (kinds[j] == Kind::kLetter) ++run;
        }
        if (run >= 2) return refuse(field, field + " must not look like a web or e-mail address");
        break;
      }
      default:
        break;
    }
    marks = 0;
  }
  // "www." on its own is no host name yet, but it is no part of a name either.
  const auto lower = text::to_lower_ascii(t);
  for (std::size_t p = lower.find("www."); p != std::string::npos; p = lower.find("www.", p + 1)) {
    if (p == 0 || lower[p - 1] == ' ') {
      return refuse(field, field + " must not look like a web or e-mail address");
    }
  }
  return std::string(t);
}

bool is_acceptable_person_name(std::string_view name) {
  static const std::string kField = "first_name";
  return check_person_name(name, kField).ok();
}

}  // namespace sc
