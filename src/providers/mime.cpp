#include "sc/providers/mime.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "sc/core/text.h"
#include "sc/providers/crypto.h"

namespace sc::providers {
namespace {

constexpr std::size_t kFoldAt = 78;     // RFC 5322 §2.1.1 SHOULD limit
constexpr std::size_t kQpLineMax = 76;  // RFC 2045 §6.7 rule 5
constexpr std::size_t kEncodedChunk =
    39;  // bytes per encoded-word: 52 b64 chars, 64 with =?UTF-8?B??=
constexpr std::size_t kMaxPlainWord =
    76;  // longer words in a Subject force encoded-words (foldable)
constexpr std::size_t kMaxExtraWord = 900;  // …in other headers only when a line could pass 998

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::size_t longest_word(std::string_view s) {
  std::size_t best = 0, cur = 0;
  for (char c : s) {
    cur = (c == ' ' || c == '\t') ? 0 : cur + 1;
    if (cur > best) best = cur;
  }
  return best;
}

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto la = static_cast<char>((a[i] >= 'A' && a[i] <= 'Z') ? a[i] - 'A' + 'a' : a[i]);
    auto lb = static_cast<char>((b[i] >= 'A' && b[i] <= 'Z') ? b[i] - 'A' + 'a' : b[i]);
    if (la != lb) return false;
  }
  return true;
}

// Addresses and ids go between angle brackets: anything that could close the
// bracket, add a recipient or start a new line is dropped.
std::string sanitize_addr(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) continue;
    switch (c) {
      case '<':
      case '>':
      case '(':
      case ')':
      case ',':
      case ';':
      case ':':
      case '"':
      case '\\':
        continue;
      default:
        out += c;
    }
  }
  return out;
}

// URIs in List-Unsubscribe: no whitespace, no brackets, no controls.
std::string sanitize_uri(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>') continue;
    out += c;
  }
  return out;
}

