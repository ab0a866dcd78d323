#include "sc/providers/ses_email_sender.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "http_batch.h"
#include "sc/core/text.h"
#include "sc/providers/api_base.h"
#include "sc/providers/aws_sigv4.h"
#include "sc/providers/crypto.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

using nlohmann::json;

constexpr std::string_view kPath = "/v2/email/outbound-emails";

// Error types that mean AWS refused who we are or how we signed: every other
// message would be refused the same way. Matched whatever the status, since
// AWS documents some of them as 400 and others as 403.
bool is_auth_error(std::string_view type) {
  static constexpr std::string_view kAuth[] = {"AccessDenied",
                                               "AccessDeniedException",
                                               "ExpiredToken",
                                               "ExpiredTokenException",
                                               "IncompleteSignature",
                                               "IncompleteSignatureException",
                                               "InvalidAccessKeyId",
                                               "InvalidClientTokenId",
                                               "InvalidSignatureException",
                                               "MissingAuthenticationToken",
                                               "MissingAuthenticationTokenException",
                                               "NotAuthorized",
                                               "OptInRequired",
                                               "RequestExpired",
                                               "SignatureDoesNotMatch",
                                               "UnrecognizedClientException"};
  for (auto a : kAuth) {
    if (type == a) return true;
  }
  return false;
}

// Throttling, whatever the status (LimitExceededException comes as 400).
bool is_throttling(std::string_view type) {
  static constexpr std::string_view kThrottling[] = {
      "TooManyRequestsException", "LimitExceededException", "ThrottlingException", "Throttling"};
  for (auto t : kThrottling) {
    if (type == t) return true;
  }
  return false;
}

// "MessageRejected:http://internal.amazon.com/coral/…" or
// "com.amazonaws.sesv2#MessageRejected" -> "MessageRejected".
std::string bare_type(std::string_view type) {
  type = text::trim(type);
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type.remove_prefix(hash + 1);
  if (auto colon = type.find(':'); colon != std::string_view::npos) type = type.substr(0, colon);
  return std::string(text::trim(type));
}

std::string string_field(const json& j, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return {};
  for (const char* key : keys) {
    if (j.contains(key) && j[key].is_string() && !j[key].get_ref<const std::string&>().empty()) {
      return j[key].get<std::string>();
    }
  }
  return {};
}

// Reads a SendEmail answer: {"MessageId"} when accepted; otherwise the error
// type from x-amzn-ErrorType (or the body's __type / code) and {"message"}.
ProviderReading read_ses(long status, std::string_view body, std::string_view error_type) {
  ProviderReading r;
  json j = json::parse(body, nullptr, false);
  if (status >= 200 && status < 300) {
    r.message_id = string_field(j, {"MessageId"});
    return r;
  }
  r.code = bare_type(error_type);
  if (r.code.empty()) r.code = bare_type(string_field(j, {"__type", "code", "Code"}));
  r.message = string_field(j, {"message", "Message"});
  if (is_auth_error(r.code)) r.auth_refused = true;
  if (is_throttling(r.code)) r.retryable = true;
  return r;
}

// scheme://host[:port] -> the Host header curl would send: the port only when
// it is not the scheme's default.
std::string host_of(std::string_view base) {
  const bool https = base.rfind("https://", 0) == 0;
  std::string_view host = base.substr(base.find("://") + 3);
  if (https && host.size() > 4 && host.substr(host.size() - 4) == ":443") host.remove_suffix(4);
  if (!https && host.size() > 3 && host.substr(host.size() - 3) == ":80") host.remove_suffix(3);
  return std::string(host);
}

bool is_region(std::string_view r) {
  if (r.empty() || r.size() > 32 || !(r[0] >= 'a' && r[0] <= 'z') || r.back() == '-') return false;
  for (char c : r) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool is_access_key_id(std::string_view k) {
  if (k.empty() || k.size() > 128) return false;
  for (char c : k) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool is_printable_token(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
  }
  return true;
}

}  // namespace

Result<SesConfig> validate_ses_config(SesConfig c) {
  auto fail = [](const char* field, const std::string& message) {
    return invalid("invalid_config", message, field);
  };
  if (c.region.empty())
    return fail("SC_SES_REGION", "SC_EMAIL_PROVIDER=ses needs SC_SES_REGION (e.g. us-east-1)");
  if (!is_region(c.region)) {
    return fail("SC_SES_REGION",
                "SC_SES_REGION \"" + c.region + "\" is not an AWS region name such as us-east-1");
  }
  if (c.access_key_id.empty())
    return fail("SC_SES_ACCESS_KEY_ID", "SC_EMAIL_PROVIDER=ses needs SC_SES_ACCESS_KEY_ID");
  if (!is_access_key_id(c.access_key_id)) {
    return fail("SC_SES_ACCESS_KEY_ID",
                "SC_SES_ACCESS_KEY_ID must be letters and digits only (e.g. AKIA…)");
  }
  if (c.secret_access_key.empty()) {
    return fail("SC_SES_SECRET_ACCESS_KEY", "SC_EMAIL_PROVIDER=ses needs SC_SES_SECRET_ACCESS_KEY");
  }
  if (!is_printable_token(c.secret_access_key)) {
    return fail("SC_SES_SECRET_ACCESS_KEY",
                "SC_SES_SECRET_ACCESS_KEY contains spaces or control characters");
  }
  if (!is_printable_token(c.session_token)) {
    return fail("SC_SES_SESSION_TOKEN",
                "SC_SES_SESSION_TOKEN contains spaces or control characters");
  }
  if (c.api_base.empty()) c.api_base = "https://email." + c.region + ".amazonaws.com";
  auto base = normalize_api_base(c.api_base, "SC_SES_API_BASE");
  if (!base) return fail("SC_SES_API_BASE", base.error().message);
  c.api_base = base.value();
  if (c.max_in_flight < 1) c.max_in_flight = 1;
  return c;
}

