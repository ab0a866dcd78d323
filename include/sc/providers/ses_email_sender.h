// SesEmailSender: the `ses` email provider over Amazon SES API v2 SendEmail
// (POST /v2/email/outbound-emails, JSON, SigV4-signed for service "ses"),
// sending the project's own MIME message as Content.Raw so every header we
// build (List-Unsubscribe, List-Unsubscribe-Post, List-Id, Reply-To) reaches
// the recipient as built. Concurrent batches over reused connections.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sc/core/message.h"
#include "sc/core/result.h"

namespace sc::providers {

struct SesConfig {
  std::string region;             // SC_SES_REGION, e.g. "eu-west-1"
  std::string access_key_id;      // SC_SES_ACCESS_KEY_ID
  std::string secret_access_key;  // SC_SES_SECRET_ACCESS_KEY
  std::string session_token;      // SC_SES_SESSION_TOKEN: temporary credentials (optional)
  std::string api_base;           // SC_SES_API_BASE; empty: https://email.<region>.amazonaws.com
  int max_in_flight = 16;         // requests in flight in send_batch
  long connect_timeout_ms = 10'000;
  long timeout_ms = 30'000;
  std::string ca_file;  // extra CA bundle (tests with TLS)
  // Seconds since the epoch: the signing time and Retry-After dates; injectable for tests.
  std::function<std::int64_t()> now_unix;
};

// Checks a configuration and fills in the default API base; the error names
// the variable at fault (SC_SES_REGION, SC_SES_ACCESS_KEY_ID, …).
Result<SesConfig> validate_ses_config(SesConfig config);

// The JSON body of one SendEmail request.
std::string ses_request_body(const OutboundEmail& message);

// The headers of one SendEmail request with `body`, signed at `unix_time`:
// Host, Content-Type, X-Amz-Date, X-Amz-Security-Token (with a session
// token) and Authorization. `config` must have passed validate_ses_config.
std::vector<std::pair<std::string, std::string>> ses_request_headers(const SesConfig& config,
                                                                     std::string_view body,
                                                                     std::int64_t unix_time);

// Maps one HTTP answer to a SendResult (exposed for tests). `error_type` is
// the x-amzn-ErrorType header (may be empty; the body's __type or code is
// read then). The code kept is SES's error type (MessageRejected, …), else
// the HTTP status. Throttling is retried, with `retry_after` honoured;
// errors about our credentials or signature set auth_refused.
SendResult classify_ses_response(long http_status, std::string_view body,
                                 std::string_view error_type, std::string_view retry_after,
                                 std::int64_t now_unix);

class SesEmailSender final : public EmailSender {
 public:
  // Throws std::invalid_argument for a configuration validate_ses_config refuses.
  explicit SesEmailSender(SesConfig config);
  ~SesEmailSender() override;
  std::string name() const override { return "ses"; }
  SendResult send(const OutboundEmail& message) override;
  std::vector<SendResult> send_batch(std::span<const OutboundEmail> messages) override;
  int max_in_flight() const override;
  // Starts the next request as soon as one is answered (curl multi).
  void send_stream(SendFeed<OutboundEmail>& feed) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::providers
