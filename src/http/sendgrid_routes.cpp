// SendGrid's Event Webhook. The signature (ECDSA over the timestamp header
// and the raw body) and the timestamp's age are checked before the body is
// read at all; what the events mean is core's (email_events.h).
#include <charconv>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "routes.h"
#include "sc/core/email_events.h"

namespace sc::detail {
namespace {

using nlohmann::json;

std::string string_field(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// custom_args come back as strings; a number is taken too.
std::optional<std::int64_t> id_field(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

EmailEvent read_event(const json& o) {
  EmailEvent e;
  e.event = string_field(o, "event");
  e.event_id = string_field(o, "sg_event_id");
  e.outbox_id = id_field(o, "sc_outbox_id");
  // "<X-Message-Id>.<filter and recipient part>"
  e.message_id = string_field(o, "sg_message_id");
  e.message_id = e.message_id.substr(0, e.message_id.find('.'));
  e.email = string_field(o, "email");
  e.type = string_field(o, "type");
  e.reason = string_field(o, "reason");
  e.status = string_field(o, "status");
  e.response = string_field(o, "response");
  auto ts = o.find("timestamp");
  if (ts != o.end() && ts->is_number_integer()) e.timestamp = ts->get<std::int64_t>();
  return e;
}

class SendgridWebhooks {
 public:
  explicit SendgridWebhooks(const RouteEnv& env) : env_(env) {}

  void events(const httplib::Request& req, httplib::Response& res) const {
    auto refuse = [&](std::string why) {
      env_.respond.json_error(
          res, Error{ErrorCode::kForbidden, "invalid_signature", std::move(why), ""});
    };
    const auto* verifier = env_.deps.sendgrid_events;
    if (verifier == nullptr)
      return refuse(
          "event signatures cannot be checked: SC_SENDGRID_WEBHOOK_PUBLIC_KEY is not set");
    const auto signature = req.get_header_value("X-Twilio-Email-Event-Webhook-Signature");
    const auto timestamp = req.get_header_value("X-Twilio-Email-Event-Webhook-Timestamp");
    if (signature.empty()) return refuse("X-Twilio-Email-Event-Webhook-Signature is missing");
    if (timestamp.empty()) return refuse("X-Twilio-Email-Event-Webhook-Timestamp is missing");
    const auto now = env_.deps.clock.now_unix();
    // Before the signature: a replay of a genuine old request is refused the same way.
    if (!event_timestamp_fresh(timestamp, now))
      return refuse("X-Twilio-Email-Event-Webhook-Timestamp is not within 10 minutes of now");
    if (!verifier->verify(timestamp, req.body, signature))
      return refuse("X-Twilio-Email-Event-Webhook-Signature does not match this request");

    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_array()) {
      return env_.respond.json_error(res, Error{ErrorCode::kBadRequest, "invalid_events",
                                                "the body must be a JSON array of events", ""});
    }
    std::vector<EmailEvent> events;
    events.reserve(body.size());
    for (const auto& o : body) {
      if (!o.is_object()) {
        return env_.respond.json_error(res, Error{ErrorCode::kBadRequest, "invalid_events",
                                                  "every event must be a JSON object", ""});
      }
      events.push_back(read_event(o));
    }
    // One transaction: all of a request's events count, or (on a storage
    // failure, answered 503 so SendGrid posts them again) none.
    auto outcome = env_.deps.writes.write([&](const Transaction& tx) {
      return apply_email_events(tx.consent(), tx.deliveries, events, now);
    });
    if (outcome.incomplete > 0) {
      std::fprintf(stderr,
                   "sendgrid: %d of %zu events without email or sg_event_id ignored (not checked "
                   "against the recipient, or a replay could not be told apart)\n",
                   outcome.incomplete, events.size());
    }
    for (const auto& [event, results] : outcome.counts) {
      for (const auto& [result, n] : results) {
        for (int i = 0; i < n; ++i)
          count(env_, "sc_email_events_total",
                "Email provider events received, by event and what they did.",
                {{"event", event}, {"result", result}});
      }
    }
    env_.respond.json(res, 200, json{{"received", events.size()}, {"applied", outcome.applied}});
  }

 private:
  const RouteEnv& env_;
};

}  // namespace

void add_sendgrid_routes(Router& router, const RouteEnv& env) {
  auto hooks = std::make_shared<SendgridWebhooks>(env);
  router.post("/webhooks/sendgrid/events",
              [hooks](const httplib::Request& q, httplib::Response& s) { hooks->events(q, s); });
}

}  // namespace sc::detail
