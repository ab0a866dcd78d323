// The admin API (Authorization: Bearer <key>; 401 without a valid one).
#include <cstdint>
#include <memory>

#include "routes.h"
#include "sc/core/email.h"
#include "sc/core/subscriber_list.h"
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

Result<std::pair<ChannelKind, std::string>> address_param(const RouteEnv& env,
                                                          const httplib::Request& req) {
  if (req.has_param("email")) {
    auto e = Email::parse(req.get_param_value("email"));
    if (!e) return e.error();
    return std::pair{ChannelKind::kEmail, e->str()};
  }
  if (!req.has_param("phone")) return invalid("missing_query", "give ?email= or ?phone=", "email");
  if (env.deps.phones == nullptr)
    return invalid("invalid_phone", "texting is not configured", "phone");
  auto p = env.deps.phones->normalize(req.get_param_value("phone"));
  if (!p) return p.error();
  return std::pair{ChannelKind::kSms, p.value()};
}

namespace {

using nlohmann::json;

class AdminResource {
 public:
  explicit AdminResource(const RouteEnv& env) : env_(env) {}

  void subscriber(const httplib::Request& req, httplib::Response& res) const {
    auto who = authorize(env_, req, res, Scope::kRead);
    if (!who) return;
    auto address = address_param(env_, req);
    if (!address) return env_.respond.json_error(res, address.error());
    const auto& [kind, addr] = address.value();
    auto v = env_.deps.reads.subscriber_by_channel(kind, addr);
    if (!v && kind == ChannelKind::kSms) {
      // A number no subscriber holds may still have texted STOP or HELP:
      // those rows are shown, under subscriber 0.
      auto log = env_.deps.reads.unknown_number_log(addr);
      if (!log.empty()) {
        SubscriberView unknown;
        unknown.consent_log = std::move(log);
        v = std::move(unknown);
      }
    }
    // Recorded before anything is shown, found or not: who looked whom up.
    // An erased person is named by their pseudonym: the log never names
    // them again.
    std::string target = addr;
    if (!v && env_.deps.subscriber_reads != nullptr) {
      const auto key = env_.deps.service.suppression_key_of(kind, addr);
      if (env_.deps.subscriber_reads->suppression(kind, key)) target = erased_pseudonym(key);
    }
    audit(env_, *who, "subscriber.lookup", target, req, v ? "" : "not found");
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
    auto limit = whole_param(req, "limit", kDefaultAuditPage, 1, kMaxAuditPage);
    if (!limit) return env_.respond.json_error(res, limit.error());
    auto before = whole_param(req, "before", 0, 1, INT64_MAX);
    if (!before) return env_.respond.json_error(res, before.error());
    auto page = env_.deps.admin_store->audit_page(before.value(), static_cast<int>(limit.value()));
    json entries = json::array();
    for (const auto& e : page.entries) {
      entries.push_back({{"id", e.id},
                         {"at", time_json(e.at)},
                         {"key_name", e.key_name},
                         {"action", e.action},
                         {"target", e.target},
                         {"ip", e.ip},
                         {"detail", e.detail}});
    }
    const Page pager("/api/v1/admin/audit", limit.value());
    env_.respond.json(res, 200, pager.body(entries, page.next != 0, "before", page.next));
  }

  // GET /api/v1/admin/providers: each provider's state as /healthz shows it,
  // with the provider's own refusal text while it is paused (not on
  // /healthz, which anyone can read: the text can name the account).
  void providers(const httplib::Request& req, httplib::Response& res) const {
    if (!authorize(env_, req, res, Scope::kRead)) return;
    json items = json::array();
    if (env_.deps.provider_health) {
      for (const auto& p : env_.deps.provider_health()) {
        json one = {{"name", p.name}, {"channel", p.channel}, {"paused", p.paused}};
        if (p.paused) {
          one["reason"] = p.reason;
          one["since"] = time_json(p.since);
          one["consecutive_failures"] = p.consecutive_failures;
          one["next_probe_at"] = time_json(p.next_probe_at);
        }
        items.push_back(std::move(one));
      }
    }
    env_.respond.json(res, 200, {{"items", items}});  // one list, no further page
  }

  // GET /api/v1/admin/inbound?limit=&before=: inbound texts that were not a
  // keyword, newest first, for an operator to review.
  void inbound(const httplib::Request& req, httplib::Response& res) const {
    if (!authorize(env_, req, res, Scope::kRead)) return;
    auto limit = whole_param(req, "limit", 50, 1, 500);
    if (!limit) return env_.respond.json_error(res, limit.error());
    auto before = whole_param(req, "before", 0, 1, INT64_MAX);
    if (!before) return env_.respond.json_error(res, before.error());
    const Page page("/api/v1/admin/inbound", limit.value());
    auto rows = env_.deps.reads.inbound_for_review(page.rows_to_read(), before.value());
    const bool more = static_cast<std::int64_t>(rows.size()) > limit.value();
    if (more) rows.pop_back();
    json items = json::array();
    for (const auto& t : rows) {
      json item = {{"id", t.id},           {"message_sid", t.message_sid},
                   {"from", t.from},       {"body", t.body},
                   {"outcome", t.outcome}, {"received_at", time_json(t.received_at)}};
      if (t.reviewed_at != 0) {
        item["reviewed"] = {
            {"at", time_json(t.reviewed_at)}, {"by", t.reviewed_by}, {"action", t.review_action}};
      }
      items.push_back(std::move(item));
    }
    // The next page: everything older than the last one shown.
    env_.respond.json(res, 200, page.body(items, more, "before", more ? rows.back().id : 0));
  }

