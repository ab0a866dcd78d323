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
