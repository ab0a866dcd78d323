// One API style for every admin answer: RFC 3339 times, whole-number query
// parameters, and one paging scheme ({"items":[…],"next":"<URL>"}).
#include <charconv>

#include "routes.h"
#include "sc/core/broadcast.h"

namespace sc::detail {

nlohmann::json time_json(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return nullptr;
  return format_rfc3339(unix_seconds);
}

std::string time_csv(std::int64_t unix_seconds) {
  return unix_seconds == 0 ? std::string() : format_rfc3339(unix_seconds);
}

namespace {
// An E.164 number: '+' and 1 to 15 digits.
bool is_e164(std::string_view v) {
  if (v.size() < 2 || v.size() > 16 || v[0] != '+') return false;
  for (char c : v.substr(1))
    if (c < '0' || c > '9') return false;
  return true;
}
}  // namespace

std::string csv_field(std::string_view s) {
  // Quoted when needed; a leading =, +, -, @, tab or CR is neutralised so that a
  // spreadsheet never runs a stored text as a formula (OWASP's list: some
  // spreadsheets drop a leading tab or CR and read the rest as a formula). A
  // phone number (+ and digits only) is no formula and stays as stored, so
  // an export's numbers match the JSON answers and the database.
  std::string v(s);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') &&
      !is_e164(v))
    v = "'" + v;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<std::int64_t> whole_param(const httplib::Request& req, const char* name,
                                 std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  if (!req.has_param(name)) return fallback;
  const auto& raw = req.get_param_value(name);
  std::int64_t v = 0;
  const auto* end = raw.data() + raw.size();
  auto [p, ec] = std::from_chars(raw.data(), end, v);
  if (raw.empty() || ec != std::errc() || p != end || v < lo || v > hi) {
    return invalid(std::string("invalid_") + name,
                   std::string(name) + " must be a whole number from " + std::to_string(lo) +
                       " to " + std::to_string(hi),
                   name);
  }
  return v;
}

Result<std::int64_t> path_id(const std::string& raw, std::string_view what) {
  std::int64_t n = 0;
  const auto* end = raw.data() + raw.size();
  auto [p, ec] = std::from_chars(raw.data(), end, n);
  if (raw.empty() || ec != std::errc() || p != end || n < 1)
    return Error{ErrorCode::kNotFound, "not_found", "no such " + std::string(what), ""};
  return n;
}

Page& Page::keep(const std::string& name, const std::string& value) {
  if (!value.empty()) kept_ += "&" + name + "=" + httplib::detail::encode_query_param(value);
  return *this;
}

nlohmann::json Page::body(nlohmann::json items, bool more, const std::string& cursor_name,
                          std::int64_t cursor) const {
  nlohmann::json out = {{"items", std::move(items)}};
  if (more) {
    out["next"] = path_ + "?limit=" + std::to_string(limit_) + kept_ + "&" + cursor_name + "=" +
                  std::to_string(cursor);
  }
  return out;
}

}  // namespace sc::detail