// Written directly, as SendGrid's is: the raw message is most of it.
std::string ses_request_body(const OutboundEmail& m) {
  const std::string raw = crypto::base64(build_mime(m));
  std::string b;
  b.reserve(256 + raw.size());
  b += "{\"FromEmailAddress\":";
  text::append_json_string(b, sanitize_header_value(m.from.address));
  b += ",\"Destination\":{\"ToAddresses\":[";
  text::append_json_string(b, sanitize_header_value(m.to.address));
  b += "]}";
  // Bounces and complaints go to the bounce address when there is one.
  if (!m.envelope_from.empty()) {
    b += ",\"FeedbackForwardingEmailAddress\":";
    text::append_json_string(b, sanitize_header_value(m.envelope_from));
  }
  b += ",\"Content\":{\"Raw\":{\"Data\":\"";
  b += raw;  // base64: nothing to escape
  b += "\"}},\"EmailTags\":[{\"Name\":\"outbox_id\",\"Value\":\"" + std::to_string(m.outbox_id) +
       "\"}]}";
  return b;
}

std::vector<std::pair<std::string, std::string>> ses_request_headers(const SesConfig& c,
                                                                     std::string_view body,
                                                                     std::int64_t unix_time) {
  sigv4::Request req;
  req.method = "POST";
  req.path = std::string(kPath);
  req.headers = {{"Host", host_of(c.api_base)}, {"Content-Type", "application/json"}};
  req.body = body;
  auto s = sigv4::sign(req, {c.access_key_id, c.secret_access_key, c.session_token},
                       {c.region, "ses"}, unix_time);
  auto headers = std::move(req.headers);
  for (auto& h : s.headers) headers.push_back(std::move(h));
  return headers;
}

SendResult classify_ses_response(long status, std::string_view body, std::string_view error_type,
                                 std::string_view retry_after, std::int64_t now_unix) {
  HttpOutcome o;
  o.status = status;
  o.body = std::string(body);
  o.retry_after = std::string(retry_after);
  return map_http_outcome(
      o, [&](const HttpOutcome&) { return read_ses(status, body, error_type); }, now_unix);
}

struct SesEmailSender::Impl {
  SesConfig config;
  std::unique_ptr<HttpBatch> http;

  std::int64_t now() const { return config.now_unix(); }

  HttpRequest request_for(const OutboundEmail& m) const {
    HttpRequest r;
    r.body = ses_request_body(m);
    for (const auto& [name, value] : ses_request_headers(config, r.body, now()))
      r.headers.push_back(name + ": " + value);
    return r;
  }

  SendResult result(const HttpOutcome& o) const {
    return map_http_outcome(
        o, [](const HttpOutcome& a) { return read_ses(a.status, a.body, a.captured[0]); }, now());
  }
};

SesEmailSender::SesEmailSender(SesConfig config) : impl_(std::make_unique<Impl>()) {
  auto valid = validate_ses_config(std::move(config));
  if (!valid) throw std::invalid_argument(valid.error().message);
  impl_->config = std::move(valid).value();
  auto& c = impl_->config;
  if (!c.now_unix) c.now_unix = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  HttpBatchOptions o;
  o.url = c.api_base + std::string(kPath);
  o.capture = {"x-amzn-ErrorType"};
  o.max_in_flight = c.max_in_flight;
  o.connect_timeout_ms = c.connect_timeout_ms;
  o.timeout_ms = c.timeout_ms;
  o.ca_file = c.ca_file;
  impl_->http = std::make_unique<HttpBatch>(std::move(o));
}

SesEmailSender::~SesEmailSender() = default;

SendResult SesEmailSender::send(const OutboundEmail& message) {
  return impl_->result(impl_->http->post(impl_->request_for(message)));
}

std::vector<SendResult> SesEmailSender::send_batch(std::span<const OutboundEmail> messages) {
  return send_each(
      *impl_->http, messages, [this](const OutboundEmail& m) { return impl_->request_for(m); },
      [this](const HttpOutcome& o) { return impl_->result(o); });
}

int SesEmailSender::max_in_flight() const { return impl_->http->max_in_flight(); }

void SesEmailSender::send_stream(SendFeed<OutboundEmail>& feed) {
  stream_each(
      *impl_->http, feed, [this](const OutboundEmail& m) { return impl_->request_for(m); },
      [this](const HttpOutcome& o) { return impl_->result(o); });
}

}  // namespace sc::providers
