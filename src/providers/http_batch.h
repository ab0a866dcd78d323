// HttpBatch: POSTs to one HTTP API endpoint over reused keep-alive
// connections — one at a time on an easy handle, or many at once on the curl
// multi interface — for the HTTP providers (SendGrid, Twilio, SES, …). Each
// request may carry headers of its own (a signature over its body).
// map_http_outcome turns every answer into a SendResult in one place:
// transport errors, statuses, Retry-After, refused credentials. A provider
// adds only what is its own: the request and how to read its answer.
// Internal to the providers module.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/message.h"

namespace sc::providers {

struct HttpBatchOptions {
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
  std::string basic_auth;            // "user:password"; empty for none
  std::vector<std::string> capture;  // response headers to keep (any case)
  int max_in_flight = 64;
  long connect_timeout_ms = 10'000;
  long timeout_ms = 30'000;
  std::string ca_file;  // extra CA bundle (tests with TLS)
};

// One request: its body, and the headers that are its own (a signature
// over this body), sent after HttpBatchOptions::headers.
struct HttpRequest {
  std::string body;
  std::vector<std::string> headers;  // "Name: value" lines
};

struct HttpOutcome {
  int curl_code = 0;       // 0: an HTTP answer came (CURLE_OK)
  std::string curl_error;  // what libcurl said when curl_code != 0
  long status = 0;
  std::string body;                   // at most 64 KiB: error bodies are small
  std::string retry_after;            // the Retry-After header, always kept
  std::vector<std::string> captured;  // parallel to HttpBatchOptions::capture
};

class HttpBatch {
 public:
  explicit HttpBatch(HttpBatchOptions options);
  ~HttpBatch();
  HttpBatch(const HttpBatch&) = delete;
  HttpBatch& operator=(const HttpBatch&) = delete;

  HttpOutcome post(const HttpRequest& request);
  int max_in_flight() const;
  // Posts n requests, up to max_in_flight at once; request_for(i) is called
  // just before request i starts (so a signature's time is its sending
  // time). One outcome per request, in order.
  std::vector<HttpOutcome> post_all(std::size_t n,
                                    const std::function<HttpRequest(std::size_t)>& request_for);
  // Posts requests as next_request gives them, up to max_in_flight at once,
  // and hands each outcome to done(i, outcome) as it comes (i counts the
  // requests from 0). next_request(wait) is called whenever a request could
  // start: with wait (nothing in flight) an empty answer means there are no
  // more; without, it may also mean "not yet" (finished() tells which), and
  // it is asked again within a few ms or after the next answer.
  void post_stream(const std::function<std::optional<HttpRequest>(bool wait)>& next_request,
                   const std::function<bool()>& finished,
                   const std::function<void(std::size_t, HttpOutcome)>& done);

 private:
  struct Impl;
  std::mutex single_mu_;  // the easy handle used by post()
  std::mutex batch_mu_;   // the multi handle used by post_all()
  std::unique_ptr<Impl> impl_;
};

// What a provider reads from one HTTP answer. Everything else about the
// answer is decided by map_http_outcome, the same way for every provider.
struct ProviderReading {
  std::string message_id;  // of a 2xx answer
  std::string code;        // the provider's own error code; empty: the HTTP status
  std::string message;     // the provider's error text; empty: the body, trimmed
  // Empty: decided by the status (401 and 403 refuse our credentials; 408,
  // 429 and 5xx are worth retrying; any other 4xx is permanent).
  std::optional<bool> auth_refused;
  std::optional<bool> retryable;
  // How long to wait when the answer has no usable Retry-After (SendGrid's
  // X-RateLimit-Reset).
  std::optional<std::chrono::seconds> retry_after;
  bool recipient_opted_out = false;      // kept on a permanent answer only
  bool recipient_undeliverable = false;  // likewise (Twilio 21211, 21614)
};

using ReadAnswer = std::function<ProviderReading(const HttpOutcome&)>;

// The one mapping from an HTTP outcome to a SendResult, for every HTTP provider:
// - no answer (connect error, timeout, TLS): Retryable "curl:N";
// - 2xx: Sent, code the status, id read.message_id;
// - refused credentials (read.auth_refused, else 401/403): Permanent with auth_refused;
// - retryable (read.retryable, else 408/429/5xx): Retryable, waiting Retry-After
//   (seconds or an HTTP-date) or else read.retry_after;
// - any other 4xx: Permanent; 1xx/3xx: Retryable (not an answer an API gives).
// `read` is called only for an HTTP answer; `now_unix` dates a Retry-After.
// SendResult::ambiguous (still Retryable) is set for 500, 502, 504 and for a
// transport error after which the request may have arrived
// (curl_outcome_ambiguous); never for 429, 503, a refused connection or DNS.
SendResult map_http_outcome(const HttpOutcome& outcome, const ReadAnswer& read,
                            std::int64_t now_unix);

// True for a curl result after which the provider may have received the
// request (timeout, nothing or part of an answer, a reset while reading).
bool curl_outcome_ambiguous(int curl_code);

// The wait a Retry-After value asks for: delay-seconds, or an HTTP-date
// (RFC 9110 §10.2.3) less `now_unix`, never below zero. Empty when absent or
// unreadable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::int64_t now_unix);

// Posts one request per message (request_for(message)) and maps every
// outcome with result(outcome): the send_batch of an HTTP provider.
template <class Message, class RequestFor, class ToResult>
std::vector<SendResult> send_each(HttpBatch& http, std::span<const Message> messages,
                                  RequestFor request_for, ToResult result) {
  auto outcomes =
      http.post_all(messages.size(), [&](std::size_t i) { return request_for(messages[i]); });
  std::vector<SendResult> results;
  results.reserve(outcomes.size());
  for (const auto& o : outcomes) results.push_back(result(o));
  return results;
}

// The send_stream of an HTTP provider: one request per message the feed
// gives (request_for(message), built just before it starts), each outcome
// mapped with result(outcome) and answered as it comes.
template <class Message, class RequestFor, class ToResult>
void stream_each(HttpBatch& http, SendFeed<Message>& feed, RequestFor request_for,
                 ToResult result) {
  http.post_stream(
      [&](bool wait) -> std::optional<HttpRequest> {
        const Message* m = feed.next(wait);
        if (m == nullptr) return std::nullopt;
        return request_for(*m);
      },
      [&] { return feed.finished(); },
      [&](std::size_t i, const HttpOutcome& o) { feed.answer(i, result(o)); });
}

// A whole decimal integer (header values such as Retry-After), spaces trimmed.
std::optional<std::int64_t> parse_decimal(std::string_view s);

}  // namespace sc::providers
