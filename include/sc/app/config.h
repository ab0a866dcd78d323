// Config: every setting from the environment (docs/operator-guide.md), optionally
// preceded by KEY=VALUE lines of a config file; validated once at start.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/message.h"
#include "sc/providers/factory.h"

namespace sc {

// A configuration that cannot work: main prints the one line and exits 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string
      metrics_host;  // SC_METRICS_LISTEN; empty: /metrics only on the main listener, with a key
  int metrics_port = 0;
  std::string db_path = "./data/stayconnected.db";
  std::string public_url = "http://127.0.0.1:8080";
  std::string secret;  // empty: generated beside the database
  std::vector<std::string> admin_keys;
  std::string org_name = "Stay Connected";
  std::string postal_address;
  Mailbox email_from{"no-reply@localhost", "Stay Connected"};
  std::string email_bounce;  // envelope sender; SC_EMAIL_BOUNCE_ADDRESS
  std::string list_unsubscribe_mailto;
  providers::EmailProviderConfig email;
  providers::SmsProviderConfig sms;
  std::string default_region = "US";
  std::vector<std::string> sms_countries{"US"};
  bool signup_limits = true;
  // Confirmation texts (SMS pumping): per client IP and per number prefix an
  // hour, per number and in all a day; 0 lifts one (sc/core/sms_limits.h).
  std::int64_t sms_confirm_limit_per_ip = 10;
  std::int64_t sms_confirm_limit_per_number = 3;
  std::int64_t sms_confirm_limit_per_prefix = 10;
  std::int64_t sms_confirm_daily_cap = 1000;
  std::int64_t confirm_cooldown_seconds = 600;
  std::int64_t retry_base_seconds = 15;
  int max_attempts = 12;
  int dispatch_batch = 512;
  // Per provider: messages/s over any 1 s window (0 = unlimited) and
  // messages with the provider at once (0 = the provider's own cap).
  int email_rate_limit = 0, sms_rate_limit = 0;
  int broadcast_pause_after_errors = 50;
  int broadcast_chunk_rows = 5000;  // recipients per snapshot transaction
  int sms_max_segments = 4;
  int sms_window_start_minute = 8 * 60, sms_window_end_minute = 21 * 60;
  int email_concurrency = 0, sms_concurrency = 0;
  std::size_t http_max_threads = 1024;
  std::size_t http_max_connections_per_ip = 64;  // SC_HTTP_MAX_CONNECTIONS_PER_IP
  std::string trusted_proxies;                   // SC_TRUSTED_PROXIES, a CIDR list (validated)
  bool synchronous_full = true;
  std::string templates_dir;
  std::string twilio_auth_token;  // checks X-Twilio-Signature on the webhooks
  // SendGrid's Signed Event Webhook verification key (base64 DER or PEM,
  // checked at load); empty: event posts are refused.
  std::string sendgrid_webhook_public_key;
  std::vector<std::string> warnings;  // e.g. a mistyped variable name
};

using Env = std::map<std::string, std::string>;

// One variable that load_config reads: a row of its table (src/app/config.cpp).
struct ConfigVariable {
  std::string_view name;
  std::string_view fallback;  // the default as written in the environment; empty: none
  std::string_view help;      // one line
};
std::vector<ConfigVariable> config_variables();

Env environment();  // the process environment, SC_* only
// Reads KEY=VALUE lines ('#' comments); throws ConfigError if unreadable.
Env read_config_file(const std::string& path);
// Throws ConfigError with one clear line.
Config load_config(const Env& env);
// Creates the database's directory (0700) if missing; throws ConfigError when
// it is not owned by the service's user (euid) or is writable by group/others.
void check_data_dir(const Config& config);
// Returns SC_SECRET, or the key kept beside the database (made once, 0600).
// Checks the directory first; throws ConfigError for a key file that is a
// symlink, not the service user's, or open to group/others.
std::string resolve_secret(const Config& config);

}  // namespace sc
