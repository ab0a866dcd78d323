#include "sc/providers/aws_sigv4.h"

#include <algorithm>
#include <ctime>
#include <stdexcept>

#include "sc/core/text.h"
#include "sc/providers/crypto.h"

namespace sc::providers::sigv4 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; anything else (a lone '%', '+') kept as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// RFC 3986 dot-segment removal plus collapsing of empty segments; a trailing
// slash is kept.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> kept;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!seg.empty() && seg != ".") {
      kept.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i != 0) out += '/';
    out += kept[i];
  }
  if (!kept.empty() && !path.empty() && path.back() == '/') out += '/';
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t pos = 0;
  while (pos < query.size()) {
    std::size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      std::string_view key = part.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      params.emplace_back(uri_encode(percent_decode(key), false),
                          uri_encode(percent_decode(value), false));
    }
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

// Leading and trailing blanks dropped, every run of blanks made one space
// (folded continuation lines included).
std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool blank = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string amz_date(std::int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) throw std::invalid_argument("sigv4: time out of range");
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Signed sign(const Request& request, const Credentials& credentials, const Scope& scope,
            std::int64_t unix_time, const Options& options) {
  const std::string date_time = amz_date(unix_time);
  const std::string date = date_time.substr(0, 8);
  const std::string payload_hash = crypto::hex(crypto::sha256(request.body));

  Signed out;
  out.headers.emplace_back("X-Amz-Date", date_time);
  if (!credentials.session_token.empty())
    out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  if (options.content_sha256_header) out.headers.emplace_back("x-amz-content-sha256", payload_hash);

  // Lower-case names, sorted (stable: the values of a repeated header keep
  // their order and are joined with commas).
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size() + out.headers.size());
  for (const auto& [name, value] : request.headers)
    headers.emplace_back(text::to_lower_ascii(name), trim_all(value));
  for (const auto& [name, value] : out.headers)
    headers.emplace_back(text::to_lower_ascii(name), trim_all(value));
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string canonical_headers, signed_headers;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i != 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();  // the '\n' of the previous value
      canonical_headers += ',' + headers[i].second + '\n';
      continue;
    }
    canonical_headers += headers[i].first + ':' + headers[i].second + '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += headers[i].first;
  }

  const std::string path = options.normalize_path ? normalize_path(request.path) : request.path;
  out.canonical_request = request.method + '\n' + uri_encode(path.empty() ? "/" : path, true) +
                          '\n' + canonical_query(request.query) + '\n' + canonical_headers + '\n' +
                          signed_headers + '\n' + payload_hash;

  const std::string credential_scope =
      date + '/' + scope.region + '/' + scope.service + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + '\n' + date_time + '\n' + credential_scope + '\n' +
                       crypto::hex(crypto::sha256(out.canonical_request));

  std::string key = crypto::hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = crypto::hmac_sha256(key, scope.region);
  key = crypto::hmac_sha256(key, scope.service);
  key = crypto::hmac_sha256(key, "aws4_request");
  out.signature = crypto::hex(crypto::hmac_sha256(key, out.string_to_sign));

  out.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + '/' +
                           credential_scope + ", SignedHeaders=" + signed_headers +
                           ", Signature=" + out.signature);
  return out;
}

}  // namespace sc::providers::sigv4
