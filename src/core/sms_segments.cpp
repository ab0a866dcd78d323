#include "sc/core/sms_segments.h"

#include "sc/core/text.h"

namespace sc {
namespace {

constexpr int kSingleGsm7 = 160;
constexpr int kPartGsm7 = 153;
constexpr int kSingleUcs2 = 70;
constexpr int kPartUcs2 = 67;
constexpr char32_t kReplacement = 0xFFFD;

// The GSM 03.38 default alphabet outside ASCII letters and digits, as
// Unicode code points (the ASCII punctuation it lacks is listed in
// gsm7_septets below).
constexpr char32_t kGsmBasicNonAscii[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7,  // £ ¥ è é ù ì ò Ç
    0x00D8, 0x00F8, 0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B,  // Ø ø Å å Δ Φ Γ Λ
    0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0x00C6, 0x00E6,  // Ω Π Ψ Σ Θ Ξ Æ æ
    0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC,  // ß É ¤ ¡ Ä Ö Ñ Ü
    0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,          // § ¿ ä ö ñ ü à
};
// The extension table (escape + one septet): form feed ^ { } \ [ ~ ] | €.
constexpr char32_t kGsmExtension[] = {0x000C, '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC};

// Septets for a code point in GSM-7, or 0 when it has none.
int gsm7_septets(char32_t c) {
  if (c < 0x80) {
    if (c == '\n' || c == '\r') return 1;
    if (c < 0x20 && c != 0x0C) return 0;
    // ASCII printable characters missing from the default alphabet: ` and
    // DEL; the extension characters cost 2.
    if (c == '`' || c == 0x7F) return 0;
  }
  for (auto e : kGsmExtension) {
    if (e == c) return 2;
  }
  if (c < 0x80) return 1;
  for (auto b : kGsmBasicNonAscii) {
    if (b == c) return 1;
  }
  return 0;
}

// Decodes UTF-8 to code points; an ill-formed byte becomes U+FFFD.
template <typename F>
void for_each_code_point(std::string_view s, F&& f) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = text::utf8_sequence_length(s, i);
    if (n == 0) {
      f(kReplacement);
      ++i;
      continue;
    }
    const auto b0 = static_cast<unsigned char>(s[i]);
    char32_t c = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
    for (std::size_t k = 1; k < n; ++k) {
      c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    }
    f(c);
    i += n;
  }
}

// Total units and parts when characters of the given costs are packed into
// parts of `part` units without splitting one.
struct Packer {
  int part;
  int units = 0;
  int parts = 1;
  int fill = 0;
  void add(int cost) {
    units += cost;
    if (fill + cost > part) {
      ++parts;
      fill = 0;
    }
    fill += cost;
  }
};

bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' ||
         u >= 0x80;
}

bool names_stop_word(std::string_view t) {
  for (std::size_t i = 0; i + 4 <= t.size(); ++i) {
    if (!text::iequals_ascii(t.substr(i, 4), "stop")) continue;
    const bool left = i == 0 || !is_word_byte(t[i - 1]);
    const bool right = i + 4 == t.size() || !is_word_byte(t[i + 4]);
    if (left && right) return true;
  }
  return false;
}

}  // namespace

SmsSegments count_sms_segments(std::string_view utf8) {
  bool gsm7 = true;
  for_each_code_point(utf8, [&](char32_t c) {
    if (gsm7 && gsm7_septets(c) == 0) gsm7 = false;
  });
  Packer p{gsm7 ? kPartGsm7 : kPartUcs2};
  for_each_code_point(utf8,
                      [&](char32_t c) { p.add(gsm7 ? gsm7_septets(c) : (c > 0xFFFF ? 2 : 1)); });
  SmsSegments r;
  r.gsm7 = gsm7;
  r.units = p.units;
  const int single = gsm7 ? kSingleGsm7 : kSingleUcs2;
  r.segments = p.units == 0 ? 0 : p.units <= single ? 1 : p.parts;
  return r;
}

std::string with_opt_out_footer(std::string_view t) {
  std::string out(t);
  if (!names_stop_word(t)) out += "\nReply STOP to opt out";
  return out;
}

}  // namespace sc
