// SendgridEmailSender: the `sendgrid` email provider over the v3 Mail Send
// API (POST /v3/mail/send), with concurrent batches on the curl multi API.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sc/core/message.h"
#include "sc/core/result.h"

namespace sc::providers {

struct SendgridConfig {
  std::string api_key;
  std::string api_base = "https://api.sendgrid.com";  // scheme://host[:port], no path
  int max_in_flight = 64;                             // requests in flight in send_batch
  long connect_timeout_ms = 10'000;
  long timeout_ms = 30'000;
  std::string ca_file;  // extra CA bundle (tests with TLS)
  // Seconds since epoch, for X-RateLimit-Reset; injectable for tests.
  std::function<std::int64_t()> now_unix;
};

// The JSON body of one Mail Send request, as SendGrid documents it.
std::string sendgrid_request_body(const OutboundEmail& message);

// Maps one HTTP answer to a SendResult (exposed for tests). `retry_after`
// and `rate_limit_reset` are the raw header values (may be empty). 401 and
// 403 set auth_refused.
SendResult classify_sendgrid_response(long http_status, std::string_view body,
                                      std::string_view message_id, std::string_view retry_after,
                                      std::string_view rate_limit_reset, std::int64_t now_unix);

class SendgridEmailSender final : public EmailSender {
 public:
  // Throws std::invalid_argument on an empty key or a bad api_base.
  explicit SendgridEmailSender(SendgridConfig config);
  ~SendgridEmailSender() override;
  std::string name() const override { return "sendgrid"; }
  SendResult send(const OutboundEmail& message) override;
  // Up to max_in_flight requests at once over reused keep-alive connections;
  // one result per message, in order.
  std::vector<SendResult> send_batch(std::span<const OutboundEmail> messages) override;
  int max_in_flight() const override;
  // Starts the next request as soon as one is answered (curl multi).
  void send_stream(SendFeed<OutboundEmail>& feed) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::providers
