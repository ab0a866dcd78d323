#include "form.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

namespace sc::detail {
namespace {

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int a = hexval(in[i + 1]), b = hexval(in[i + 2]);
      if (a < 0 || b < 0) return false;
      out += static_cast<char>((a << 4) | b);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

bool is_truthy(std::string_view v) { return v == "on" || v == "true" || v == "1" || v == "yes"; }

constexpr std::string_view kScalars[] = {"email",       "phone",  "sms_consent", "first_name",
                                         "postal_code", "source", kHoneypotField};

std::optional<std::string>* scalar_slot(SignupRequest& r, std::string_view k) {
  if (k == "email") return &r.email;
  if (k == "phone") return &r.phone;
  if (k == "first_name") return &r.first_name;
  if (k == "postal_code") return &r.postal_code;
  if (k == "source") return &r.source;
  if (k == kHoneypotField) return &r.honeypot;
  return nullptr;
}

// Nesting deeper than this is never a sign-up; refusing it early keeps a
// hostile body from costing recursion.
bool too_deep(std::string_view body, int limit) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : body) {
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<Pairs> parse_urlencoded(std::string_view body) {
  Pairs out;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    auto part = body.substr(start, end - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      std::string k, v;
      if (!decode(part.substr(0, eq), k) ||
          !decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), v)) {
        return invalid("malformed_body", "the form body has a malformed %-escape");
      }
      out.emplace_back(std::move(k), std::move(v));
    }
    if (end == body.size()) break;
    start = end + 1;
  }
  return out;
}

Result<SignupRequest> signup_from_form(const Pairs& pairs) {
  SignupRequest r;
  std::vector<std::string> seen;
  for (const auto& [k, v] : pairs) {
    if (k == "topics" || k == "topics[]") {
      r.topics.push_back(v);
      continue;
    }
    bool scalar = false;
    for (auto s : kScalars) scalar = scalar || k == s;
    if (!scalar) continue;  // unknown fields never change anything
    for (const auto& s : seen) {
      if (s == k) return invalid("duplicate_field", k + " was given more than once", k);
    }
    seen.push_back(k);
    if (k == "sms_consent") {
      r.sms_consent = is_truthy(v);
    } else {
      *scalar_slot(r, k) = v;
    }
  }
  return r;
}

Result<SignupRequest> signup_from_json(std::string_view body) {
  if (too_deep(body, 8)) return invalid("malformed_json", "the JSON body is nested too deeply");
  // A key given twice is refused as it is in a form (the parser would
  // silently keep the last one: two clients could read one body two ways).
  std::vector<std::vector<std::string>> keys;  // per open object
  std::optional<std::string> duplicate;
  auto check_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      keys.emplace_back();
    } else if (event == Event::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == Event::key && keys.size() == 1) {  // the body's own fields
      auto k = parsed.get<std::string>();
      auto& seen = keys.back();
      if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
        if (!duplicate) duplicate = k;
      } else {
        seen.push_back(std::move(k));
      }
    }
    return true;
  };
  auto j = nlohmann::json::parse(body, check_keys, false);
  if (j.is_discarded()) return invalid("malformed_json", "the body is not valid JSON");
  if (duplicate) {
    bool known = *duplicate == "topics";
    for (auto f : kScalars) known = known || *duplicate == f;
    return invalid("duplicate_field", *duplicate + " was given more than once",
                   known ? *duplicate : "");
  }
  if (!j.is_object()) return invalid("malformed_json", "the JSON body must be an object");
  SignupRequest r;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& k = it.key();
    const auto& v = it.value();
    if (k == "topics") {
      if (v.is_null()) continue;
      if (!v.is_array())
        return invalid("invalid_topics", "topics must be a list of strings", "topics");
      for (const auto& t : v) {
        if (!t.is_string())
          return invalid("invalid_topics", "topics must be a list of strings", "topics");
        r.topics.push_back(t.get<std::string>());
      }
    } else if (k == "sms_consent") {
      if (v.is_boolean())
        r.sms_consent = v.get<bool>();
      else if (v.is_string())
        r.sms_consent = is_truthy(v.get<std::string>());
      else if (!v.is_null())
        return invalid("invalid_sms_consent", "sms_consent must be true or false", "sms_consent");
    } else if (k == kHoneypotField) {
      // Filled with anything at all: a script, answered as usual (never a
      // type error that would name the field).
      if (!v.is_null()) r.honeypot = v.is_string() ? v.get<std::string>() : v.dump();
    } else if (auto* slot = scalar_slot(r, k)) {
      if (v.is_null()) continue;
      if (!v.is_string()) return invalid("invalid_" + k, k + " must be a string", k);
      *slot = v.get<std::string>();
    }
    // Any other key is ignored: extra fields never change state.
  }
  return r;
}

}  // namespace sc::detail
