// Providers' webhooks. Twilio signs over SC_PUBLIC_URL + the path and query
// as requested + every form parameter; anything unsigned is refused (403)
// before it is read further. What a text says is core's to interpret.
#include <memory>

#include "form.h"
#include "routes.h"
#include "sc/core/inbound_text.h"

namespace sc::detail {
namespace {

class TwilioWebhooks {
 public:
  explicit TwilioWebhooks(const RouteEnv& env) : env_(env) {}

  void inbound_sms(const httplib::Request& req, httplib::Response& res) const {
    auto params = verified(req);
    if (!params) return env_.respond.json_error(res, params.error());
    const auto text = interpret_inbound_text(params.value(), env_.deps.phones);
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    auto outcome = env_.deps.writes.write(
        [&](ConsentStore& store) { return env_.deps.service.receive_text(store, text, ctx, now); });
    if (outcome.changed && outcome.channel) {
      if (outcome.channel->state == ConsentState::kConfirmed) {
        count(env_, "sc_confirmations_total", "Channels confirmed, by channel and how.",
              {{"channel", "sms"}, {"source", "sms_reply"}});
      } else if (outcome.channel->state == ConsentState::kUnsubscribed) {
        count(env_, "sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
              {{"channel", "sms"}, {"source", "sms_stop"}});
      }
    }
    env_.respond.twiml(res,
                       env_.deps.pages.twiml_reply(outcome.reply_template, outcome.reply_vars));
  }

 private:
  Result<FormParams> verified(const httplib::Request& req) const {
    auto refuse = [](std::string why) {
      return Error{ErrorCode::kForbidden, "invalid_signature", std::move(why), ""};
    };
    if (env_.deps.twilio == nullptr) {
      return refuse("webhook signatures cannot be checked: SC_TWILIO_AUTH_TOKEN is not set");
    }
    const auto signature = req.get_header_value("X-Twilio-Signature");
    if (signature.empty()) return refuse("X-Twilio-Signature is missing");
    if (media_type(req) != "application/x-www-form-urlencoded")
      return refuse("a Twilio webhook is a form post");
    auto parsed = parse_urlencoded(req.body);
    if (!parsed) return refuse("the body is not a well-formed form");
    if (!env_.deps.twilio->verify(env_.deps.public_url + req.target, parsed.value(), signature)) {
      return refuse("X-Twilio-Signature does not match this request");
    }
    return std::move(parsed).value();
  }

  const RouteEnv& env_;
};

}  // namespace

void add_webhook_routes(Router& router, const RouteEnv& env) {
  auto twilio = std::make_shared<TwilioWebhooks>(env);
  router.post("/webhooks/twilio/sms", [twilio](const httplib::Request& q, httplib::Response& s) {
    twilio->inbound_sms(q, s);
  });
}

}  // namespace sc::detail
