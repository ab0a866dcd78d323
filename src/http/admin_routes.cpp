// The admin API (Authorization: Bearer <key>; 401 without a valid one).
#include <charconv>
#include <cstdint>
#include <memory>

#include "routes.h"
#include "sc/core/email.h"
#include "sc/core/text.h"

namespace sc::detail {

// Both sides are digested first (text::digest_equal), so neither the
// comparison nor an early length check tells a caller how long a key is.
bool bearer_key_valid(const httplib::Request& req, const std::vector<std::string>& keys,
                      const Signer* digest) {
  auto h = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (digest == nullptr) return false;
  if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) return false;
  auto key = std::string_view(h).substr(kBearer.size());
  bool ok = false;
  for (const auto& k : keys) ok = text::digest_equal(*digest, k, key) || ok;  // no early exit
  return ok;
}

namespace {

using nlohmann::json;

class AdminResource {
 public:
  explicit AdminResource(const RouteEnv& env) : env_(env) {}

  void subscriber(const httplib::Request& req, httplib::Response& res) const {
    auto who = authorize(env_, req, res, Scope::kRead);
    if (!who) return;
    auto address = lookup_address(req);
    if (!address) return env_.respond.json_error(res, address.error());
    const auto& [kind, addr] = address.value();
    auto v = env_.deps.reads.subscriber_by_channel(kind, addr);
    // Recorded before anything is shown, found or not: who looked whom up.
    audit(env_, *who, "subscriber.lookup", addr, req, v ? "" : "not found");
    if (!v)
      return env_.respond.json_error(
          res, Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""});
    env_.respond.json(res, 200, to_json(*v));
  }

  // GET /api/v1/admin/audit?limit=&before=: the audit log, newest first.
  // Reading it is not itself audited (it would grow with every look).
  void audit_log(const httplib::Request& req, httplib::Response& res) const {
    if (!authorize(env_, req, res, Scope::kAdmin)) return;
    if (env_.deps.admin_store == nullptr)
      return env_.respond.json_error(
          res, Error{ErrorCode::kUnsupported, "unsupported", "no audit log is kept here", ""});
    auto limit = int_param(req, "limit", kDefaultAuditPage, 1, kMaxAuditPage);
    if (!limit) return env_.respond.json_error(res, limit.error());
    auto before = int_param(req, "before", 0, 1, INT64_MAX);
    if (!before) return env_.respond.json_error(res, before.error());
    auto page = env_.deps.admin_store->audit_page(before.value(), static_cast<int>(limit.value()));
    json entries = json::array();
    for (const auto& e : page.entries) {
      entries.push_back({{"id", e.id},
                         {"at", e.at},
                         {"key_name", e.key_name},
                         {"action", e.action},
                         {"target", e.target},
                         {"ip", e.ip},
                         {"detail", e.detail}});
    }
    json body = {{"entries", entries}, {"next", nullptr}};
    if (page.next != 0) body["next"] = page.next;
    env_.respond.json(res, 200, body);
  }

 private:
  static constexpr std::int64_t kDefaultAuditPage = 50;
  static constexpr std::int64_t kMaxAuditPage = 500;

  // A whole decimal number in [lo, hi]; `fallback` when the parameter is absent.
  static Result<std::int64_t> int_param(const httplib::Request& req, const char* name,
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

  // The channel a lookup asks for, normalised as it is stored.
  Result<std::pair<ChannelKind, std::string>> lookup_address(const httplib::Request& req) const {
    if (req.has_param("email")) {
      auto e = Email::parse(req.get_param_value("email"));
      if (!e) return e.error();
      return std::pair{ChannelKind::kEmail, e->str()};
    }
    if (req.has_param("phone")) {
      if (env_.deps.phones == nullptr)
        return invalid("invalid_phone", "texting is not configured", "phone");
      auto p = env_.deps.phones->normalize(req.get_param_value("phone"));
      if (!p) return p.error();
      return std::pair{ChannelKind::kSms, p.value()};
    }
    return invalid("missing_query", "give ?email= or ?phone=", "email");
  }

  static json to_json(const SubscriberView& v) {
    json channels = json::object();
    std::string email, phone;
    for (const auto& c : v.channels) {
      channels[to_string(c.kind)] = {{"address", c.address},
                                     {"state", to_string(c.state)},
                                     {"created_at", c.created_at},
                                     {"updated_at", c.updated_at}};
      (c.kind == ChannelKind::kEmail ? email : phone) = c.address;
    }
    json log = json::array();
    for (const auto& e : v.consent_log) {
      json row = {{"at", e.at},         {"channel", e.channel}, {"action", e.action},
                  {"source", e.source}, {"ip", e.ip},           {"user_agent", e.user_agent}};
      if (!e.detail.empty()) row["detail"] = e.detail;
      if (!e.consent_text_version.empty()) row["consent_text_version"] = e.consent_text_version;
      log.push_back(std::move(row));
    }
    json body = {{"id", v.subscriber.id},
                 {"first_name", v.subscriber.first_name},
                 {"postal_code", v.subscriber.postal_code},
                 {"created_at", v.subscriber.created_at},
                 {"channels", channels},
                 {"topics", v.topics},
                 {"consent_log", log}};
    if (!email.empty()) body["email"] = email;
    if (!phone.empty()) body["phone"] = phone;
    return body;
  }

  const RouteEnv& env_;
};

}  // namespace

void add_admin_routes(Router& router, const RouteEnv& env) {
  auto r = std::make_shared<AdminResource>(env);
  router.get("/api/v1/admin/subscribers",
             [r](const httplib::Request& q, httplib::Response& s) { r->subscriber(q, s); });
  router.get("/api/v1/admin/audit",
             [r](const httplib::Request& q, httplib::Response& s) { r->audit_log(q, s); });
}

}  // namespace sc::detail
