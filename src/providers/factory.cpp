#include "sc/providers/factory.h"

#include "sc/providers/api_base.h"
#include "sc/providers/file_email_sender.h"
#include "sc/providers/log_sms_sender.h"
#include "sc/providers/sendgrid_email_sender.h"
#include "sc/providers/ses_email_sender.h"
#include "sc/providers/twilio_sms_sender.h"

namespace sc::providers {
namespace {

Error config_error(std::string field, std::string message) {
  return invalid("invalid_config", std::move(message), std::move(field));
}

}  // namespace

Result<std::unique_ptr<EmailSender>> make_email_sender(const EmailProviderConfig& c) {
  if (c.kind == "file") {
    if (c.outbox_dir.empty())
      return config_error("SC_EMAIL_OUTBOX_DIR", "SC_EMAIL_OUTBOX_DIR is empty");
    return std::unique_ptr<EmailSender>(std::make_unique<FileEmailSender>(c.outbox_dir));
  }
  if (c.kind == "smtp") {
    if (c.smtp_url.empty())
      return config_error("SC_SMTP_URL", "SC_EMAIL_PROVIDER=smtp needs SC_SMTP_URL");
    auto url = parse_smtp_url(c.smtp_url);
    if (!url) return config_error("SC_SMTP_URL", url.error().message);
    SmtpConfig sc;
    sc.url = c.smtp_url;
    if (c.smtp_tls == "required" || c.smtp_tls.empty()) {
      sc.tls = SmtpTls::kRequired;
    } else if (c.smtp_tls == "none") {
      sc.tls = SmtpTls::kNone;
    } else {
      return config_error("SC_SMTP_TLS", "SC_SMTP_TLS must be \"required\" or \"none\", not \"" +
                                             c.smtp_tls + "\"");
    }
    sc.envelope_from = c.smtp_envelope_from;
    sc.ca_file = c.smtp_ca_file;
    sc.connect_timeout_ms = c.connect_timeout_ms;
    sc.timeout_ms = c.timeout_ms;
    return std::unique_ptr<EmailSender>(std::make_unique<SmtpEmailSender>(std::move(sc)));
  }
  if (c.kind == "sendgrid") {
    if (c.sendgrid_api_key.empty()) {
      return config_error("SC_SENDGRID_API_KEY",
                          "SC_EMAIL_PROVIDER=sendgrid needs SC_SENDGRID_API_KEY");
    }
    auto base = normalize_api_base(c.sendgrid_api_base, "SC_SENDGRID_API_BASE");
    if (!base) return config_error("SC_SENDGRID_API_BASE", base.error().message);
    if (c.sendgrid_max_in_flight < 1) {
      return config_error("SC_SENDGRID_MAX_IN_FLIGHT",
                          "SendGrid requests in flight must be at least 1");
    }
    SendgridConfig sg;
    sg.api_key = c.sendgrid_api_key;
    sg.api_base = base.value();
    sg.max_in_flight = c.sendgrid_max_in_flight;
    sg.connect_timeout_ms = c.connect_timeout_ms;
    sg.timeout_ms = c.timeout_ms;
    return std::unique_ptr<EmailSender>(std::make_unique<SendgridEmailSender>(std::move(sg)));
  }
  if (c.kind == "ses") {
    SesConfig ses;
    ses.region = c.ses_region;
    ses.access_key_id = c.ses_access_key_id;
    ses.secret_access_key = c.ses_secret_access_key;
    ses.session_token = c.ses_session_token;
    ses.api_base = c.ses_api_base;
    ses.connect_timeout_ms = c.connect_timeout_ms;
    ses.timeout_ms = c.timeout_ms;
    auto valid = validate_ses_config(std::move(ses));
    if (!valid) return config_error(valid.error().field, valid.error().message);
    return std::unique_ptr<EmailSender>(std::make_unique<SesEmailSender>(std::move(valid).value()));
  }
  return config_error(
      "SC_EMAIL_PROVIDER",
      "SC_EMAIL_PROVIDER must be file, smtp, sendgrid or ses, not \"" + c.kind + "\"");
}

Result<std::unique_ptr<SmsSender>> make_sms_sender(const SmsProviderConfig& c) {
  if (c.kind == "log") {
    if (c.log_file.empty()) return config_error("SC_SMS_LOG_FILE", "SC_SMS_LOG_FILE is empty");
    return std::unique_ptr<SmsSender>(std::make_unique<LogSmsSender>(c.log_file, c.now_unix));
  }
  if (c.kind == "twilio") {
    TwilioConfig t;
    t.account_sid = c.twilio_account_sid;
    t.auth_token = c.twilio_auth_token;
    t.from = c.twilio_from;
    t.messaging_service_sid = c.twilio_messaging_service_sid;
    t.api_base = c.twilio_api_base;
    t.status_callback = c.twilio_status_callback;
    t.max_in_flight = c.twilio_max_in_flight;
    t.connect_timeout_ms = c.connect_timeout_ms;
    t.timeout_ms = c.timeout_ms;
    auto valid = validate_twilio_config(std::move(t));
    if (!valid) return config_error(valid.error().field, valid.error().message);
    return std::unique_ptr<SmsSender>(std::make_unique<TwilioSmsSender>(std::move(valid).value()));
  }
  return config_error("SC_SMS_PROVIDER",
                      "SC_SMS_PROVIDER must be log or twilio, not \"" + c.kind + "\"");
}

}  // namespace sc::providers