// RFC 2047 B encoded-words, split on UTF-8 character boundaries, separated by
// a space so the folder can break between them.
std::string encode_words(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + kEncodedChunk);
    // Back off so a multi-byte character is never split across two words.
    while (end < text.size() && end > i + 1 &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?";
    out += crypto::base64(text.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

// Inserts CRLF before a space wherever the line would pass 78 octets. Never
// right after "Name:", so the first line keeps some content.
std::string fold(std::string_view line, std::size_t name_len) {
  std::string out;
  std::size_t start = 0;
  const std::size_t min_pos = name_len + 1;  // the space after the colon
  while (line.size() - start > kFoldAt) {
    std::size_t limit = start + kFoldAt;
    std::size_t brk = std::string_view::npos;
    for (std::size_t p = limit; p > std::max(start, min_pos); --p) {
      if (line[p] == ' ' || line[p] == '\t') {
        brk = p;
        break;
      }
    }
    if (brk == std::string_view::npos) {
      // A word longer than a line: break after it instead.
      brk = line.find_first_of(" \t", std::max(limit, min_pos + 1));
      if (brk == std::string_view::npos) break;
    }
    out.append(line.substr(start, brk - start));
    out += "\r\n";
    start = brk;
  }
  out.append(line.substr(start));
  return out;
}

void add_header(std::string& out, std::string_view name, std::string_view value) {
  std::string line;
  line.reserve(name.size() + 2 + value.size());
  line.append(name);
  line += ": ";
  line.append(value);
  out += fold(line, name.size());
  out += "\r\n";
}

std::string unstructured(std::string_view raw, std::size_t max_word) {
  std::string v = sanitize_header_value(raw);
  if (!is_ascii(v) || longest_word(v) > max_word) return encode_words(v);
  return v;
}

std::string quote_phrase(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string normalize_message_id(std::string_view raw, std::string_view from_address) {
  std::string id = sanitize_addr(raw);
  if (id.empty()) {
    auto at = from_address.rfind('@');
    std::string domain =
        at == std::string_view::npos ? "localhost" : sanitize_addr(from_address.substr(at + 1));
    if (domain.empty()) domain = "localhost";
    id = crypto::hex(crypto::random_bytes(16)) + "@" + domain;
  }
  return id;
}

std::string make_boundary(std::string_view content) {
  // "=_" can never occur in quoted-printable output ('=' is always followed by
  // a hex digit or CRLF), so this loop is a belt for a future 8bit encoding.
  for (;;) {
    std::string b = "=_sc_" + crypto::hex(crypto::random_bytes(12));
    if (content.find(b) == std::string_view::npos) return b;
  }
}

void add_text_part_headers(std::string& out, std::string_view subtype) {
  out += "Content-Type: text/";
  out.append(subtype);
  out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
}

bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kReserved = {"date",
                                                                 "from",
                                                                 "to",
                                                                 "cc",
                                                                 "bcc",
                                                                 "subject",
                                                                 "message-id",
                                                                 "mime-version",
                                                                 "content-type",
                                                                 "content-transfer-encoding",
                                                                 "reply-to",
                                                                 "list-unsubscribe",
                                                                 "list-unsubscribe-post",
                                                                 "list-id",
                                                                 "return-path",
                                                                 "sender",
                                                                 "received"};
  for (auto r : kReserved) {
    if (equals_ci(name, r)) return true;
  }
  return false;
}

bool is_valid_header_name(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

std::string format_list_id(std::string_view raw) {
  std::string v = sanitize_header_value(raw);
  if (is_ascii(v)) return v;
  auto lt = v.rfind('<');
  if (lt == std::string::npos) return encode_words(v);
  std::string phrase(text::trim(std::string_view(v).substr(0, lt)));
  std::string rest = v.substr(lt);
  return phrase.empty() ? rest : encode_words(phrase) + " " + rest;
}

}  // namespace

std::string sanitize_header_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  return out;
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[static_cast<std::size_t>(tm.tm_wday)], tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string format_mailbox(const Mailbox& mailbox) {
  std::string addr = "<" + sanitize_addr(mailbox.address) + ">";
  std::string name = sanitize_header_value(mailbox.display_name);
  // Trim: a name of only spaces is no name.
  auto first = name.find_first_not_of(' ');
  if (first == std::string::npos) return addr;
  name = name.substr(first, name.find_last_not_of(' ') - first + 1);
  if (!is_ascii(name)) return encode_words(name) + " " + addr;
  return quote_phrase(name) + " " + addr;
}

std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t i = 0;
  bool first_line = true;
  while (true) {
    // One logical line: up to LF, CRLF or a bare CR.
    std::size_t end = i;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    if (!first_line) out += "\r\n";
    first_line = false;
    std::size_t col = 0;
    for (std::size_t p = i; p < end; ++p) {
      auto c = static_cast<unsigned char>(text[p]);
      bool last = (p + 1 == end);
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      // "From " at a line start is mangled to ">From " by mbox-style stores.
      if (p == i && c == 'F' && text.substr(p, 5) == "From ") literal = false;
      std::size_t width = literal ? 1 : 3;
      if (col + width > kQpLineMax - 1) {
        out += "=\r\n";
        col = 0;
      }
      if (literal) {
        out += static_cast<char>(c);
      } else {
        out += '=';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      col += width;
    }
    if (end >= text.size()) break;
    i = end + ((text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n') ? 2 : 1);
    if (i >= text.size()) {
      out += "\r\n";  // the text ended with a line break; keep it
      break;
    }
  }
  return out;
}

std::string build_mime(const OutboundEmail& m) {
  std::string out;
  out.reserve(1024 + m.text.size() * 2 + m.html.size() * 2);
  std::int64_t date =
      m.date_unix != 0 ? m.date_unix : static_cast<std::int64_t>(std::time(nullptr));

  add_header(out, "Date", rfc5322_date(date));
  add_header(out, "From", format_mailbox(m.from));
  add_header(out, "To", format_mailbox(m.to));
  if (!m.reply_to.empty()) add_header(out, "Reply-To", "<" + sanitize_addr(m.reply_to) + ">");
  add_header(out, "Subject", unstructured(m.subject, kMaxPlainWord));
  add_header(out, "Message-ID", "<" + normalize_message_id(m.message_id, m.from.address) + ">");
  if (!m.list_id.empty()) add_header(out, "List-Id", format_list_id(m.list_id));

  std::string url = sanitize_uri(m.list_unsubscribe_url);
  std::string mailto = sanitize_uri(m.list_unsubscribe_mailto);
  if (!mailto.empty() && mailto.rfind("mailto:", 0) != 0) mailto = "mailto:" + mailto;
  if (!url.empty() || !mailto.empty()) {
    std::string v;
    if (!url.empty()) v = "<" + url + ">";
    if (!mailto.empty()) v += (v.empty() ? "<" : ", <") + mailto + ">";
    add_header(out, "List-Unsubscribe", v);
  }
  // RFC 8058: one-click only applies to an HTTPS URI.
  if (!url.empty()) add_header(out, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");

  for (const auto& [name, value] : m.extra_headers) {
    if (!is_valid_header_name(name) || is_reserved_header(name)) continue;
    add_header(out, name, unstructured(value, kMaxExtraWord));
  }
  out += "MIME-Version: 1.0\r\n";

  bool has_text = !m.text.empty();
  bool has_html = !m.html.empty();
  if (has_text && has_html) {
    std::string text_qp = quoted_printable(m.text);
    std::string html_qp = quoted_printable(m.html);
    std::string boundary = make_boundary(text_qp + html_qp);
    out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
    out += "This is a multi-part message in MIME format.\r\n";
    out += "--" + boundary + "\r\n";
    add_text_part_headers(out, "plain");
    out += "\r\n" + text_qp + "\r\n";
    out += "--" + boundary + "\r\n";
    add_text_part_headers(out, "html");
    out += "\r\n" + html_qp + "\r\n";
    out += "--" + boundary + "--\r\n";
  } else {
    add_text_part_headers(out, has_html ? "html" : "plain");
    out += "\r\n";
    std::string body = quoted_printable(has_html ? m.html : m.text);
    // Without a closing delimiter the final CRLF is content: add one only
    // when the text lacks it (SMTP needs the message to end in CRLF).
    if (body.size() < 2 || body.compare(body.size() - 2, 2, "\r\n") != 0) body += "\r\n";
    out += body;
  }
  return out;
}

}  // namespace sc::providers
