#include "http_batch.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string_view>

#include "curl_easy.h"
#include "sc/core/text.h"
#include "sc/providers/api_base.h"

namespace sc::providers {
namespace {

constexpr std::size_t kMaxBody = 64 * 1024;  // never buffer a hostile answer whole
constexpr std::size_t kMaxErrorText = 1000;  // of a provider's error text kept in a SendResult

// One request and its answer, kept with its easy handle so the handle (and
// its connection) is reused.
struct Transfer {
  CurlEasy easy;
  CurlSlist headers;      // the fixed ones (HttpBatchOptions::headers)
  CurlSlist own_headers;  // the fixed ones plus the current request's own
  bool using_own = false;
  const HttpBatchOptions* options = nullptr;
  std::string request;
  HttpOutcome out;
  std::size_t index = 0;
  char errbuf[CURL_ERROR_SIZE] = {};

  static size_t write_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    auto& body = t->out.body;
    if (body.size() < kMaxBody) body.append(data, std::min(len, kMaxBody - body.size()));
    return len;
  }

  static size_t header_cb(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::size_t len = size * n;
    std::string_view line(data, len);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new status line (after 100 Continue or a redirect): forget the old headers.
      std::fill(t->out.captured.begin(), t->out.captured.end(), std::string());
      t->out.retry_after.clear();
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    std::string_view name = text::trim(line.substr(0, colon));
    std::string_view value = text::trim(line.substr(colon + 1));
    if (text::iequals_ascii(name, "Retry-After")) t->out.retry_after = std::string(value);
    const auto& capture = t->options->capture;
    for (std::size_t i = 0; i < capture.size(); ++i) {
      if (text::iequals_ascii(name, capture[i])) t->out.captured[i] = std::string(value);
    }
    return len;
  }

  void start(HttpRequest req, std::size_t i) {
    request = std::move(req.body);
    out = HttpOutcome{};
    out.captured.assign(options->capture.size(), std::string());
    errbuf[0] = '\0';
    index = i;
    if (!req.headers.empty()) {
      own_headers.reset();
      for (const auto& h : options->headers) own_headers.append(h);
      own_headers.append("Expect:");
      for (const auto& h : req.headers) own_headers.append(h);
      easy.set(CURLOPT_HTTPHEADER, own_headers.get());
      using_own = true;
    } else if (using_own) {
      easy.set(CURLOPT_HTTPHEADER, headers.get());
      using_own = false;
    }
    easy.set(CURLOPT_POSTFIELDS, request.c_str());
    easy.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
  }

  HttpOutcome finish(CURLcode rc) {
    out.curl_code = static_cast<int>(rc);
    if (rc != CURLE_OK) {
      out.curl_error = curl_easy_strerror(rc);
      if (errbuf[0] != '\0') out.curl_error += std::string(": ") + errbuf;
    } else {
      out.status = easy.response_code();
    }
    return std::move(out);
  }
};

}  // namespace

std::optional<std::int64_t> parse_decimal(std::string_view s) {
  s = text::trim(s);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::int64_t now_unix) {
  value = text::trim(value);
  if (value.empty()) return std::nullopt;
  if (auto secs = parse_decimal(value)) {
    if (*secs < 0) return std::nullopt;
    return std::chrono::seconds(*secs);
  }
  // An HTTP-date: "Sun, 06 Nov 1994 08:49:37 GMT" (curl_getdate also reads
  // the obsolete forms RFC 9110 says a recipient must accept).
  const std::string date(value);
  const std::time_t at = curl_getdate(date.c_str(), nullptr);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::seconds(std::max<std::int64_t>(0, static_cast<std::int64_t>(at) - now_unix));
}

bool curl_outcome_ambiguous(int curl_code) {
  switch (static_cast<CURLcode>(curl_code)) {
    // The request may have reached the provider and the answer never came
    // (or came in part): it may have taken the message.
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_WRITE_ERROR:
      return true;
    // Anything else failed before a request could be sent: a refused
    // connection, a name that does not resolve, a TLS handshake, a bad URL.
    default:
      return false;
  }
}

