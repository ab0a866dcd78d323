// Twilio's webhooks: inbound texts and status callbacks. Twilio signs over
// SC_PUBLIC_URL + the path and query as requested + every form parameter;
// anything unsigned is refused (403) before it is read further, and a sid
// not shaped as Twilio's (400). What a text says is core's to interpret.
#include <memory>

#include "form.h"
#include "routes.h"
#include "sc/core/inbound_text.h"
#include "sc/core/sms_status.h"

namespace sc::detail {
namespace {

class TwilioWebhooks {
 public:
  explicit TwilioWebhooks(const RouteEnv& env) : env_(env) {}

  void inbound_sms(const httplib::Request& req, httplib::Response& res) const {
    auto params = verified(req);
    if (!params) return env_.respond.json_error(res, params.error());
    const auto text = interpret_inbound_text(params.value(), env_.deps.phones);
    // Twilio always sends a MessageSid; without one a text could be applied
    // twice (retries and replays are recognised by it).
    if (text.message_id.empty()) {
      return env_.respond.json_error(res,
                                     Error{ErrorCode::kBadRequest, "missing_message_sid",
                                           "an inbound text needs a MessageSid", "MessageSid"});
    }
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    auto outcome = env_.deps.writes.write(
        [&](const Transaction& tx) { return env_.deps.service.receive_text(tx, text, ctx, now); });
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

  // Twilio's status callback (StatusCallback of every text we send). An
  // unknown MessageSid or status is answered 200 too (Twilio retries
  // otherwise) and changes nothing.
  void status(const httplib::Request& req, httplib::Response& res) const {
    auto params = verified(req);
    if (!params) return env_.respond.json_error(res, params.error());
    SmsStatusReport report;
    for (const auto& [k, v] : params.value()) {  // the first of each, as for inbound texts
      std::string* field = k == "MessageSid"      ? &report.message_sid
                           : k == "MessageStatus" ? &report.status
                           : k == "ErrorCode"     ? &report.error_code
                                                  : nullptr;
      if (field != nullptr && field->empty()) *field = v;
    }
    if (report.message_sid.size() > 64 || report.status.size() > 32 ||
        report.error_code.size() > 16) {
      return env_.respond.json_error(
          res,
          invalid("invalid_status_callback", "MessageSid, MessageStatus or ErrorCode is too long"));
    }
    const auto now = env_.deps.clock.now_unix();
    auto outcome = env_.deps.writes.write([&](const Transaction& tx) {
      return record_sms_status(tx.consent(), tx.deliveries, report, now);
    });
    if (outcome.changed && (outcome.state == "delivered" || outcome.state == "undelivered" ||
                            outcome.state == "failed")) {
      count(env_, "sc_deliveries_total", "Delivery reports that moved a message forward.",
            {{"provider", "twilio"}, {"state", outcome.state}});
    }
    if (outcome.channel_undeliverable) {
      count(env_, "sc_undeliverable_total", "Channels found undeliverable, by channel and how.",
            {{"channel", "sms"}, {"source", "status_callback"}});
    }
    res.status = 200;
    res.set_content("", "text/plain");
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
    // Signed, but re-cut: Twilio's signature runs names and values together,
    // so a captured text can be re-sent with other parameters folded into its
    // MessageSid and pass as new. Only Twilio's exact sid shapes are taken.
    if (auto name = env_.deps.twilio->malformed_param(parsed.value()); !name.empty()) {
      return Error{ErrorCode::kBadRequest, "invalid_sid",
                   name + " does not have the shape of a Twilio sid", name};
    }
    return std::move(parsed).value();
  }

  const RouteEnv& env_;
};

}  // namespace

void add_twilio_routes(Router& router, const RouteEnv& env) {
  auto twilio = std::make_shared<TwilioWebhooks>(env);
  router.post("/webhooks/twilio/sms", [twilio](const httplib::Request& q, httplib::Response& s) {
    twilio->inbound_sms(q, s);
  });
  router.post("/webhooks/twilio/status",
              [twilio](const httplib::Request& q, httplib::Response& s) { twilio->status(q, s); });
}

}  // namespace sc::detail
