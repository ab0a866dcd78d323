#include "sc/providers/sendgrid_email_sender.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "http_batch.h"
#include "sc/core/text.h"
#include "sc/providers/api_base.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

using nlohmann::json;

// {"email": …, "name": …}; the name only when there is one.
void append_mailbox(std::string& out, std::string_view address, std::string_view name) {
  out += "{\"email\":";
  text::append_json_string(out, address);
  if (!name.empty()) {
    out += ",\"name\":";
    text::append_json_string(out, sanitize_header_value(name));
  }
  out += '}';
}

// SendGrid refuses these in `headers` (spec text) or sets them itself.
bool is_forbidden_header(std::string_view name) {
  static constexpr std::string_view kForbidden[] = {"x-sg-id",      "x-sg-eid",
                                                    "received",     "dkim-signature",
                                                    "content-type", "content-transfer-encoding",
                                                    "to",           "from",
                                                    "subject",      "reply-to",
                                                    "cc",           "bcc",
                                                    "date",         "message-id",
                                                    "mime-version"};
  for (auto f : kForbidden) {
    if (text::iequals_ascii(name, f)) return true;
  }
  return false;
}

// "errors[].message (field)" joined; the raw body when it is not that shape.
std::string error_text(std::string_view body) {
  std::string out;
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) {
      if (!e.is_object() || !e.contains("message") || !e["message"].is_string()) continue;
      if (!out.empty()) out += "; ";
      out += e["message"].get<std::string>();
      if (e.contains("field") && e["field"].is_string() && !e["field"].get<std::string>().empty() &&
          e["field"].get<std::string>() != "null") {
        out += " (" + e["field"].get<std::string>() + ")";
      }
    }
  }
  if (out.empty()) out = std::string(text::trim(body));
  return out;
}

}  // namespace

// Written directly rather than built as a JSON document and dumped: this
// runs once per message on the sending thread, and the document route cost
// ~36 us for a 2 KB confirmation (bench_outbox prints the figure).
std::string sendgrid_request_body(const OutboundEmail& m) {
  // Headers by name, the last value for a name winning; List-* come last so
  // an extra header cannot replace them.
  std::vector<std::pair<std::string_view, std::string>> headers;
  auto set_header = [&](std::string_view name, std::string value) {
    for (auto& h : headers) {
      if (h.first == name) {
        h.second = std::move(value);
        return;
      }
    }
    headers.emplace_back(name, std::move(value));
  };
  for (const auto& [name, value] : m.extra_headers) {
    if (!name.empty() && !is_forbidden_header(name)) set_header(name, sanitize_header_value(value));
  }
  std::string unsub;
  if (!m.list_unsubscribe_url.empty())
    unsub = "<" + sanitize_header_value(m.list_unsubscribe_url) + ">";
  if (!m.list_unsubscribe_mailto.empty()) {
    std::string mailto = sanitize_header_value(m.list_unsubscribe_mailto);
    if (mailto.rfind("mailto:", 0) != 0) mailto = "mailto:" + mailto;
    unsub += (unsub.empty() ? "<" : ", <") + mailto + ">";
  }
  if (!unsub.empty()) set_header("List-Unsubscribe", std::move(unsub));
  if (!m.list_unsubscribe_url.empty())
    set_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  if (!m.list_id.empty()) set_header("List-Id", sanitize_header_value(m.list_id));

  std::string b;
  b.reserve(512 + m.text.size() + m.html.size() + m.subject.size());
  b += "{\"personalizations\":[{\"to\":[";
  append_mailbox(b, m.to.address, m.to.display_name);
  // Event Webhook events carry a personalization's custom_args as top-level
  // keys: sc_outbox_id names the outbox row a bounce or complaint is about.
  // custom_args is an object of strings (the published spec says "string";
  // the real API and the official libraries send an object).
  b += "],\"custom_args\":{\"sc_outbox_id\":\"" + std::to_string(m.outbox_id) + "\"}}],\"from\":";
  append_mailbox(b, m.from.address, m.from.display_name);
  if (!m.reply_to.empty()) {
    b += ",\"reply_to\":{\"email\":";
    text::append_json_string(b, m.reply_to);
    b += '}';
  }
  if (!m.subject.empty()) {
    b += ",\"subject\":";
    text::append_json_string(b, sanitize_header_value(m.subject));
  }
  // text/plain must come before text/html (SendGrid rejects the reverse).
  if (!m.text.empty() || !m.html.empty()) {
    b += ",\"content\":[";
    if (!m.text.empty()) {
      b += "{\"type\":\"text/plain\",\"value\":";
      text::append_json_string(b, m.text);
      b += '}';
    }
    if (!m.html.empty()) {
      if (!m.text.empty()) b += ',';
      b += "{\"type\":\"text/html\",\"value\":";
      text::append_json_string(b, m.html);
      b += '}';
    }
    b += ']';
  }
  if (!headers.empty()) {
    b += ",\"headers\":{";
    for (std::size_t i = 0; i < headers.size(); ++i) {
      if (i != 0) b += ',';
      text::append_json_string(b, headers[i].first);
      b += ':';
      text::append_json_string(b, headers[i].second);
    }
    b += '}';
  }
  // We do not track readers: no open pixel, no rewritten links, whatever
  // the account's defaults say.
  b += ",\"tracking_settings\":{\"click_tracking\":{\"enable\":false,\"enable_text\":false},"
       "\"open_tracking\":{\"enable\":false}}}";
  return b;
}

