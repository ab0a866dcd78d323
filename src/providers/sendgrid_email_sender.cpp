#include "sc/providers/sendgrid_email_sender.h"

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "curl_easy.h"
#include "sc/core/text.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxBody = 64 * 1024;  // error bodies are small; never buffer a hostile one whole
constexpr std::size_t kMaxErrorText = 1000;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim_ws(s);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

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
    if (iequals(name, f)) return true;
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
  if (out.empty()) out = std::string(trim_ws(body));
  if (out.size() > kMaxErrorText) out.resize(kMaxErrorText);
  return out;
}

// One request and its response, kept with its easy handle so the handle (and
// for send(), its connection) is reused.
struct Transfer {
  CurlEasy easy;
  CurlSlist headers;
  std::string request;
  std::string body;
  std::string message_id;
  std::string retry_after;
  std::string rate_limit_reset;
  std::size_t index = 0;
  char errbuf[CURL_ERROR_SIZE] = {};

  static size_t write_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    if (t->body.size() < kMaxBody) t->body.append(data, std::min(len, kMaxBody - t->body.size()));
    return len;
  }

  static size_t header_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    std::string_view line(data, len);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line (after 100 Continue or a redirect): forget the old headers.
      t->message_id.clear();
      t->retry_after.clear();
      t->rate_limit_reset.clear();
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    std::string_view name = trim_ws(line.substr(0, colon));
    std::string value(trim_ws(line.substr(colon + 1)));
    if (iequals(name, "X-Message-Id")) {
      t->message_id = std::move(value);
    } else if (iequals(name, "Retry-After")) {
      t->retry_after = std::move(value);
    } else if (iequals(name, "X-RateLimit-Reset")) {
      t->rate_limit_reset = std::move(value);
    }
    return len;
  }
};

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
    auto port = parse_int(rest.substr(colon + 1));
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
  if (auto secs = parse_int(retry_after); secs && *secs >= 0) {
    after = std::chrono::seconds(*secs);
  } else if (auto reset = parse_int(rate_limit_reset); reset) {
    after = std::chrono::seconds(std::max<std::int64_t>(1, *reset - now_unix));
  }
  if (status == 429 || status >= 500 || status == 408) return SendResult::retryable(code, error_text(body), after);
  if (status >= 400) return SendResult::permanent(code, error_text(body));
  // 1xx/3xx: not an answer SendGrid gives; try again rather than lose the mail.
  return SendResult::retryable(code, "unexpected HTTP status " + code + ": " + error_text(body), after);
}

struct SendgridEmailSender::Impl {
  SendgridConfig config;
  std::string url;
  std::string auth_header;
  std::unique_ptr<Transfer> single;
  std::unique_ptr<CurlMulti> multi;
  std::vector<std::unique_ptr<Transfer>> pool;

  std::unique_ptr<Transfer> make_transfer() {
    auto t = std::make_unique<Transfer>();
    CurlEasy& e = t->easy;
    e.set(CURLOPT_URL, url.c_str());
    e.set(CURLOPT_NOSIGNAL, 1L);
    e.set(CURLOPT_POST, 1L);
    t->headers.append(auth_header);
    t->headers.append("Content-Type: application/json");
    t->headers.append("Accept: application/json");
    // No "Expect: 100-continue" round trip for bodies over 1 KiB.
    t->headers.append("Expect:");
    e.set(CURLOPT_HTTPHEADER, t->headers.get());
    e.set(CURLOPT_USERAGENT, "stayconnected/0.1");
    e.set(CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
    e.set(CURLOPT_TIMEOUT_MS, config.timeout_ms);
    e.set(CURLOPT_TCP_KEEPALIVE, 1L);
    if (!config.ca_file.empty()) e.set(CURLOPT_CAINFO, config.ca_file.c_str());
    e.set(CURLOPT_WRITEFUNCTION, &Transfer::write_cb);
    e.set(CURLOPT_WRITEDATA, static_cast<void*>(t.get()));
    e.set(CURLOPT_HEADERFUNCTION, &Transfer::header_cb);
    e.set(CURLOPT_HEADERDATA, static_cast<void*>(t.get()));
    e.set(CURLOPT_ERRORBUFFER, t->errbuf);
    e.set(CURLOPT_PRIVATE, static_cast<void*>(t.get()));
    return t;
  }

  void prepare(Transfer& t, const OutboundEmail& m, std::size_t index) {
    t.request = sendgrid_request_body(m);
    t.body.clear();
    t.message_id.clear();
    t.retry_after.clear();
    t.rate_limit_reset.clear();
    t.errbuf[0] = '\0';
    t.index = index;
    t.easy.set(CURLOPT_POSTFIELDS, t.request.c_str());
    t.easy.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.request.size()));
  }

  SendResult finish(Transfer& t, CURLcode rc) {
    if (rc != CURLE_OK) {
      std::string msg = curl_easy_strerror(rc);
      if (t.errbuf[0] != '\0') msg += std::string(": ") + t.errbuf;
      return SendResult::retryable("curl:" + std::to_string(static_cast<int>(rc)), msg);
    }
    return classify_sendgrid_response(t.easy.response_code(), t.body, t.message_id, t.retry_after,
                                      t.rate_limit_reset, config.now_unix());
  }
};

