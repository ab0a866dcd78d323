#include "sc/app/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <type_traits>

#include "sc/core/email.h"
#include "sc/core/text.h"
#include "sc/http/cidr.h"
#include "sc/providers/crypto.h"
#include "sc/providers/phone_normalizer.h"
#include "sc/providers/sendgrid_event_verifier.h"

extern char** environ;

namespace sc {
namespace {

[[noreturn]] void bad(std::string_view name, const std::string& what) {
  throw ConfigError(std::string(name) + what);
}

std::int64_t parse_whole(std::string_view name, const std::string& v, std::int64_t lo,
                         std::int64_t hi) {
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi) {
    bad(name, " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                  ", not '" + v + "'");
  }
  return out;
}

Mailbox parse_mailbox(const std::string& raw, std::string_view key) {
  std::string name, addr;
  auto lt = raw.rfind('<');
  if (lt != std::string::npos && raw.back() == '>') {
    name = std::string(text::trim(std::string_view(raw).substr(0, lt)));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
      name = name.substr(1, name.size() - 2);
    addr = raw.substr(lt + 1, raw.size() - lt - 2);
  } else {
    addr = raw;
  }
  if (text::has_control(raw))
    throw ConfigError(std::string(key) + " must not contain control characters");
  auto e = Email::parse(addr);
  // "no-reply@localhost" has no dot in the domain; allow it for local runs.
  if (!e && addr != "no-reply@localhost") {
    throw ConfigError(std::string(key) + " is not a valid address: '" + raw + "' (" +
                      e.error().message + ")");
  }
  return Mailbox{e ? e->str() : addr, name};
}

// --- The table -----------------------------------------------------------------
// Each row is one variable: its name, its default as an operator would write
// it, how it is parsed and checked into its Config field, and one line of help.
// Adding a variable is adding a row (and documenting it in the configuration
// table of docs/operator-guide.md and in deploy/stayconnected.env;
// tests/unit/app checks both name every row).

using Apply = std::function<void(Config&, std::string_view name, const std::string& value)>;

struct Setting {
  std::string_view name;
  std::string_view fallback;
  Apply apply;
  std::string_view help;
};

// The target field: a member pointer, or SC_FIELD(email.smtp_url) for a nested one.
#define SC_FIELD(path) \
  [](Config & c) -> auto& { return c.path; }

template <class F>
Apply text(F field) {
  return [field](Config& c, std::string_view, const std::string& v) { std::invoke(field, c) = v; };
}

template <class F>
Apply whole(F field, std::int64_t lo, std::int64_t hi) {
  return [field, lo, hi](Config& c, std::string_view name, const std::string& v) {
    auto& target = std::invoke(field, c);
    target = static_cast<std::remove_reference_t<decltype(target)>>(parse_whole(name, v, lo, hi));
  };
}

// A two-way switch: `yes` sets the field true, `no` false, anything else is refused.
template <class F>
Apply flag(F field, std::string_view yes, std::string_view no) {
  return [field, yes, no](Config& c, std::string_view name, const std::string& v) {
    if (v != yes && v != no)
      bad(name, " must be " + std::string(yes) + " or " + std::string(no) + ", not '" + v + "'");
    std::invoke(field, c) = v == yes;
  };
}

// address:port (IPv6 in brackets) into host and port; `name` for messages.
void parse_listen(std::string_view name, const std::string& listen, std::string& host,
                  int& port_out) {
  const std::string n(name);
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw ConfigError(n + " must be address:port, not '" + listen + "'");
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  auto port = listen.substr(colon + 1);
  if (port.empty()) throw ConfigError(n + " has no port: '" + listen + "'");
  try {
    port_out = static_cast<int>(parse_whole(name, port, 0, 65535));
  } catch (const ConfigError&) {
    throw ConfigError(n + " has a bad port: '" + listen + "'");
  }
}

void apply_listen(Config& c, std::string_view name, const std::string& listen) {
  parse_listen(name, listen, c.listen_host, c.listen_port);
}

void apply_metrics_listen(Config& c, std::string_view name, const std::string& listen) {
  if (listen.empty()) return;
  parse_listen(name, listen, c.metrics_host, c.metrics_port);
}

void apply_public_url(Config& c, std::string_view, const std::string& v) {
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
    throw ConfigError("SC_PUBLIC_URL must start with http:// or https://, not '" + v + "'");
  }
  if (text::has_control(v) || v.find_first_of(" <>\"") != std::string::npos) {
    throw ConfigError("SC_PUBLIC_URL contains characters a URL cannot hold");
  }
  c.public_url = v;
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
  // Twilio reports each text's delivery there (POST /webhooks/twilio/status).
  c.sms.twilio_status_callback = c.public_url + "/webhooks/twilio/status";
}

// What the service reads its behaviour from (a --config file, the templates)
// is held to secret.key's rules: not a symlink, owned by the service's user
// (or root, who could change it anyway), not writable by group or others.
// `what` names it in the one line the operator sees.
void check_trusted(const std::filesystem::path& path, const struct stat& st,
                   const std::string& what) {
  if (S_ISLNK(st.st_mode))
    throw ConfigError(what + " " + path.string() + " is a symlink; refusing to use it");
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    throw ConfigError(what + " " + path.string() + " is owned by uid " + std::to_string(st.st_uid) +
                      ", not by the service's user (uid " + std::to_string(::geteuid()) +
                      ") or root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw ConfigError(what + " " + path.string() + " is writable by group or others (mode " + mode +
                      "); chmod go-w it");
  }
}

// The directory and everything in it: no symlink anywhere (a link could
// point the service at any file), each entry trusted as above.
void check_templates_dir(const std::string& dir) {
  const std::string what = "SC_TEMPLATES_DIR";
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)))
    throw ConfigError("SC_TEMPLATES_DIR is not a directory: " + dir);
  check_trusted(dir, st, what);
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (::lstat(p.c_str(), &st) != 0)
      throw ConfigError("cannot read " + p.string() +
                        " in SC_TEMPLATES_DIR: " + std::strerror(errno));
    check_trusted(p, st, "the template");
  }
  if (ec) throw ConfigError("cannot read SC_TEMPLATES_DIR " + dir + ": " + ec.message());
}