SendResult map_http_outcome(const HttpOutcome& o, const ReadAnswer& read, std::int64_t now_unix) {
  if (o.curl_code != 0) {
    auto r = SendResult::retryable("curl:" + std::to_string(o.curl_code), o.curl_error);
    r.ambiguous = curl_outcome_ambiguous(o.curl_code);
    return r;
  }
  ProviderReading r = read(o);
  const std::string status = std::to_string(o.status);
  if (o.status >= 200 && o.status < 300) return SendResult::sent(status, std::move(r.message_id));

  std::string code = r.code.empty() ? status : std::move(r.code);
  std::string message = r.message.empty() ? std::string(text::trim(o.body)) : std::move(r.message);
  if (message.empty()) message = "HTTP " + status;
  if (message.size() > kMaxErrorText) message.resize(kMaxErrorText);

  if (r.auth_refused.value_or(o.status == 401 || o.status == 403)) {
    SendResult refused = SendResult::permanent(std::move(code), std::move(message));
    refused.auth_refused = true;
    return refused;
  }
  auto after = parse_retry_after(o.retry_after, now_unix);
  if (!after) after = r.retry_after;
  if (r.retryable.value_or(o.status == 408 || o.status == 429 || o.status >= 500)) {
    auto retry = SendResult::retryable(std::move(code), std::move(message), after);
    // 500, 502 and 504 may come after the provider took the message (a
    // gateway lost the answer); 503 and 429 say it was not processed.
    retry.ambiguous = o.status == 500 || o.status == 502 || o.status == 504;
    return retry;
  }
  if (o.status >= 400 && o.status < 500) {
    SendResult failed = SendResult::permanent(std::move(code), std::move(message));
    failed.recipient_opted_out = r.recipient_opted_out;
    failed.recipient_undeliverable = r.recipient_undeliverable;
    return failed;
  }
  // 1xx/3xx: not an answer an API gives; try again rather than lose the message.
  return SendResult::retryable(std::move(code), "unexpected HTTP status " + status + ": " + message,
                               after);
}

