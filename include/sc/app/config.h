// Config: every setting from the environment (CONTRACT.md), optionally
// preceded by KEY=VALUE lines of a config file; validated once at start.
#pragma once
#include <map>
#include <stdexcept>
#include <string>
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
  std::int64_t confirm_cooldown_seconds = 600;
  std::int64_t retry_base_seconds = 15;
  int max_attempts = 12;
  int dispatch_batch = 512;
  std::size_t http_max_threads = 1024;
  std::size_t http_max_connections_per_ip = 64;  // SC_HTTP_MAX_CONNECTIONS_PER_IP
  std::string trusted_proxies;                    // SC_TRUSTED_PROXIES, a CIDR list (validated)
  bool synchronous_full = true;
  std::string templates_dir;
  std::string twilio_auth_token;  // checks X-Twilio-Signature on the webhooks
  std::vector<std::string> warnings;  // e.g. a mistyped variable name
};

using Env = std::map<std::string, std::string>;

Env environment();  // the process environment, SC_* only
// Reads KEY=VALUE lines ('#' comments); throws ConfigError if unreadable.
Env read_config_file(const std::string& path);
// Throws ConfigError with one clear line.
Config load_config(const Env& env);
// Returns SC_SECRET, or the key kept beside the database (made once).
std::string resolve_secret(const Config& config);

}  // namespace sc