// SC_PUBLIC_URL unset but SC_LISTEN set: links name where the service
// listens, not the default port. A wildcard address is reached on loopback.
// Port 0 (any free port) cannot be named before the bind: the default stays,
// with a warning.
void derive_public_url(Config& c, const Env& env) {
  auto set = [&](const char* name) {
    auto it = env.find(name);
    return it != env.end() && !it->second.empty();
  };
  if (set("SC_PUBLIC_URL") || !set("SC_LISTEN")) return;
  if (c.listen_port == 0) {
    c.warnings.push_back("SC_LISTEN has port 0 and SC_PUBLIC_URL is unset: links will point at " +
                         c.public_url + "; set SC_PUBLIC_URL");
    return;
  }
  std::string host = c.listen_host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  apply_public_url(c, "SC_PUBLIC_URL", "http://" + host + ":" + std::to_string(c.listen_port));
}

// Text shown in every message: one line of UTF-8.
template <class F>
Apply one_line(F field) {
  return [field](Config& c, std::string_view, const std::string& v) {
    if (text::has_control(v) || !text::is_valid_utf8(v)) {
      throw ConfigError("SC_ORG_NAME and SC_POSTAL_ADDRESS must be one line of UTF-8 text");
    }
    std::invoke(field, c) = v;
  };
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"SC_LISTEN", "127.0.0.1:8080", apply_listen, "address:port to listen on"},
      {"SC_METRICS_LISTEN", "", apply_metrics_listen,
       "a second address:port serving only GET /metrics, without a key; unset: none"},
      // Before SC_DB, which adds it to a PostgreSQL URL.
      {"SC_DB_CONNECT_TIMEOUT_SECONDS", "10", whole(&Config::db_connect_timeout_seconds, 1, 600),
       "seconds a PostgreSQL connection may take to open (added to SC_DB as connect_timeout "
       "unless the URL sets one)"},
      {"SC_DB_WRITE_CONNECTIONS", "4", whole(&Config::db_write_connections, 1, 64),
       "PostgreSQL: writer connections per instance, each group-committing its own batches "
       "(SQLite has one writer)"},
      {"SC_DB", "./data/stayconnected.db",
       [](Config& c, std::string_view name, const std::string& v) {
         try {
           auto location = storage::parse_location(v, c.db_connect_timeout_seconds);
           c.db_path = std::move(location.value);
           c.db_redacted = std::move(location.redacted);
           c.db_backend = location.backend;
         } catch (const std::invalid_argument& e) {
           bad(name, std::string(": ") + e.what());
         }
       },
       "SQLite database file (its directory holds secret.key), or a postgresql:// URL"},
      {"SC_PUBLIC_URL", "http://127.0.0.1:8080", apply_public_url,
       "base URL of links in messages and of webhook signatures; unset: http://SC_LISTEN "
       "(0.0.0.0 and :: read as 127.0.0.1 and ::1)"},
      {"SC_SECRET", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (!v.empty() && v.size() < 16)
           throw ConfigError("SC_SECRET must be at least 16 characters");
         c.secret = v;
       },
       "token-signing key; unset: SC_SECRET_FILE, or (SQLite) generated once and kept beside "
       "the database"},
      {"SC_SECRET_FILE", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (!v.empty() && !c.secret.empty())
           throw ConfigError("SC_SECRET and SC_SECRET_FILE are both set; set only one");
         c.secret_file = v;
       },
       "a file holding the token-signing key (the service user's, mode 0600 or stricter)"},
      {"SC_ADMIN_API_KEY", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (v.empty()) return;
         if (v.size() < 8) throw ConfigError("SC_ADMIN_API_KEY must be at least 8 characters");
         c.admin_keys.push_back(v);
       },
       "an admin API key (Authorization: Bearer ...)"},
      {"SC_TWILIO_AUTH_TOKEN", "",
       [](Config& c, std::string_view, const std::string& v) {
         c.twilio_auth_token = v;  // the webhooks check signatures with it
         c.sms.twilio_auth_token = v;
       },
       "Twilio auth token; also checks inbound webhook signatures"},
      {"SC_ORG_NAME", "Stay Connected", one_line(&Config::org_name),
       "organisation / program name in texts, subjects, footers (not the From name)"},
      {"SC_POSTAL_ADDRESS", "", one_line(&Config::postal_address),
       "postal address in every email footer"},
      {"SC_EMAIL_FROM", "Stay Connected <no-reply@localhost>",
       [](Config& c, std::string_view name, const std::string& v) {
         c.email_from = parse_mailbox(v, name);
       },
       "From address, \"Name <address>\" or a bare address"},
      {"SC_EMAIL_BOUNCE_ADDRESS", "",
       [](Config& c, std::string_view name, const std::string& v) {
         if (v.empty()) return;
         c.email_bounce = parse_mailbox(v, name).address;
         c.email.smtp_envelope_from = c.email_bounce;
       },
       "envelope sender for bounces; unset: the From address"},
      {"SC_LIST_UNSUBSCRIBE_MAILTO", "",
       [](Config& c, std::string_view name, const std::string& v) {
         if (v.empty()) return;
         c.list_unsubscribe_mailto =
             "mailto:" + parse_mailbox(v, name).address + "?subject=unsubscribe";
       },
       "adds a mailto: to List-Unsubscribe"},
      {"SC_EMAIL_PROVIDER", "file", text(SC_FIELD(email.kind)),
       "email provider (checked by the provider factory)"},
      {"SC_EMAIL_OUTBOX_DIR", "./data/outbox", text(SC_FIELD(email.outbox_dir)),
       "where the file provider writes one .eml per message"},
      {"SC_SMTP_URL", "", text(SC_FIELD(email.smtp_url)),
       "smtp://user:pass@host:port, or smtps:// for implicit TLS"},
      {"SC_SMTP_TLS", "required", text(SC_FIELD(email.smtp_tls)),
       "required (STARTTLS must succeed) or none"},
      {"SC_SMTP_CA_FILE", "", text(SC_FIELD(email.smtp_ca_file)),
       "CA bundle for the SMTP server; unset: system CAs"},
      {"SC_SENDGRID_API_KEY", "", text(SC_FIELD(email.sendgrid_api_key)), "SendGrid v3 API key"},
      {"SC_SENDGRID_API_BASE", "https://api.sendgrid.com", text(SC_FIELD(email.sendgrid_api_base)),
       "SendGrid base URL"},
      {"SC_SENDGRID_MAX_IN_FLIGHT", "64", whole(SC_FIELD(email.sendgrid_max_in_flight), 1, 1024),
       "concurrent requests to SendGrid"},
      {"SC_SENDGRID_WEBHOOK_PUBLIC_KEY", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (v.empty()) return;
         try {
           providers::SendgridEventVerifier check(v);
         } catch (const std::invalid_argument&) {
           throw ConfigError(
               "SC_SENDGRID_WEBHOOK_PUBLIC_KEY is not an EC P-256 public key (paste the "
               "Verification Key of SendGrid's Signed Event Webhook: base64, or PEM)");
         }
         c.sendgrid_webhook_public_key = v;
       },
       "Signed Event Webhook verification key; unset: event posts are refused"},
      {"SC_SES_REGION", "", text(SC_FIELD(email.ses_region)), "Amazon SES region, e.g. eu-west-1"},
      {"SC_SES_ACCESS_KEY_ID", "", text(SC_FIELD(email.ses_access_key_id)),
       "AWS access key id for SES"},
      {"SC_SES_SECRET_ACCESS_KEY", "", text(SC_FIELD(email.ses_secret_access_key)),
       "AWS secret access key for SES"},
      {"SC_SES_SESSION_TOKEN", "", text(SC_FIELD(email.ses_session_token)),
       "AWS session token (temporary credentials only)"},
      {"SC_SES_API_BASE", "", text(SC_FIELD(email.ses_api_base)),
       "SES base URL; unset: https://email.<region>.amazonaws.com"},
      {"SC_SMS_PROVIDER", "log", text(SC_FIELD(sms.kind)),
       "log or twilio (checked by the provider factory)"},
      {"SC_SMS_LOG_FILE", "./data/sms.log", text(SC_FIELD(sms.log_file)),
       "where the log provider appends one JSON line per text"},
      {"SC_TWILIO_ACCOUNT_SID", "", text(SC_FIELD(sms.twilio_account_sid)), "Twilio account SID"},
      {"SC_TWILIO_FROM", "", text(SC_FIELD(sms.twilio_from)), "sender number or id for texts"},
      {"SC_TWILIO_MESSAGING_SERVICE_SID", "", text(SC_FIELD(sms.twilio_messaging_service_sid)),
       "a Twilio messaging service as the sender instead"},
      {"SC_TWILIO_API_BASE", "https://api.twilio.com", text(SC_FIELD(sms.twilio_api_base)),
       "Twilio REST base URL"},
      {"SC_TWILIO_MAX_IN_FLIGHT", "16", whole(SC_FIELD(sms.twilio_max_in_flight), 1, 1024),
       "concurrent requests to Twilio"},
      {"SC_TWILIO_TIMEOUT_SECONDS", "30",
       [](Config& c, std::string_view name, const std::string& v) {
         c.sms.timeout_ms = static_cast<long>(parse_whole(name, v, 1, 300) * 1000);
       },
       "seconds to wait for Twilio's answer to one text (then it is retried as ambiguous)"},
      {"SC_DEFAULT_REGION", "US",
       [](Config& c, std::string_view, const std::string& v) {
         if (!providers::LibPhoneNormalizer::is_known_region(v)) {
           throw ConfigError("SC_DEFAULT_REGION is not a known region code: '" + v + "'");
         }
         c.default_region = v;
       },
       "region for phone numbers written without a country code"},
      {"SC_SMS_COUNTRIES", "US",
       [](Config& c, std::string_view, const std::string& v) {
         auto countries = providers::LibPhoneNormalizer::parse_region_list(v);
         if (!countries) throw ConfigError("SC_SMS_COUNTRIES: " + countries.error().message);
         c.sms_countries = countries.value();
       },
       "countries the service texts at all (ISO codes, comma-separated)"},
      {"SC_SIGNUP_LIMITS", "on", flag(&Config::signup_limits, "on", "off"),
       "on, or off to lift every sign-up limit (imports, tests)"},
      {"SC_SMS_CONFIRM_LIMIT_PER_IP", "10", whole(&Config::sms_confirm_limit_per_ip, 0, 1000000),
       "confirmation texts per client IP (IPv6: per /64) an hour; 0 unlimited"},
      {"SC_SMS_CONFIRM_LIMIT_PER_NUMBER", "3",
       whole(&Config::sms_confirm_limit_per_number, 0, 1000000),
       "confirmation texts per number a day; 0 unlimited"},
      {"SC_SMS_CONFIRM_LIMIT_PER_PREFIX", "10",
       whole(&Config::sms_confirm_limit_per_prefix, 0, 1000000),
       "confirmation texts per number prefix (without its last four digits) an hour; 0 unlimited"},
      {"SC_SMS_CONFIRM_DAILY_CAP", "1000", whole(&Config::sms_confirm_daily_cap, 0, 100000000),
       "confirmation texts in all a day (rolling 24 hours); 0 unlimited"},
      {"SC_CONFIRM_COOLDOWN_SECONDS", "600", whole(&Config::confirm_cooldown_seconds, 0, 7 * 86400),
       "wait before the same address gets another confirmation"},
      {"SC_RETRY_BASE_SECONDS", "15", whole(&Config::retry_base_seconds, 0, 86400),
       "first retry delay (doubling)"},
      {"SC_MAX_ATTEMPTS", "12", whole(&Config::max_attempts, 1, 100),
       "attempts before a message fails"},
      {"SC_HTTP_MAX_CONNECTIONS_PER_IP", "64",
       whole(&Config::http_max_connections_per_ip, 1, 16384),
       "concurrent connections per client IP (trusted proxies exempt)"},
      {"SC_TRUSTED_PROXIES", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (auto proxies = CidrSet::parse(v); !proxies) {
           throw ConfigError(
               "SC_TRUSTED_PROXIES must be a list of IPv4/IPv6 addresses or CIDR networks: " +
               proxies.error().message);
         }
         c.trusted_proxies = v;
       },
       "CIDR list of reverse proxies whose X-Forwarded-For is believed; unset: none"},
      {"SC_DISPATCH_BATCH", "512", whole(&Config::dispatch_batch, 1, 10000),
       "messages the dispatcher claims at a time"},
      {"SC_EMAIL_RATE_LIMIT", "0", whole(&Config::email_rate_limit, 0, 1'000'000),
       "emails per second in any 1 s window; 0: unlimited"},
      {"SC_SMS_RATE_LIMIT", "0", whole(&Config::sms_rate_limit, 0, 1'000'000),
       "texts per second in any 1 s window; 0: unlimited"},
      {"SC_BROADCAST_PAUSE_AFTER_ERRORS", "50",
       whole(&Config::broadcast_pause_after_errors, 0, 1'000'000),
       "errors in a row after which a broadcast pauses itself; 0: never"},
      {"SC_BROADCAST_CHUNK_ROWS", "5000", whole(&Config::broadcast_chunk_rows, 1, 1'000'000),
       "recipients written into a broadcast's ledger per transaction"},
      {"SC_IMPORT_MAX_BYTES", "1073741824",
       whole(&Config::import_max_bytes, 1, 64LL * 1024 * 1024 * 1024),
       "the largest import upload, in bytes"},
      {"SC_IMPORT_MAX_ROWS", "5000000", whole(&Config::import_max_rows, 1, 100'000'000),
       "the most rows one import may have"},
      {"SC_IMPORT_CONFIRMS_PER_SECOND", "10",
       whole(&Config::import_confirms_per_second, 1, 1'000'000),
       "confirmations a pending import queues per second on each channel"},
      {"SC_SMS_MAX_SEGMENTS", "4", whole(&Config::sms_max_segments, 1, 10),
       "segments a broadcast text may take (with the STOP line)"},
      {"SC_SMS_SEND_WINDOW", "08:00-21:00",
       [](Config& c, std::string_view name, const std::string& v) {
         int h1, m1, h2, m2;
         char tail;
         if (std::sscanf(v.c_str(), "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &tail) != 4 ||
             v.size() != 11 || h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 ||
             h1 * 60 + m1 >= h2 * 60 + m2 || h2 * 60 + m2 > 24 * 60)
           bad(name, " must be HH:MM-HH:MM with the start before the end, not '" + v + "'");
         c.sms_window_start_minute = h1 * 60 + m1;
         c.sms_window_end_minute = h2 * 60 + m2;
       },
       "local time window in which broadcast texts may reach a recipient"},
      {"SC_EMAIL_CONCURRENCY", "0", whole(&Config::email_concurrency, 0, 10000),
       "emails with the provider at once; 0: the provider's own cap"},
      {"SC_SMS_CONCURRENCY", "0", whole(&Config::sms_concurrency, 0, 10000),
       "texts with the provider at once; 0: the provider's own cap"},
      {"SC_HTTP_MAX_THREADS", "1024", whole(&Config::http_max_threads, 16, 16384),
       "threads serving HTTP connections"},
      {"SC_SQLITE_SYNCHRONOUS", "full", flag(&Config::synchronous_full, "full", "normal"),
       "full (every acknowledged write on disk) or normal"},
      {"SC_INSTANCE_NAME", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (v.size() > 200 || text::has_control(v) || !text::is_valid_utf8(v))
           throw ConfigError("SC_INSTANCE_NAME must be one line of at most 200 characters");
         c.instance_name = v;
       },
       "this instance's name among those on one database, unique while it runs; a restart "
       "under the same name hands back what the last run left leased; unset: host name:port"},
      {"SC_TEMPLATES_DIR", "",
       [](Config& c, std::string_view, const std::string& v) {
         if (!v.empty()) check_templates_dir(v);
         c.templates_dir = v;
       },
       "directory of templates overriding the embedded ones (the service user's or root's, "
       "no symlinks, not writable by group or others)"},
  };
  return kSettings;
}

