// HttpBatch: POSTs to one HTTP API endpoint over reused keep-alive
// connections — one at a time on an easy handle, or many at once on the curl
// multi interface — for the HTTP providers (SendGrid, Twilio, …). A provider
// adds only what is its own: the body of a request and the meaning of an answer.
// Internal to the providers module.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <memory>
#include <mutex>
#include <string>
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

struct HttpOutcome {
  int curl_code = 0;       // 0: an HTTP answer came (CURLE_OK)
  std::string curl_error;  // what libcurl said when curl_code != 0
  long status = 0;
  std::string body;                   // at most 64 KiB: error bodies are small
  std::vector<std::string> captured;  // parallel to HttpBatchOptions::capture
};

class HttpBatch {
 public:
  explicit HttpBatch(HttpBatchOptions options);
  ~HttpBatch();
  HttpBatch(const HttpBatch&) = delete;
  HttpBatch& operator=(const HttpBatch&) = delete;

  HttpOutcome post(const std::string& body);
  // Posts n requests, up to max_in_flight at once; body_for(i) is called just
  // before request i starts. One outcome per request, in order.
  std::vector<HttpOutcome> post_all(std::size_t n, const std::function<std::string(std::size_t)>& body_for);

 private:
  struct Impl;
  std::mutex single_mu_;  // the easy handle used by post()
  std::mutex batch_mu_;   // the multi handle used by post_all()
  std::unique_ptr<Impl> impl_;
};

// Posts one request per message (body_for(message)) and maps every outcome
// to a SendResult with result(outcome): the send_batch of an HTTP provider.
template <class Message, class BodyFor, class ToResult>
std::vector<SendResult> send_each(HttpBatch& http, std::span<const Message> messages, BodyFor body_for,
                                  ToResult result) {
  auto outcomes = http.post_all(messages.size(), [&](std::size_t i) { return body_for(messages[i]); });
  std::vector<SendResult> results;
  results.reserve(outcomes.size());
  for (const auto& o : outcomes) results.push_back(result(o));
  return results;
}

// A whole decimal integer (header values such as Retry-After), spaces trimmed.
std::optional<std::int64_t> parse_decimal(std::string_view s);

}  // namespace sc::providers
