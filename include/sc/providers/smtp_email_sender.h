// SmtpEmailSender: the `smtp` email provider, libcurl SMTP with STARTTLS or
// implicit TLS, one connection reused across messages.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sc/core/message.h"
#include "sc/core/result.h"

namespace sc::providers {

// How TLS is used on an smtp:// URL (smtps:// is always implicit TLS).
//   kRequired: STARTTLS must succeed, else nothing is sent (the default).
//   kNone:     plain text, for a relay on localhost or a trusted network.
// The app maps SC_SMTP_TLS=required|none to this; a URL may also carry
// `?tls=none` or `?tls=required`, which wins over the config field.
enum class SmtpTls { kRequired, kNone };

struct SmtpConfig {
  std::string url;  // smtp://user:pass@host[:port] or smtps://…; user/pass URL-decoded
  SmtpTls tls = SmtpTls::kRequired;
  std::string envelope_from;  // MAIL FROM when the message has none; empty = the From address
  std::string ca_file;        // extra CA bundle (tests with a self-signed server)
  long connect_timeout_ms = 10'000;
  long timeout_ms = 60'000;  // whole transfer of one message
};

// A parsed smtp URL. scheme is "smtp" or "smtps"; port defaults to 587 for
// smtp (submission) unless the URL names one, and to 465 for smtps.
struct SmtpUrl {
  std::string scheme;
  std::string host;
  int port = 0;
  std::string username;
  std::string password;
  std::optional<SmtpTls> tls;  // from ?tls=
};

// Fails with code "invalid_smtp_url" and a one-line message.
Result<SmtpUrl> parse_smtp_url(std::string_view url);

class SmtpEmailSender final : public EmailSender {
 public:
  // Throws std::invalid_argument when the URL does not parse (the factory
  // validates first, so this is a programming error).
  explicit SmtpEmailSender(SmtpConfig config);
  ~SmtpEmailSender() override;
  std::string name() const override { return "smtp"; }
  // 2xx → kSent (provider_message_id = Message-ID), 4xx and transport
  // failures → kRetryable, 5xx → kPermanent; provider_code is "smtp:<code>"
  // or "curl:<n>", provider_message the server's reply text.
  SendResult send(const OutboundEmail& message) override;

 private:
  struct Impl;
  std::mutex mu_;  // one connection: sends are serialised
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::providers
