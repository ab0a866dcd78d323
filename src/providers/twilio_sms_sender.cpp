#include "sc/providers/twilio_sms_sender.h"

#include <curl/curl.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "http_batch.h"
#include "sc/core/text.h"
#include "sc/providers/api_base.h"

namespace sc::providers {
namespace {

using nlohmann::json;

bool sid_shaped(std::string_view sid, std::string_view prefix) {
  if (sid.size() != 34 || sid.substr(0, 2) != prefix) return false;
  for (char c : sid.substr(2)) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

// application/x-www-form-urlencoded: everything but the unreserved
// characters is %-escaped (curl_easy_escape takes no handle since 7.82).
void append_field(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += '&';
  out += name;
  out += '=';
  char* escaped = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
  if (escaped == nullptr) throw std::bad_alloc();
  out += escaped;
  curl_free(escaped);
}

}  // namespace

Result<TwilioConfig> validate_twilio_config(TwilioConfig c) {
  if (!sid_shaped(c.account_sid, "AC")) {
    return invalid("invalid_config", "SC_TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits",
                   "SC_TWILIO_ACCOUNT_SID");
  }
  if (c.auth_token.empty()) {
    return invalid("invalid_config", "SC_SMS_PROVIDER=twilio needs SC_TWILIO_AUTH_TOKEN",
                   "SC_TWILIO_AUTH_TOKEN");
  }
  if (c.from.empty() == c.messaging_service_sid.empty()) {
    return invalid("invalid_config",
                   "set one of SC_TWILIO_FROM and SC_TWILIO_MESSAGING_SERVICE_SID",
                   "SC_TWILIO_FROM");
  }
  if (!c.messaging_service_sid.empty() && !sid_shaped(c.messaging_service_sid, "MG")) {
    return invalid("invalid_config",
                   "SC_TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits",
                   "SC_TWILIO_MESSAGING_SERVICE_SID");
  }
  if (!c.from.empty() && (text::has_control(c.from) || c.from.size() > 64)) {
    return invalid("invalid_config", "SC_TWILIO_FROM must be a phone number or sender id",
                   "SC_TWILIO_FROM");
  }
  auto base = normalize_api_base(c.api_base, "SC_TWILIO_API_BASE");
  if (!base) {
    return invalid("invalid_config",
                   "SC_TWILIO_API_BASE \"" + c.api_base + "\" must be https://host[:port]",
                   "SC_TWILIO_API_BASE");
  }
  c.api_base = base.value();
  if (c.max_in_flight < 1) c.max_in_flight = 1;
  return c;
}

std::string twilio_request_body(const TwilioConfig& c, const OutboundSms& m) {
  std::string body;
  append_field(body, "To", m.to);
  if (!c.messaging_service_sid.empty()) {
    append_field(body, "MessagingServiceSid", c.messaging_service_sid);
  } else {
    append_field(body, "From", c.from);
  }
  append_field(body, "Body", m.body);
  if (!c.status_callback.empty()) append_field(body, "StatusCallback", c.status_callback);
  return body;
}

namespace {

// Reads a Create Message answer: the sid of a created message, or one of two
// error shapes, {"code","message",…} and RFC 9457 {"type","title","status","code","detail"}.
ProviderReading read_twilio(const HttpOutcome& o) {
  ProviderReading r;
  json j = json::parse(o.body, nullptr, false);
  if (!j.is_object()) return r;
  if (o.status >= 200 && o.status < 300) {
    if (j.contains("sid") && j["sid"].is_string()) r.message_id = j["sid"].get<std::string>();
    return r;
  }
  if (j.contains("code") && j["code"].is_number_integer())
    r.code = std::to_string(j["code"].get<long long>());
  for (const char* key : {"message", "detail", "title"}) {
    if (r.message.empty() && j.contains(key) && j[key].is_string())
      r.message = j[key].get<std::string>();
  }
  // 20003: authentication failed (with HTTP 401). A 403 is a permission on
  // one resource or region, not our credentials.
  r.auth_refused = r.code == "20003" || o.status == 401;
  r.recipient_opted_out = r.code == "21610";  // they replied STOP to this sender
  // The number can never get a text: invalid (21211) or not a mobile (21614).
  r.recipient_undeliverable = r.code == "21211" || r.code == "21614";
  return r;
}

}  // namespace

// 429 (20429: too many concurrent requests) was never processed: safe to
// retry. 5xx and timeouts are retried too (Twilio documents no idempotency
// key; at least once). Every other 4xx is permanent, its code kept.
SendResult classify_twilio_response(long status, std::string_view body,
                                    std::string_view retry_after) {
  HttpOutcome o;
  o.status = status;
  o.body = std::string(body);
  o.retry_after = std::string(retry_after);
  return map_http_outcome(o, read_twilio, static_cast<std::int64_t>(std::time(nullptr)));
}

struct TwilioSmsSender::Impl {
  TwilioConfig config;
  std::unique_ptr<HttpBatch> http;

  static SendResult result(const HttpOutcome& o) {
    return map_http_outcome(o, read_twilio, static_cast<std::int64_t>(std::time(nullptr)));
  }
};

TwilioSmsSender::TwilioSmsSender(TwilioConfig config) : impl_(std::make_unique<Impl>()) {
  auto valid = validate_twilio_config(std::move(config));
  if (!valid) throw std::invalid_argument(valid.error().message);
  impl_->config = std::move(valid).value();
  const auto& c = impl_->config;
  HttpBatchOptions o;
  o.url = c.api_base + "/2010-04-01/Accounts/" + c.account_sid + "/Messages.json";
  o.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  o.basic_auth = c.account_sid + ":" + c.auth_token;
  o.max_in_flight = c.max_in_flight;
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.timeout_ms = c.timeout_ms;
  o.ca_file = c.ca_file;
  impl_->http = std::make_unique<HttpBatch>(std::move(o));
}

TwilioSmsSender::~TwilioSmsSender() = default;

SendResult TwilioSmsSender::send(const OutboundSms& message) {
  return Impl::result(impl_->http->post({twilio_request_body(impl_->config, message), {}}));
}

std::vector<SendResult> TwilioSmsSender::send_batch(std::span<const OutboundSms> messages) {
  return send_each(
      *impl_->http, messages,
      [this](const OutboundSms& m) {
        return HttpRequest{twilio_request_body(impl_->config, m), {}};
      },
      &Impl::result);
}

int TwilioSmsSender::max_in_flight() const { return impl_->http->max_in_flight(); }

void TwilioSmsSender::send_stream(SendFeed<OutboundSms>& feed) {
  stream_each(
      *impl_->http, feed,
      [this](const OutboundSms& m) {
        return HttpRequest{twilio_request_body(impl_->config, m), {}};
      },
      &Impl::result);
}

}  // namespace sc::providers