SendgridEmailSender::SendgridEmailSender(SendgridConfig config) : impl_(std::make_unique<Impl>()) {
  if (config.api_key.empty()) throw std::invalid_argument("SendGrid API key is empty");
  auto base = normalize_api_base(config.api_base);
  if (!base) throw std::invalid_argument(base.error().message);
  if (config.max_in_flight < 1) config.max_in_flight = 1;
  if (!config.now_unix) config.now_unix = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  impl_->url = base.value() + "/v3/mail/send";
  impl_->auth_header = "Authorization: Bearer " + config.api_key;
  impl_->config = std::move(config);
}

SendgridEmailSender::~SendgridEmailSender() {
  // Easy handles must leave the multi handle before either is destroyed.
  if (impl_ && impl_->multi) {
    for (auto& t : impl_->pool) impl_->multi->remove(t->easy.get());
  }
}

SendResult SendgridEmailSender::send(const OutboundEmail& message) {
  std::lock_guard lock(single_mu_);
  if (!impl_->single) impl_->single = impl_->make_transfer();
  Transfer& t = *impl_->single;
  impl_->prepare(t, message, 0);
  CURLcode rc = t.easy.perform();
  return impl_->finish(t, rc);
}

std::vector<SendResult> SendgridEmailSender::send_batch(std::span<const OutboundEmail> messages) {
  std::vector<SendResult> results(messages.size());
  if (messages.empty()) return results;
  std::lock_guard lock(batch_mu_);
  Impl& s = *impl_;
  if (!s.multi) {
    s.multi = std::make_unique<CurlMulti>();
    // Keep every connection of a full window alive between batches.
    s.multi->set(CURLMOPT_MAXCONNECTS, static_cast<long>(s.config.max_in_flight));
  }
  std::size_t window = std::min<std::size_t>(messages.size(), static_cast<std::size_t>(s.config.max_in_flight));
  while (s.pool.size() < window) s.pool.push_back(s.make_transfer());

  std::vector<Transfer*> idle;
  for (std::size_t i = 0; i < window; ++i) idle.push_back(s.pool[i].get());
  std::size_t next = 0, done = 0;
  while (done < messages.size()) {
    while (next < messages.size() && !idle.empty()) {
      Transfer* t = idle.back();
      idle.pop_back();
      s.prepare(*t, messages[next], next);
      s.multi->add(t->easy);
      ++next;
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(s.multi->get(), &running);
    if (mc != CURLM_OK) throw CurlError(std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
    bool progressed = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(s.multi->get(), &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      auto* t = static_cast<Transfer*>(priv);
      CURLcode rc = msg->data.result;  // read before remove: msg is invalid afterwards
      s.multi->remove(t->easy.get());
      results[t->index] = s.finish(*t, rc);
      idle.push_back(t);
      ++done;
      progressed = true;
    }
    if (!progressed && done < messages.size()) {
      mc = curl_multi_poll(s.multi->get(), nullptr, 0, 100, nullptr);
      if (mc != CURLM_OK) throw CurlError(std::string("curl_multi_poll: ") + curl_multi_strerror(mc));
    }
  }
  return results;
}

}  // namespace sc::providers
