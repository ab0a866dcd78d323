// TwilioSmsSender: the `twilio` SMS provider over Programmable Messaging
// (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth,
// a form body), with concurrent batches over reused connections.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "sc/core/message.h"
#include "sc/core/result.h"

namespace sc::providers {

struct TwilioConfig {
  std::string account_sid;  // AC + 32 hex digits
  std::string auth_token;
  std::string from;                                 // E.164 sender, or
  std::string messaging_service_sid;                // MG + 32 hex digits (Twilio picks the sender)
  std::string api_base = "https://api.twilio.com";  // scheme://host[:port]
  std::string status_callback;                      // optional StatusCallback URL
  int max_in_flight = 16;
  long connect_timeout_ms = 10'000;
  long timeout_ms = 30'000;
  std::string ca_file;  // extra CA bundle (tests with TLS)
};

// Checks a configuration; the error's field names the variable at fault
// (SC_TWILIO_ACCOUNT_SID, SC_TWILIO_AUTH_TOKEN, SC_TWILIO_FROM, …).
Result<TwilioConfig> validate_twilio_config(TwilioConfig config);

// The form body of one Create Message request.
std::string twilio_request_body(const TwilioConfig& config, const OutboundSms& message);

// Maps one HTTP answer to a SendResult (exposed for tests). The code kept is
// Twilio's error code when the body has one (21610: the recipient replied
// STOP), else the HTTP status; 20003 or 401 (our credentials) sets auth_refused;
// 21211 and 21614 (invalid or not a mobile number) set recipient_undeliverable.
SendResult classify_twilio_response(long http_status, std::string_view body,
                                    std::string_view retry_after);

class TwilioSmsSender final : public SmsSender {
 public:
  // Throws std::invalid_argument for a configuration validate_twilio_config refuses.
  explicit TwilioSmsSender(TwilioConfig config);
  ~TwilioSmsSender() override;
  std::string name() const override { return "twilio"; }
  SendResult send(const OutboundSms& message) override;
  std::vector<SendResult> send_batch(std::span<const OutboundSms> messages) override;
  int max_in_flight() const override;
  // Starts the next request as soon as one is answered (curl multi).
  void send_stream(SendFeed<OutboundSms>& feed) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::providers