Result<std::string> normalize_api_base(std::string_view base, std::string_view variable) {
  auto fail = [&](const std::string& why) {
    return invalid("invalid_api_base",
                   std::string(variable) + " \"" + std::string(base) + "\" " + why +
                       " (expected https://host[:port])",
                   std::string(variable));
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

struct HttpBatch::Impl {
  HttpBatchOptions options;
  std::unique_ptr<Transfer> single;
  std::unique_ptr<CurlMulti> multi;
  std::vector<std::unique_ptr<Transfer>> pool;

  std::unique_ptr<Transfer> make_transfer() {
    auto t = std::make_unique<Transfer>();
    t->options = &options;
    CurlEasy& e = t->easy;
    e.set(CURLOPT_URL, options.url.c_str());
    e.set(CURLOPT_NOSIGNAL, 1L);
    e.set(CURLOPT_POST, 1L);
    for (const auto& h : options.headers) t->headers.append(h);
    // No "Expect: 100-continue" round trip for bodies over 1 KiB.
    t->headers.append("Expect:");
    e.set(CURLOPT_HTTPHEADER, t->headers.get());
    if (!options.basic_auth.empty()) {
      e.set(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      e.set(CURLOPT_USERPWD, options.basic_auth.c_str());
    }
    e.set(CURLOPT_USERAGENT, SC_USER_AGENT);  // project() in CMakeLists.txt
    e.set(CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
    e.set(CURLOPT_TIMEOUT_MS, options.timeout_ms);
    e.set(CURLOPT_TCP_KEEPALIVE, 1L);
    if (!options.ca_file.empty()) e.set(CURLOPT_CAINFO, options.ca_file.c_str());
    e.set(CURLOPT_WRITEFUNCTION, &Transfer::write_cb);
    e.set(CURLOPT_WRITEDATA, static_cast<void*>(t.get()));
    e.set(CURLOPT_HEADERFUNCTION, &Transfer::header_cb);
    e.set(CURLOPT_HEADERDATA, static_cast<void*>(t.get()));
    e.set(CURLOPT_ERRORBUFFER, t->errbuf);
    e.set(CURLOPT_PRIVATE, static_cast<void*>(t.get()));
    return t;
  }
};

HttpBatch::HttpBatch(HttpBatchOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.max_in_flight < 1) options.max_in_flight = 1;
  impl_->options = std::move(options);
}

HttpBatch::~HttpBatch() {
  // Easy handles must leave the multi handle before either is destroyed.
  if (impl_ && impl_->multi) {
    for (auto& t : impl_->pool) impl_->multi->remove(t->easy.get());
  }
}

int HttpBatch::max_in_flight() const { return impl_->options.max_in_flight; }

HttpOutcome HttpBatch::post(const HttpRequest& request) {
  std::lock_guard lock(single_mu_);
  if (!impl_->single) impl_->single = impl_->make_transfer();
  Transfer& t = *impl_->single;
  t.start(request, 0);
  return t.finish(t.easy.perform());
}

std::vector<HttpOutcome> HttpBatch::post_all(
    std::size_t n, const std::function<HttpRequest(std::size_t)>& request_for) {
  std::vector<HttpOutcome> results(n);
  std::size_t next = 0;
  post_stream(
      [&](bool) -> std::optional<HttpRequest> {
        if (next == n) return std::nullopt;
        return request_for(next++);
      },
      [&] { return next == n; }, [&](std::size_t i, HttpOutcome o) { results[i] = std::move(o); });
  return results;
}

void HttpBatch::post_stream(
    const std::function<std::optional<HttpRequest>(bool wait)>& next_request,
    const std::function<bool()>& finished,
    const std::function<void(std::size_t, HttpOutcome)>& done) {
  // How long to poll when the next request is not ready yet: the feed is
  // waiting for its hand-over mark, about a millisecond. 2 ms cost a fast
  // provider a fifth of its rate (texts against a 0 ms sink, whole-process
  // A/B 1.22); 1 ms keeps it (0.98) at 6 % more CPU.
  constexpr int kNotYetPollMs = 1;
  std::lock_guard lock(batch_mu_);
  Impl& s = *impl_;
  if (!s.multi) {
    s.multi = std::make_unique<CurlMulti>();
    // Keep every connection of a full window alive between batches.
    s.multi->set(CURLMOPT_MAXCONNECTS, static_cast<long>(s.options.max_in_flight));
  }
  const auto cap = static_cast<std::size_t>(s.options.max_in_flight);
  std::vector<Transfer*> idle;
  for (auto& t : s.pool) idle.push_back(t.get());
  std::size_t started = 0, in_flight = 0;
  bool end = false;
  try {
    while (true) {
      bool not_yet = false;
      while (!end && in_flight < cap) {
        auto req = next_request(in_flight == 0);
        if (!req) {
          // Asked with wait, an empty answer is the end; without, maybe "not yet".
          if (in_flight == 0 || finished())
            end = true;
          else
            not_yet = true;
          break;
        }
        if (idle.empty()) {
          s.pool.push_back(s.make_transfer());
          idle.push_back(s.pool.back().get());
        }
        Transfer* t = idle.back();
        idle.pop_back();
        t->start(std::move(*req), started++);
        s.multi->add(t->easy);
        ++in_flight;
      }
      if (in_flight == 0) {
        if (end) return;
        continue;  // next_request(true) waits for the next one
      }
      int running = 0;
      CURLMcode mc = curl_multi_perform(s.multi->get(), &running);
      if (mc != CURLM_OK)
        throw CurlError(std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
      bool progressed = false;
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(s.multi->get(), &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        void* priv = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        auto* t = static_cast<Transfer*>(priv);
        CURLcode rc = msg->data.result;  // read before remove: msg is invalid afterwards
        s.multi->remove(t->easy.get());
        idle.push_back(t);
        --in_flight;
        progressed = true;
        done(t->index, t->finish(rc));
      }
      if (!progressed && in_flight > 0) {
        mc = curl_multi_poll(s.multi->get(), nullptr, 0, not_yet ? kNotYetPollMs : 100, nullptr);
        if (mc != CURLM_OK)
          throw CurlError(std::string("curl_multi_poll: ") + curl_multi_strerror(mc));
      }
    }
  } catch (...) {
    // Leave no handle attached, so the next batch can use every one again.
    for (auto& t : s.pool) s.multi->remove(t->easy.get());
    throw;
  }
}

}  // namespace sc::providers
