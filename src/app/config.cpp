#include "sc/app/config.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "sc/core/email.h"
#include "sc/core/text.h"
#include "sc/http/cidr.h"
#include "sc/providers/crypto.h"
#include "sc/providers/phone_normalizer.h"

extern char** environ;

namespace sc {
namespace {

std::string get(const Env& env, const char* key, std::string fallback = {}) {
  auto it = env.find(key);
  return it == env.end() || it->second.empty() ? fallback : it->second;
}

std::int64_t get_int(const Env& env, const char* key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  auto v = get(env, key);
  if (v.empty()) return fallback;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) {
    throw ConfigError(std::string(key) + " must be a whole number from " + std::to_string(lo) + " to " +
                      std::to_string(hi) + ", not '" + v + "'");
  }
  return out;
}

Mailbox parse_mailbox(const std::string& raw, const char* key) {
  std::string name, addr;
  auto lt = raw.rfind('<');
  if (lt != std::string::npos && raw.back() == '>') {
    name = std::string(text::trim(std::string_view(raw).substr(0, lt)));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    addr = raw.substr(lt + 1, raw.size() - lt - 2);
  } else {
    addr = raw;
  }
  if (text::has_control(raw)) throw ConfigError(std::string(key) + " must not contain control characters");
  auto e = Email::parse(addr);
  // "no-reply@localhost" has no dot in the domain; allow it for local runs.
  if (!e && addr != "no-reply@localhost") {
    throw ConfigError(std::string(key) + " is not a valid address: '" + raw + "' (" + e.error().message + ")");
  }
  return Mailbox{e ? e->str() : addr, name};
}

}  // namespace

Env environment() {
  Env env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("SC_", 0) == 0) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Env read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file " + path + ": " + std::strerror(errno));
  Env env;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto t = std::string(text::trim(line));
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = t.substr(7);
    auto eq = t.find('=');
    if (eq == std::string::npos) throw ConfigError(path + ":" + std::to_string(n) + ": expected KEY=VALUE");
    auto v = t.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    env[t.substr(0, eq)] = v;
  }
  return env;
}