namespace {

// Reads a Mail Send answer; the id of an accepted message is in X-Message-Id.
ProviderReading read_sendgrid(std::string_view body, std::string_view message_id,
                              std::string_view rate_limit_reset, std::int64_t now_unix) {
  ProviderReading r;
  r.message_id = std::string(message_id);
  r.message = error_text(body);
  if (auto reset = parse_decimal(rate_limit_reset)) {
    r.retry_after = std::chrono::seconds(std::max<std::int64_t>(1, *reset - now_unix));
  }
  return r;
}

}  // namespace

SendResult classify_sendgrid_response(long status, std::string_view body,
                                      std::string_view message_id, std::string_view retry_after,
                                      std::string_view rate_limit_reset, std::int64_t now_unix) {
  HttpOutcome o;
  o.status = status;
  o.body = std::string(body);
  o.retry_after = std::string(retry_after);
  return map_http_outcome(
      o,
      [&](const HttpOutcome&) {
        return read_sendgrid(body, message_id, rate_limit_reset, now_unix);
      },
      now_unix);
}

struct SendgridEmailSender::Impl {
  std::function<std::int64_t()> now_unix;
  std::unique_ptr<HttpBatch> http;

  SendResult result(const HttpOutcome& o) const {
    const std::int64_t now = now_unix();
    return map_http_outcome(
        o,
        [now](const HttpOutcome& a) {
          return read_sendgrid(a.body, a.captured[0], a.captured[1], now);
        },
        now);
  }
};

SendgridEmailSender::SendgridEmailSender(SendgridConfig config) : impl_(std::make_unique<Impl>()) {
  if (config.api_key.empty()) throw std::invalid_argument("SendGrid API key is empty");
  auto base = normalize_api_base(config.api_base, "SC_SENDGRID_API_BASE");
  if (!base) throw std::invalid_argument(base.error().message);
  impl_->now_unix = config.now_unix ? config.now_unix
                                    : [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  HttpBatchOptions o;
  o.url = base.value() + "/v3/mail/send";
  o.headers = {"Authorization: Bearer " + config.api_key, "Content-Type: application/json",
               "Accept: application/json"};
  o.capture = {"X-Message-Id", "X-RateLimit-Reset"};
  o.max_in_flight = config.max_in_flight;
  o.connect_timeout_ms = config.connect_timeout_ms;
  o.timeout_ms = config.timeout_ms;
  o.ca_file = config.ca_file;
  impl_->http = std::make_unique<HttpBatch>(std::move(o));
}

SendgridEmailSender::~SendgridEmailSender() = default;

SendResult SendgridEmailSender::send(const OutboundEmail& message) {
  return impl_->result(impl_->http->post({sendgrid_request_body(message), {}}));
}

std::vector<SendResult> SendgridEmailSender::send_batch(std::span<const OutboundEmail> messages) {
  return send_each(
      *impl_->http, messages,
      [](const OutboundEmail& m) {
        return HttpRequest{sendgrid_request_body(m), {}};
      },
      [this](const HttpOutcome& o) { return impl_->result(o); });
}

int SendgridEmailSender::max_in_flight() const { return impl_->http->max_in_flight(); }

void SendgridEmailSender::send_stream(SendFeed<OutboundEmail>& feed) {
  stream_each(
      *impl_->http, feed,
      [](const OutboundEmail& m) {
        return HttpRequest{sendgrid_request_body(m), {}};
      },
      [this](const HttpOutcome& o) { return impl_->result(o); });
}

}  // namespace sc::providers