  // POST /api/v1/admin/inbound/{id}/opt-out: the operator reads a text as a
  // request to stop; the number is unsubscribed (source admin).
  void inbound_opt_out(const httplib::Request& req, httplib::Response& res) const {
    auto who = authorize(env_, req, res, Scope::kSend);
    if (!who) return;
    auto id = path_id(req.matches[1], "inbound text");
    if (!id) return env_.respond.json_error(res, id.error());
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    // The opt-out and its audit row in one transaction.
    std::optional<Result<ChannelOutcome>> outcome;
    env_.deps.writes.run([&](const Transaction& tx) {
      outcome = env_.deps.service.opt_out_inbound_text(tx, id.value(), who->key_name, ctx, now);
      if (*outcome)
        audit(tx.audit, env_, *who, "inbound.opt_out", "inbound " + std::to_string(id.value()),
              req);
    });
    if (!*outcome) return env_.respond.json_error(res, outcome->error());
    const auto& done = outcome->value();
    if (done.changed) {
      count(env_, "sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
            {{"channel", "sms"}, {"source", "admin"}});
    }
    env_.respond.json(res, 200,
                      {{"id", id.value()},
                       {"phone", done.channel.address},
                       {"state", to_string(done.channel.state)},
                       {"changed", done.changed}});
  }

 private:
  static constexpr std::int64_t kDefaultAuditPage = 50;
  static constexpr std::int64_t kMaxAuditPage = 500;

  static json to_json(const SubscriberView& v) {
    json channels = json::object();
    std::string email, phone;
    for (const auto& c : v.channels) {
      channels[to_string(c.kind)] = {{"address", c.address},
                                     {"state", to_string(c.state)},
                                     {"created_at", time_json(c.created_at)},
                                     {"updated_at", time_json(c.updated_at)}};
      (c.kind == ChannelKind::kEmail ? email : phone) = c.address;
    }
    json log = json::array();
    for (const auto& e : v.consent_log) {
      json row = consent_row_json(e);
      if (v.subscriber.id != 0) row.erase("address");  // the subscriber's own, shown above
      log.push_back(std::move(row));
    }
    json body = {{"id", v.subscriber.id},
                 {"first_name", v.subscriber.first_name},
                 {"postal_code", v.subscriber.postal_code},
                 {"created_at", time_json(v.subscriber.created_at)},
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
  // With ?email= or ?phone=: the one subscriber who holds it; without: the list.
  router.get("/api/v1/admin/subscribers",
             [r, &env](const httplib::Request& q, httplib::Response& s) {
               if (q.has_param("email") || q.has_param("phone")) return r->subscriber(q, s);
               list_subscribers(env, q, s);
             });
  router.get("/api/v1/admin/stats", [&env](const httplib::Request& q, httplib::Response& s) {
    subscriber_stats(env, q, s);
  });
  // Before …/subscribers/{id}: the first route that matches serves.
  router.get(
      "/api/v1/admin/subscribers/export",
      [&env](const httplib::Request& q, httplib::Response& s) { export_subscribers(env, q, s); });
  router.get(
      R"(/api/v1/admin/subscribers/([^/]*))",
      [&env](const httplib::Request& q, httplib::Response& s) { show_subscriber(env, q, s); });
  router.patch(
      R"(/api/v1/admin/subscribers/([^/]*))",
      [&env](const httplib::Request& q, httplib::Response& s) { patch_subscriber(env, q, s); });
  router.del(
      R"(/api/v1/admin/subscribers/([^/]*))",
      [&env](const httplib::Request& q, httplib::Response& s) { erase_subscriber(env, q, s); });
  router.post(R"(/api/v1/admin/subscribers/([^/]*)/unsubscribe)",
              [&env](const httplib::Request& q, httplib::Response& s) {
                unsubscribe_subscriber(env, q, s);
              });
  router.get("/api/v1/admin/suppressions", [&env](const httplib::Request& q, httplib::Response& s) {
    show_suppression(env, q, s);
  });
  router.get("/api/v1/admin/audit",
             [r](const httplib::Request& q, httplib::Response& s) { r->audit_log(q, s); });
  router.get("/api/v1/admin/inbound",
             [r](const httplib::Request& q, httplib::Response& s) { r->inbound(q, s); });
  router.get("/api/v1/admin/providers",
             [r](const httplib::Request& q, httplib::Response& s) { r->providers(q, s); });
  router.post(R"(/api/v1/admin/inbound/([^/]*)/opt-out)",
              [r](const httplib::Request& q, httplib::Response& s) { r->inbound_opt_out(q, s); });
}

}  // namespace sc::detail
