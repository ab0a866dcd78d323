#include "sc/core/tokens.h"

#include <charconv>

#include "sc/core/text.h"

namespace sc {
namespace {

constexpr std::string_view kVersion = "sc-token-v1";

std::string signed_part(char purpose, std::int64_t id, std::int64_t exp, std::int64_t version = 0) {
  std::string s(kVersion);
  s += '|';
  s += purpose;
  s += '|';
  s += std::to_string(id);
  s += '|';
  s += std::to_string(exp);
  if (version != 0) s += "|v" + std::to_string(version);  // absent: the MAC of tokens without one
  return s;
}

bool from_hex(std::string_view h, std::string& out) {
  if (h.size() % 2 != 0) return false;
  out.clear();
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < h.size(); i += 2) {
    int a = val(h[i]), b = val(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out += static_cast<char>((a << 4) | b);
  }
  return true;
}

// Canonical decimal only: "042" would carry the MAC of "42", so one token
// would have many spellings.
bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

char letter(TokenPurpose p) {
  switch (p) {
    case TokenPurpose::kConfirm:
      return 'c';
    case TokenPurpose::kUnsubscribe:
      return 'u';
    case TokenPurpose::kPreferences:
      return 'p';
  }
  return '?';
}

Error bad_token() {
  return Error{ErrorCode::kBadToken, "invalid_token",
               "This link is not valid. It may have been mistyped or cut short.", ""};
}

}  // namespace

std::string TokenCodec::issue(const TokenClaims& c) const {
  char p = letter(c.purpose);
  const auto version = p == 'c' ? c.version : 0;
  auto mac = signer_.sign(signed_part(p, c.channel_id, c.expires_at, version));
  std::string t(1, p);
  t += '.';
  t += std::to_string(c.channel_id);
  t += '.';
  t += std::to_string(c.expires_at);
  t += '.';
  if (version != 0) t += std::to_string(version) + '.';
  t += text::hex(mac);
  return t;
}

Result<TokenClaims> TokenCodec::verify(std::string_view token, TokenPurpose expected,
                                       std::int64_t now) const {
  if (token.size() < 8 || token.size() > kMaxLength) return bad_token();
  char p = token[0];
  char want = letter(expected);
  if (p != want || token[1] != '.') return bad_token();
  auto rest = token.substr(2);
  auto d1 = rest.find('.');
  if (d1 == std::string_view::npos) return bad_token();
  auto d2 = rest.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return bad_token();
  std::int64_t id = 0, exp = 0;
  if (!parse_int(rest.substr(0, d1), id) || !parse_int(rest.substr(d1 + 1, d2 - d1 - 1), exp)) {
    return bad_token();
  }
  std::int64_t version = 0;
  auto d3 = rest.find('.', d2 + 1);
  if (d3 != std::string_view::npos) {
    // Only confirm tokens carry a version, and never 0 (one spelling per token).
    if (p != 'c' || !parse_int(rest.substr(d2 + 1, d3 - d2 - 1), version) || version == 0)
      return bad_token();
    d2 = d3;
  }
  std::string mac;
  if (!from_hex(rest.substr(d2 + 1), mac) || mac.size() != 32) return bad_token();
  if (!signer_.verify(signed_part(p, id, exp, version), mac)) return bad_token();
  if (expected == TokenPurpose::kConfirm && exp > now && exp - now > max_confirm_ttl_)
    return bad_token();
  if (expected == TokenPurpose::kConfirm && (exp == 0 || now > exp)) {
    return Error{ErrorCode::kExpired, "expired_token",
                 "This confirmation link has expired. Please sign up again to get a new one.", ""};
  }
  return TokenClaims{expected, id, exp, version};
}

}  // namespace sc
