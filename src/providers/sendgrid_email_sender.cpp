#include "sc/providers/sendgrid_email_sender.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "http_batch.h"
#include "sc/core/text.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxErrorText = 1000;


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
  static constexpr std::string_view kForbidden[] = {
      "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding", "to",
      "from", "subject", "reply-to", "cc", "bcc", "date", "message-id", "mime-version"};
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
  if (out.size() > kMaxErrorText) out.resize(kMaxErrorText);
  return out;
}

}  // namespace

Result<std::string> normalize_api_base(std::string_view base) {
  auto fail = [&](const std::string& why) {
    return invalid("invalid_api_base",
                   "SC_SENDGRID_API_BASE \"" + std::string(base) + "\" " + why + " (expected https://host[:port])",
                   "SC_SENDGRID_API_BASE");
  };
  std::string_view rest;
  if (base.rfind("https://", 0) == 0) {
    rest = base.substr(8);
  } else if (base.rfind("http://", 0) == 0) {
    rest = base.substr(7);
  } else {
    return fail("is not an http(s) URL");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return fail("has no host");
  for (char c : rest) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '/' || c == '?' || c == '#' || c == '@' || c == '\\') {
      return fail("must be only scheme://host[:port], with no path, query or credentials");
    }
  }
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    auto port = parse_decimal(rest.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535) return fail("has a bad port");
  }
  return std::string(base.substr(0, base.size() - (base.back() == '/' ? 1 : 0)));
}

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
  if (!m.list_unsubscribe_url.empty()) unsub = "<" + sanitize_header_value(m.list_unsubscribe_url) + ">";
  if (!m.list_unsubscribe_mailto.empty()) {
    std::string mailto = sanitize_header_value(m.list_unsubscribe_mailto);
    if (mailto.rfind("mailto:", 0) != 0) mailto = "mailto:" + mailto;
    unsub += (unsub.empty() ? "<" : ", <") + mailto + ">";
  }
  if (!unsub.empty()) set_header("List-Unsubscribe", std::move(unsub));
  if (!m.list_unsubscribe_url.empty()) set_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  if (!m.list_id.empty()) set_header("List-Id", sanitize_header_value(m.list_id));

  std::string b;
  b.reserve(512 + m.text.size() + m.html.size() + m.subject.size());
  b += "{\"personalizations\":[{\"to\":[";
  append_mailbox(b, m.to.address, m.to.display_name);
  b += "]}],\"from\":";
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
  // custom_args is an object of strings (the published spec says "string";
  // the real API and the official libraries send an object).
  b += ",\"custom_args\":{\"outbox_id\":\"" + std::to_string(m.outbox_id) + "\"}}";
  return b;
}

SendResult classify_sendgrid_response(long status, std::string_view body, std::string_view message_id,
                                      std::string_view retry_after, std::string_view rate_limit_reset,
                                      std::int64_t now_unix) {
  std::string code = std::to_string(status);
  if (status >= 200 && status < 300) return SendResult::sent(code, std::string(message_id));
  std::optional<std::chrono::seconds> after;
  if (auto secs = parse_decimal(retry_after); secs && *secs >= 0) {
    after = std::chrono::seconds(*secs);
  } else if (auto reset = parse_decimal(rate_limit_reset); reset) {
    after = std::chrono::seconds(std::max<std::int64_t>(1, *reset - now_unix));
  }
  if (status == 429 || status >= 500 || status == 408) return SendResult::retryable(code, error_text(body), after);
  if (status >= 400) return SendResult::permanent(code, error_text(body));
  // 1xx/3xx: not an answer SendGrid gives; try again rather than lose the mail.
  return SendResult::retryable(code, "unexpected HTTP status " + code + ": " + error_text(body), after);
}

struct SendgridEmailSender::Impl {
  std::function<std::int64_t()> now_unix;
  std::unique_ptr<HttpBatch> http;

  SendResult result(const HttpOutcome& o) const {
    if (o.curl_code != 0) return SendResult::retryable("curl:" + std::to_string(o.curl_code), o.curl_error);
    return classify_sendgrid_response(o.status, o.body, o.captured[0], o.captured[1], o.captured[2], now_unix());
  }
};

SendgridEmailSender::SendgridEmailSender(SendgridConfig config) : impl_(std::make_unique<Impl>()) {
  if (config.api_key.empty()) throw std::invalid_argument("SendGrid API key is empty");
  auto base = normalize_api_base(config.api_base);
  if (!base) throw std::invalid_argument(base.error().message);
  impl_->now_unix = config.now_unix ? config.now_unix : [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  HttpBatchOptions o;
  o.url = base.value() + "/v3/mail/send";
  o.headers = {"Authorization: Bearer " + config.api_key, "Content-Type: application/json", "Accept: application/json"};
  o.capture = {"X-Message-Id", "Retry-After", "X-RateLimit-Reset"};
  o.max_in_flight = config.max_in_flight;
  o.connect_timeout_ms = config.connect_timeout_ms;
  o.timeout_ms = config.timeout_ms;
  o.ca_file = config.ca_file;
  impl_->http = std::make_unique<HttpBatch>(std::move(o));
}

SendgridEmailSender::~SendgridEmailSender() = default;

SendResult SendgridEmailSender::send(const OutboundEmail& message) {
  return impl_->result(impl_->http->post(sendgrid_request_body(message)));
}

std::vector<SendResult> SendgridEmailSender::send_batch(std::span<const OutboundEmail> messages) {
  return send_each(*impl_->http, messages, [](const OutboundEmail& m) { return sendgrid_request_body(m); },
                   [this](const HttpOutcome& o) { return impl_->result(o); });
}

}  // namespace sc::providers
