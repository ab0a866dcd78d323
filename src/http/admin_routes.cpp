// The admin API (Authorization: Bearer <key>; 401 without a valid one).
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
    if (!authorize(env_, req, res, Scope::kRead)) return;
    auto v = lookup(req);
    if (!v) return env_.respond.json_error(res, v.error());
    env_.respond.json(res, 200, to_json(v.value()));
  }

 private:
  Result<SubscriberView> lookup(const httplib::Request& req) const {
    std::optional<SubscriberView> v;
    if (req.has_param("email")) {
      auto e = Email::parse(req.get_param_value("email"));
      if (!e) return e.error();
      v = env_.deps.reads.subscriber_by_channel(ChannelKind::kEmail, e->str());
    } else if (req.has_param("phone")) {
      if (env_.deps.phones == nullptr)
        return invalid("invalid_phone", "texting is not configured", "phone");
      auto p = env_.deps.phones->normalize(req.get_param_value("phone"));
      if (!p) return p.error();
      v = env_.deps.reads.subscriber_by_channel(ChannelKind::kSms, p.value());
    } else {
      return invalid("missing_query", "give ?email= or ?phone=", "email");
    }
    if (!v) return Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""};
    return std::move(*v);
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
}

}  // namespace sc::detail