#undef SC_FIELD

const Setting* find_setting(std::string_view name) {
  for (const auto& s : settings()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

std::vector<ConfigVariable> config_variables() {
  std::vector<ConfigVariable> out;
  for (const auto& s : settings()) out.push_back({s.name, s.fallback, s.help});
  return out;
}

Env environment() {
  Env env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos && kv.rfind("SC_", 0) == 0)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Env read_config_file(const std::string& path) {
  // Opened without following a final symlink, then judged by what was opened.
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP)
    throw ConfigError("the config file " + path + " is a symlink; refusing to use it");
  if (fd < 0) throw ConfigError("cannot read config file " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string content;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  char buf[4096];
  for (ssize_t got; ok && (got = ::read(fd, buf, sizeof buf)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      ok = false;
      break;
    }
    content.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fd);
  if (!ok) throw ConfigError("cannot read config file " + path + ": not a readable file");
  check_trusted(path, st, "the config file");
  std::istringstream in(content);
  Env env;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto t = std::string(text::trim(line));
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = t.substr(7);
    auto eq = t.find('=');
    if (eq == std::string::npos)
      throw ConfigError(path + ":" + std::to_string(n) + ": expected KEY=VALUE");
    auto v = t.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    env[t.substr(0, eq)] = v;
  }
  return env;
}

Config load_config(const Env& env) {
  Config c;
  for (const auto& [k, v] : env) {
    if (k.rfind("SC_", 0) == 0 && find_setting(k) == nullptr)
      c.warnings.push_back("unknown setting " + k + " is ignored");
  }
  // In table order, so with several bad settings the first row's message is the one shown.
  for (const auto& s : settings()) {
    auto it = env.find(std::string(s.name));
    // An empty value counts as unset: `SC_X=` in an env file keeps the default.
    std::string value =
        it == env.end() || it->second.empty() ? std::string(s.fallback) : it->second;
    s.apply(c, s.name, value);
  }
  derive_public_url(c, env);
  return c;
}

namespace {

std::filesystem::path data_dir_of(const Config& c) {
  auto dir = std::filesystem::path(c.db_path).parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

// What the service trusts must be its own: owned by its user and not writable
// by group or others (and, for `private_file`, not readable by them either).
void check_owned(const std::filesystem::path& path, const struct stat& st, const char* what,
                 bool private_file) {
  if (st.st_uid != ::geteuid()) {
    throw ConfigError(std::string(what) + " " + path.string() + " is owned by uid " +
                      std::to_string(st.st_uid) + ", not by the service's user (uid " +
                      std::to_string(::geteuid()) + ")");
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw ConfigError(std::string(what) + " " + path.string() +
                      " is writable by group or others (mode " + mode + "); chmod go-w it");
  }
  if (private_file && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    throw ConfigError(std::string(what) + " " + path.string() +
                      " is readable by group or others (mode " + mode + "); chmod 600 it");
  }
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads a key file (secret.key, or SC_SECRET_FILE: `what` names it),
// refusing a symlink or a file someone else could have planted or read.
// Nullopt: there is none (yet).
std::optional<std::string> read_key_file(const std::filesystem::path& file,
                                         const std::string& what) {
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP)
      throw ConfigError(what + " " + file.string() + " is a symlink; refusing to use it");
    throw ConfigError("cannot read " + what + " " + file.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string s;
  char buf[256];
  bool ok = ::fstat(fd, &st) == 0;
  if (ok && S_ISREG(st.st_mode)) {
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || s.size() > 4096) {
        ok = false;
        break;
      }
      s.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!ok || !S_ISREG(st.st_mode))
    throw ConfigError(what + " " + file.string() + " is not a readable file");
  check_owned(file, st, what.c_str(), true);
  return s.substr(0, s.find('\n'));
}

// secret.key; empty: there is none yet.
std::string read_secret(const std::filesystem::path& file) {
  auto s = read_key_file(file, "the secret file");
  if (!s) return {};
  if (s->size() < 32) {
    throw ConfigError("the secret file " + file.string() +
                      " holds no key of at least 32 characters; remove it to generate one");
  }
  return *s;
}

// SC_SECRET_FILE: the key SC_SECRET would hold, so held to its length.
std::string read_secret_file(const std::string& file) {
  auto s = read_key_file(file, "SC_SECRET_FILE");
  if (!s) throw ConfigError("SC_SECRET_FILE " + file + " does not exist");
  if (s->size() < 16)
    throw ConfigError("SC_SECRET_FILE " + file + " holds no key of at least 16 characters");
  return *s;
}

}  // namespace

void check_data_dir(const Config& c) {
  if (c.db_backend == storage::Backend::kPostgres) return;
  auto dir = data_dir_of(c);
  std::error_code ec;
  // 0700 from the start, whatever the umask: it holds the key and personal data.
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    if (ec)
      throw ConfigError("cannot create the data directory " + dir.string() + ": " + ec.message());
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    throw ConfigError("cannot use the data directory " + dir.string() + ": " +
                      std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    throw ConfigError("the data directory " + dir.string() + " is not a directory");
  check_owned(dir, st, "the data directory", false);
}

std::string resolve_secret(const Config& c) {
  check_data_dir(c);
  if (!c.secret.empty()) return c.secret;
  if (!c.secret_file.empty()) return read_secret_file(c.secret_file);
  if (c.db_backend == storage::Backend::kPostgres) {
    throw ConfigError(
        "SC_DB is a PostgreSQL URL: set SC_SECRET or SC_SECRET_FILE (every instance must sign "
        "links with the same key)");
  }
  auto file = data_dir_of(c) / "secret.key";
  if (auto s = read_secret(file); !s.empty()) return s;
  // Made once and kept, so links in mail already sent stay valid. Written
  // under an unpredictable name, created 0600 with O_EXCL|O_NOFOLLOW (nothing
  // planted there is followed, no moment readable by others), then linked
  // into place: link() never replaces, so a concurrent start keeps one key.
  auto s = crypto::hex(crypto::random_bytes(32));
  auto tmp = file;
  tmp += ".tmp-" + crypto::hex(crypto::random_bytes(8));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    throw ConfigError("cannot write the generated secret to " + file.string() + ": " +
                      std::strerror(errno));
  bool ok = write_all(fd, s + "\n") && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  int err = errno;
  if (ok && ::link(tmp.c_str(), file.c_str()) != 0) {
    err = errno;
    ok = false;
  }
  ::unlink(tmp.c_str());
  if (!ok && err == EEXIST) return read_secret(file);  // another start made it first
  if (!ok)
    throw ConfigError("cannot write the generated secret to " + file.string() + ": " +
                      std::strerror(err));
  return s;
}

}  // namespace sc
