// Builds the configured email and SMS providers, validating their config at
// start so a bad setting fails with one clear line instead of at first send.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sc/core/message.h"
#include "sc/core/result.h"
#include "sc/providers/smtp_email_sender.h"

namespace sc::providers {

struct EmailProviderConfig {
  std::string kind = "file";                 // SC_EMAIL_PROVIDER: file | smtp | sendgrid | ses
  std::string outbox_dir = "./data/outbox";  // SC_EMAIL_OUTBOX_DIR
  std::string smtp_url;                      // SC_SMTP_URL
  std::string smtp_tls = "required";         // SC_SMTP_TLS: required | none
  std::string smtp_envelope_from;            // SC_SMTP_ENVELOPE_FROM
  std::string smtp_ca_file;                  // SC_SMTP_CA_FILE (optional)
  std::string sendgrid_api_key;              // SC_SENDGRID_API_KEY
  std::string sendgrid_api_base = "https://api.sendgrid.com";  // SC_SENDGRID_API_BASE
  int sendgrid_max_in_flight = 64;
  std::string ses_region;             // SC_SES_REGION
  std::string ses_access_key_id;      // SC_SES_ACCESS_KEY_ID
  std::string ses_secret_access_key;  // SC_SES_SECRET_ACCESS_KEY
  std::string ses_session_token;      // SC_SES_SESSION_TOKEN (optional)
  std::string ses_api_base;  // SC_SES_API_BASE; empty: https://email.<region>.amazonaws.com
  long connect_timeout_ms = 10'000;
  long timeout_ms = 60'000;
};

struct SmsProviderConfig {
  std::string kind = "log";                                // SC_SMS_PROVIDER: log | twilio
  std::string log_file = "./data/sms.log";                 // SC_SMS_LOG_FILE
  std::string twilio_account_sid;                          // SC_TWILIO_ACCOUNT_SID
  std::string twilio_auth_token;                           // SC_TWILIO_AUTH_TOKEN
  std::string twilio_from;                                 // SC_TWILIO_FROM
  std::string twilio_messaging_service_sid;                // SC_TWILIO_MESSAGING_SERVICE_SID
  std::string twilio_api_base = "https://api.twilio.com";  // SC_TWILIO_API_BASE
  // StatusCallback of every text: SC_PUBLIC_URL + /webhooks/twilio/status.
  std::string twilio_status_callback;
  int twilio_max_in_flight = 16;
  long connect_timeout_ms = 10'000;
  long timeout_ms = 30'000;
  std::function<std::int64_t()> now_unix;  // for the log's timestamps; empty = system clock
};

// Errors carry code "invalid_config", field = the variable at fault
// ("SC_EMAIL_PROVIDER", "SC_SMTP_URL", …) and a one-line message.
Result<std::unique_ptr<EmailSender>> make_email_sender(const EmailProviderConfig& config);
Result<std::unique_ptr<SmsSender>> make_sms_sender(const SmsProviderConfig& config);

}  // namespace sc::providers