Config load_config(const Env& env) {
  Config c;
  static const std::set<std::string> kKnown = {
      "SC_LISTEN", "SC_DB", "SC_PUBLIC_URL", "SC_SECRET", "SC_ADMIN_API_KEY", "SC_ORG_NAME",
      "SC_POSTAL_ADDRESS", "SC_EMAIL_PROVIDER", "SC_EMAIL_FROM", "SC_EMAIL_OUTBOX_DIR", "SC_SMTP_URL",
      "SC_SENDGRID_API_KEY", "SC_SENDGRID_API_BASE", "SC_SMS_PROVIDER", "SC_DEFAULT_REGION",
      "SC_SMS_COUNTRIES", "SC_SIGNUP_LIMITS", "SC_SMS_LOG_FILE", "SC_TWILIO_ACCOUNT_SID",
      "SC_TWILIO_AUTH_TOKEN", "SC_TWILIO_FROM", "SC_TWILIO_MESSAGING_SERVICE_SID", "SC_TWILIO_API_BASE",
      "SC_EMAIL_BOUNCE_ADDRESS", "SC_LIST_UNSUBSCRIBE_MAILTO", "SC_SMTP_TLS", "SC_SMTP_CA_FILE",
      "SC_SENDGRID_MAX_IN_FLIGHT", "SC_CONFIRM_COOLDOWN_SECONDS", "SC_RETRY_BASE_SECONDS",
      "SC_MAX_ATTEMPTS", "SC_DISPATCH_BATCH", "SC_HTTP_MAX_THREADS", "SC_SQLITE_SYNCHRONOUS",
      "SC_TEMPLATES_DIR", "SC_HTTP_MAX_CONNECTIONS_PER_IP", "SC_TRUSTED_PROXIES"};
  for (const auto& [k, v] : env) {
    if (k.rfind("SC_", 0) == 0 && kKnown.count(k) == 0) c.warnings.push_back("unknown setting " + k + " is ignored");
  }
  auto listen = get(env, "SC_LISTEN", "127.0.0.1:8080");
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw ConfigError("SC_LISTEN must be address:port, not '" + listen + "'");
  c.listen_host = listen.substr(0, colon);
  if (c.listen_host.size() > 2 && c.listen_host.front() == '[') c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
  {
    Env one{{"SC_LISTEN_PORT", listen.substr(colon + 1)}};
    try {
      c.listen_port = static_cast<int>(get_int(one, "SC_LISTEN_PORT", -1, 0, 65535));
    } catch (const ConfigError&) {
      throw ConfigError("SC_LISTEN has a bad port: '" + listen + "'");
    }
    if (c.listen_port < 0) throw ConfigError("SC_LISTEN has no port: '" + listen + "'");
  }
  c.db_path = get(env, "SC_DB", c.db_path);
  c.public_url = get(env, "SC_PUBLIC_URL", c.public_url);
  if (c.public_url.rfind("http://", 0) != 0 && c.public_url.rfind("https://", 0) != 0) {
    throw ConfigError("SC_PUBLIC_URL must start with http:// or https://, not '" + c.public_url + "'");
  }
  if (text::has_control(c.public_url) || c.public_url.find_first_of(" <>\"") != std::string::npos) {
    throw ConfigError("SC_PUBLIC_URL contains characters a URL cannot hold");
  }
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
  c.secret = get(env, "SC_SECRET");
  if (!c.secret.empty() && c.secret.size() < 16) throw ConfigError("SC_SECRET must be at least 16 characters");
  if (auto k = get(env, "SC_ADMIN_API_KEY"); !k.empty()) {
    if (k.size() < 8) throw ConfigError("SC_ADMIN_API_KEY must be at least 8 characters");
    c.admin_keys.push_back(k);
  }
  c.twilio_auth_token = get(env, "SC_TWILIO_AUTH_TOKEN");
  c.org_name = get(env, "SC_ORG_NAME", c.org_name);
  c.postal_address = get(env, "SC_POSTAL_ADDRESS");
  if (text::has_control(c.org_name) || text::has_control(c.postal_address) || !text::is_valid_utf8(c.org_name) ||
      !text::is_valid_utf8(c.postal_address)) {
    throw ConfigError("SC_ORG_NAME and SC_POSTAL_ADDRESS must be one line of UTF-8 text");
  }
  c.email_from = parse_mailbox(get(env, "SC_EMAIL_FROM", "Stay Connected <no-reply@localhost>"), "SC_EMAIL_FROM");
  if (auto b = get(env, "SC_EMAIL_BOUNCE_ADDRESS"); !b.empty()) c.email_bounce = parse_mailbox(b, "SC_EMAIL_BOUNCE_ADDRESS").address;
  if (auto m = get(env, "SC_LIST_UNSUBSCRIBE_MAILTO"); !m.empty()) {
    c.list_unsubscribe_mailto = "mailto:" + parse_mailbox(m, "SC_LIST_UNSUBSCRIBE_MAILTO").address + "?subject=unsubscribe";
  }

  c.email.kind = get(env, "SC_EMAIL_PROVIDER", "file");
  c.email.outbox_dir = get(env, "SC_EMAIL_OUTBOX_DIR", c.email.outbox_dir);
  c.email.smtp_url = get(env, "SC_SMTP_URL");
  c.email.smtp_tls = get(env, "SC_SMTP_TLS", c.email.smtp_tls);
  c.email.smtp_envelope_from = c.email_bounce;
  c.email.smtp_ca_file = get(env, "SC_SMTP_CA_FILE");
  c.email.sendgrid_api_key = get(env, "SC_SENDGRID_API_KEY");
  c.email.sendgrid_api_base = get(env, "SC_SENDGRID_API_BASE", c.email.sendgrid_api_base);
  c.email.sendgrid_max_in_flight = static_cast<int>(get_int(env, "SC_SENDGRID_MAX_IN_FLIGHT", 64, 1, 1024));

  c.sms.kind = get(env, "SC_SMS_PROVIDER", "log");
  c.sms.log_file = get(env, "SC_SMS_LOG_FILE", c.sms.log_file);
  c.sms.twilio_account_sid = get(env, "SC_TWILIO_ACCOUNT_SID");
  c.sms.twilio_auth_token = get(env, "SC_TWILIO_AUTH_TOKEN");
  c.sms.twilio_from = get(env, "SC_TWILIO_FROM");
  c.sms.twilio_messaging_service_sid = get(env, "SC_TWILIO_MESSAGING_SERVICE_SID");
  c.sms.twilio_api_base = get(env, "SC_TWILIO_API_BASE", c.sms.twilio_api_base);
  c.default_region = get(env, "SC_DEFAULT_REGION", "US");
  if (!providers::LibPhoneNormalizer::is_known_region(c.default_region)) {
    throw ConfigError("SC_DEFAULT_REGION is not a known region code: '" + c.default_region + "'");
  }
  auto countries = providers::LibPhoneNormalizer::parse_region_list(get(env, "SC_SMS_COUNTRIES", "US"));
  if (!countries) throw ConfigError("SC_SMS_COUNTRIES: " + countries.error().message);
  c.sms_countries = countries.value();

  auto limits = get(env, "SC_SIGNUP_LIMITS", "on");
  if (limits != "on" && limits != "off") throw ConfigError("SC_SIGNUP_LIMITS must be on or off, not '" + limits + "'");
  c.signup_limits = limits == "on";
  c.confirm_cooldown_seconds = get_int(env, "SC_CONFIRM_COOLDOWN_SECONDS", 600, 0, 7 * 86400);
  c.retry_base_seconds = get_int(env, "SC_RETRY_BASE_SECONDS", 15, 0, 86400);
  c.max_attempts = static_cast<int>(get_int(env, "SC_MAX_ATTEMPTS", 12, 1, 100));
  c.dispatch_batch = static_cast<int>(get_int(env, "SC_DISPATCH_BATCH", 512, 1, 10000));
  c.http_max_threads = static_cast<std::size_t>(get_int(env, "SC_HTTP_MAX_THREADS", 1024, 16, 16384));
  c.http_max_connections_per_ip =
      static_cast<std::size_t>(get_int(env, "SC_HTTP_MAX_CONNECTIONS_PER_IP", 64, 1, 16384));
  c.trusted_proxies = get(env, "SC_TRUSTED_PROXIES");
  if (auto proxies = CidrSet::parse(c.trusted_proxies); !proxies) {
    throw ConfigError("SC_TRUSTED_PROXIES must be a list of IPv4/IPv6 addresses or CIDR networks: " +
                      proxies.error().message);
  }
  auto sync = get(env, "SC_SQLITE_SYNCHRONOUS", "full");
  if (sync != "full" && sync != "normal") throw ConfigError("SC_SQLITE_SYNCHRONOUS must be full or normal");
  c.synchronous_full = sync == "full";
  c.templates_dir = get(env, "SC_TEMPLATES_DIR");
  if (!c.templates_dir.empty() && !std::filesystem::is_directory(c.templates_dir)) {
    throw ConfigError("SC_TEMPLATES_DIR is not a directory: " + c.templates_dir);
  }
  return c;
}

std::string resolve_secret(const Config& c) {
  if (!c.secret.empty()) return c.secret;
  namespace fs = std::filesystem;
  auto dir = fs::path(c.db_path).parent_path();
  auto file = (dir.empty() ? fs::path(".") : dir) / "secret.key";
  std::ifstream in(file);
  std::string s;
  if (in && std::getline(in, s) && s.size() >= 32) return s;
  // Made once and kept, so links in mail already sent stay valid.
  s = crypto::hex(crypto::random_bytes(32));
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw ConfigError("cannot write the generated secret to " + file.string());
    out << s << "\n";
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, file);
  return s;
}

}  // namespace sc
