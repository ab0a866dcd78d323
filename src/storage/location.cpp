#include "sc/storage/location.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>
#include <vector>

namespace sc::storage {
namespace {

constexpr const char* kAccepted = "(a SQLite file path, or a postgresql:// or postgres:// URL)";

// The scheme of a value that looks like a URL ("scheme://..."), else empty.
std::string url_scheme(const std::string& s) {
  if (s.empty() || std::isalpha(static_cast<unsigned char>(s[0])) == 0) return {};
  std::size_t i = 1;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) != 0 || s[i] == '+' ||
                          s[i] == '-' || s[i] == '.'))
    ++i;
  if (s.compare(i, 3, "://") != 0) return {};
  return s.substr(0, i);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A PostgreSQL URL with its passwords (in the user info, as libpq finds it:
// before the first '@' that comes before any '/', and any `password=`
// parameter) replaced by "***"; `passwords` gets what was replaced.
std::string redact(const std::string& url, std::vector<std::string>& passwords) {
  auto hide = [&passwords](std::string& out, std::size_t from, std::size_t to) {
    if (to <= from) return;
    passwords.push_back(out.substr(from, to - from));
    passwords.push_back(percent_decoded(passwords.back()));
    out.replace(from, to - from, "***");
  };
  std::string out = url;
  const auto start = out.find("://") + 3;
  const auto at = out.find_first_of("@/", start);
  if (at != std::string::npos && out[at] == '@') {
    const auto colon = out.find(':', start);
    if (colon < at) hide(out, colon + 1, at);
  }
  auto query = out.find('?', start);
  while (query != std::string::npos) {
    const auto key = query + 1;
    const auto end = std::min(out.find('&', key), out.size());
    const auto eq = out.find('=', key);
    if (eq < end && percent_decoded(out.substr(key, eq - key)) == "password")
      hide(out, eq + 1, end);
    query = out.find('&', key);
  }
  return out;
}

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

Location parse_postgres(std::string url, const std::string& scheme, int timeout) {
  // libpq matches the scheme case-sensitively; URL schemes are not.
  url.replace(0, scheme.size(), lower(scheme));
  std::vector<std::string> passwords;
  const auto redacted = redact(url, passwords);
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFree> options(PQconninfoParse(url.c_str(), &err));
  if (!options) {
    std::string why = err != nullptr ? err : "out of memory";
    PQfreemem(err);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    std::replace(why.begin(), why.end(), '\n', ' ');
    for (const auto& p : passwords) {
      if (!p.empty() && why.find(p) != std::string::npos) why = "its error names the password";
    }
    throw std::invalid_argument("libpq cannot parse the PostgreSQL URL: " + why);
  }
  bool has_timeout = false;
  for (auto* o = options.get(); o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "connect_timeout" && o->val != nullptr) has_timeout = true;
  }
  Location loc{Backend::kPostgres, url, redacted};
  if (!has_timeout) {
    const auto q = url.find('?');
    const char* sep = q == std::string::npos                   ? "?"
                      : url.back() == '?' || url.back() == '&' ? ""
                                                               : "&";
    const auto add = sep + std::string("connect_timeout=") + std::to_string(timeout);
    loc.value += add;
    loc.redacted += add;
  }
  return loc;
}

}  // namespace

std::string redacted(const std::string& location) {
  if (url_scheme(location).empty()) return location;
  std::vector<std::string> passwords;
  return redact(location, passwords);
}

Location parse_location(const std::string& sc_db, int connect_timeout_seconds) {
  if (connect_timeout_seconds < 1 || connect_timeout_seconds > 600)
    throw std::invalid_argument("the connect timeout must be from 1 to 600 seconds");
  if (sc_db.empty()) throw std::invalid_argument(std::string("no database given ") + kAccepted);
  const auto scheme = url_scheme(sc_db);
  if (scheme.empty()) {
    // "postgresql:/db", "postgres:host": meant as a URL, not a file name.
    const auto head = lower(sc_db.substr(0, sc_db.find(':') + 1));
    if (head == "postgresql:" || head == "postgres:")
      throw std::invalid_argument("a PostgreSQL URL starts with postgresql:// or postgres://");
    return Location{Backend::kSqlite, sc_db, sc_db};
  }
  const auto s = lower(scheme);
  if (s != "postgresql" && s != "postgres") {
    throw std::invalid_argument(scheme + ":// is not a database this service can use " + kAccepted);
  }
  return parse_postgres(sc_db, scheme, connect_timeout_seconds);
}

}  // namespace sc::storage
