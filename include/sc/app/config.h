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
#include "sc/storage/location.h"

namespace sc {

// A configuration that cannot work: main prints the one line and exits 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  // No default here: load_config gives every field the default of its row in
  // the table (src/app/config.cpp), the one place defaults are written.
  std::string listen_host;
  int listen_port{};
  std::string
      metrics_host;  // SC_METRICS_LISTEN; empty: /metrics only on the main listener, with a key
  int metrics_port{};
  // SC_DB as storage opens it (storage::parse_location): the SQLite file, or
  // the PostgreSQL URL with connect_timeout added; db_redacted is the same
  // without a password, for logs and messages.
  std::string db_path;
  std::string db_redacted;
  storage::Backend db_backend{};
  int db_connect_timeout_seconds{};  // SC_DB_CONNECT_TIMEOUT_SECONDS
  int db_write_connections{};        // SC_DB_WRITE_CONNECTIONS (PostgreSQL)
  std::string public_url;
  std::string secret;       // empty: SC_SECRET_FILE, or generated beside the database
  std::string secret_file;  // SC_SECRET_FILE
  std::vector<std::string> admin_keys;
  std::string org_name;
  std::string postal_address;
  Mailbox email_from;
  std::string email_bounce;  // envelope sender; SC_EMAIL_BOUNCE_ADDRESS
  std::string list_unsubscribe_mailto;
  providers::EmailProviderConfig email;
  providers::SmsProviderConfig sms;
  std::string default_region;
  std::vector<std::string> sms_countries;
  bool signup_limits{};
  // Confirmation texts (SMS pumping): per client IP and per number prefix an
  // hour, per number and in all a day; 0 lifts one (sc/core/sms_limits.h).
  std::int64_t sms_confirm_limit_per_ip{};
  std::int64_t sms_confirm_limit_per_number{};
  std::int64_t sms_confirm_limit_per_prefix{};
  std::int64_t sms_confirm_daily_cap{};
  std::int64_t confirm_cooldown_seconds{};
  std::int64_t retry_base_seconds{};
  int max_attempts{};
  int dispatch_batch{};
  // Per provider: messages/s over any 1 s window (0 = unlimited) and
  // messages with the provider at once (0 = the provider's own cap).
  int email_rate_limit{}, sms_rate_limit{};
  int broadcast_pause_after_errors{};
  int broadcast_chunk_rows{};  // recipients per snapshot transaction
  // Imports: the largest upload (bytes, rows), and the confirmations a
  // pending import queues per second on each channel.
  std::int64_t import_max_bytes{}, import_max_rows{};
  int import_confirms_per_second{};
  // SC_INSTANCE_NAME; empty: host name:listen port (serve.cpp, instance_name)
  std::string instance_name;
  int sms_max_segments{};
  int sms_window_start_minute{}, sms_window_end_minute{};
  int email_concurrency{}, sms_concurrency{};
  std::size_t http_max_threads{};
  std::size_t http_max_connections_per_ip{};  // SC_HTTP_MAX_CONNECTIONS_PER_IP
  std::string trusted_proxies;                // SC_TRUSTED_PROXIES, a CIDR list (validated)
  bool synchronous_full{};
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
// Nothing to do for a PostgreSQL SC_DB.
void check_data_dir(const Config& config);
// Returns SC_SECRET, or the key in SC_SECRET_FILE, or (SQLite only) the key
// kept beside the database (made once, 0600). Checks the directory first;
// throws ConfigError for a key file that is a symlink, not the service
// user's, or open to group/others, and for a PostgreSQL SC_DB with neither
// SC_SECRET nor SC_SECRET_FILE (every instance must sign with the same key).
std::string resolve_secret(const Config& config);

}  // namespace sc
