#include "sc/core/email.h"

#include "sc/core/text.h"

namespace sc {
namespace {

bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 5321 dot-atom local part. Quoted local parts are legal but are almost
// always typos or probes; refusing them costs real users nothing.
bool valid_local(std::string_view l) {
  if (l.empty() || l.size() > Email::kMaxLocal) return false;
  if (l.front() == '.' || l.back() == '.') return false;
  char prev = 0;
  for (char c : l) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

// LDH labels with at least one dot and an alphabetic TLD. Internationalised
// domains arrive as punycode ("xn--"), which is plain LDH.
bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t dots = 0;
  std::size_t start = 0;
  while (true) {
    auto end = d.find('.', start);
    auto label =
        d.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (end == std::string_view::npos) {
      if (dots == 0) return false;
      bool has_alpha = false;
      for (char c : label) has_alpha = has_alpha || (c >= 'a' && c <= 'z');
      return has_alpha && label.size() >= 2;
    }
    ++dots;
    start = end + 1;
  }
}

}  // namespace

Result<Email> Email::parse(std::string_view raw) {
  if (raw.size() > 1024) return invalid("invalid_email", "email is too long", "email");
  if (!text::is_valid_utf8(raw))
    return invalid("invalid_email", "email is not valid UTF-8", "email");
  auto t = text::trim(raw);
  if (t.empty()) return invalid("invalid_email", "email is empty", "email");
  if (text::has_control(t))
    return invalid("invalid_email", "email contains control characters", "email");
  if (t.size() > kMaxLength)
    return invalid("invalid_email", "email is longer than 254 characters", "email");
  auto at = t.rfind('@');
  if (at == std::string_view::npos) return invalid("invalid_email", "email has no @", "email");
  auto local = t.substr(0, at);
  auto domain = text::to_lower_ascii(t.substr(at + 1));
  if (!valid_local(local))
    return invalid("invalid_email", "the part before @ is not valid", "email");
  if (!valid_domain(domain)) return invalid("invalid_email", "the domain is not valid", "email");
  std::string v;
  v.reserve(t.size());
  v.append(local);
  v += '@';
  v += domain;
  return Email(std::move(v));
}

std::string_view Email::local() const {
  return std::string_view(value_).substr(0, value_.rfind('@'));
}
std::string_view Email::domain() const {
  return std::string_view(value_).substr(value_.rfind('@') + 1);
}

}  // namespace sc
