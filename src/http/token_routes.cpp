// The links in messages: confirm and unsubscribe. GET shows a page and
// changes nothing (mail scanners follow links); POST acts.
#include <memory>

#include "routes.h"

namespace sc::detail {
namespace {

class TokenResource {
 public:
  explicit TokenResource(const RouteEnv& env) : env_(env) {}

  void confirm_page(const httplib::Request& req, httplib::Response& res) const {
    auto token = token_of(req);
    auto claims = env_.deps.service.check_confirm_token(token, env_.deps.clock.now_unix());
    if (!claims) return env_.respond.error(req, res, claims.error());
    if (!wants_html(req))
      return env_.respond.json(res, 200, {{"action", "POST to this URL to confirm"}});
    env_.respond.page(res, 200, "confirm", {{"action", "/confirm/" + token}});
  }

  void confirm(const httplib::Request& req, httplib::Response& res) const {
    auto token = token_of(req);
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    // Check the token before queueing a write: bad tokens cost no lock.
    auto claims = env_.deps.service.check_confirm_token(token, now);
    if (!claims) return env_.respond.error(req, res, claims.error());
    auto r = env_.deps.writes.write(
        [&](const Transaction& tx) { return env_.deps.service.confirm(tx, token, ctx, now); });
    if (!r) return env_.respond.error(req, res, r.error());
    const auto state = r->channel.state;
    if (r->changed && state == ConsentState::kConfirmed) {
      count(env_, "sc_confirmations_total", "Channels confirmed, by channel and how.",
            {{"channel", to_string(r->channel.kind)}, {"source", "link"}});
    }
    if (!wants_html(req)) return env_.respond.json(res, 200, {{"state", to_string(state)}});
    std::set<std::string> flags;
    if (state == ConsentState::kUnsubscribed) flags.insert("was_unsubscribed");
    env_.respond.page(res, 200, "confirmed", {}, flags);
  }

  void unsubscribe_page(const httplib::Request& req, httplib::Response& res) const {
    auto token = token_of(req);
    auto claims = env_.deps.service.check_unsubscribe_token(token);
    if (!claims) return env_.respond.error(req, res, claims.error());
    if (!wants_html(req))
      return env_.respond.json(res, 200, {{"action", "POST to this URL to unsubscribe"}});
    env_.respond.page(res, 200, "unsubscribe", {{"action", "/unsubscribe/" + token}});
  }

  void unsubscribe(const httplib::Request& req, httplib::Response& res) const {
    auto token = token_of(req);
    auto claims = env_.deps.service.check_unsubscribe_token(token);
    if (!claims) return env_.respond.error(req, res, claims.error());
    // RFC 8058: a mailbox provider POSTs "List-Unsubscribe=One-Click", as a
    // urlencoded or a multipart body; it follows no redirect and sends no
    // cookies, so the answer is a plain 200.
    const bool one_click = req.body.find("List-Unsubscribe=One-Click") != std::string::npos ||
                           (req.has_file("List-Unsubscribe") &&
                            req.get_file_value("List-Unsubscribe").content == "One-Click");
    const auto source = one_click ? ConsentSource::kOneClick : ConsentSource::kLink;
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    auto r = env_.deps.writes.write([&](const Transaction& tx) {
      return env_.deps.service.unsubscribe(tx, token, source, ctx, now);
    });
    if (!r) return env_.respond.error(req, res, r.error());
    if (r->changed) {
      count(
          env_, "sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
          {{"channel", to_string(r->channel.kind)}, {"source", one_click ? "one_click" : "link"}});
    }
    if (!wants_html(req)) return env_.respond.json(res, 200, {{"state", "unsubscribed"}});
    env_.respond.page(res, 200, "unsubscribed", {});
  }

 private:
  static std::string token_of(const httplib::Request& req) {
    return req.matches.size() > 1 ? req.matches[1].str() : std::string();
  }

  const RouteEnv& env_;
};

}  // namespace

void add_token_routes(Router& router, const RouteEnv& env) {
  auto r = std::make_shared<TokenResource>(env);
  router.get(R"(/confirm/([^/]*))",
             [r](const httplib::Request& q, httplib::Response& s) { r->confirm_page(q, s); });
  router.post(R"(/confirm/([^/]*))",
              [r](const httplib::Request& q, httplib::Response& s) { r->confirm(q, s); });
  router.get(R"(/unsubscribe/([^/]*))",
             [r](const httplib::Request& q, httplib::Response& s) { r->unsubscribe_page(q, s); });
  router.post(R"(/unsubscribe/([^/]*))",
              [r](const httplib::Request& q, httplib::Response& s) { r->unsubscribe(q, s); });
}

}  // namespace sc::detail
