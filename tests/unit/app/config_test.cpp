// load_config is a pure function of the environment: every variable is tested
// here for its default, a valid value and an invalid value with the exact line
// the operator sees (the process prints it after "configuration error: ").
#include "sc/app/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "sc/core/text.h"
#include "support/temp_dir.h"

namespace sc {
namespace {

// The first problem the start-up would report: load_config, then the provider
// factories (which check the provider-specific variables). Empty: none.
std::string problem(const Env& env) {
  try {
    auto c = load_config(env);
    if (auto e = providers::make_email_sender(c.email); !e) return e.error().message;
    if (auto s = providers::make_sms_sender(c.sms); !s) return s.error().message;
    return {};
  } catch (const ConfigError& e) {
    return e.what();
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

using Read = std::function<std::string(const Config&)>;

struct Case {
  const char* name;
  Read read;                  // the field(s) the variable sets, as text
  std::string default_reads;  // what read() gives when the variable is unset
  std::string valid;
  std::string valid_reads;
  // An invalid value and its exact message; invalid_context is what else must
  // be set for the value to matter (e.g. SC_EMAIL_PROVIDER=smtp for SC_SMTP_URL).
  // No message: any text is accepted (a path or a secret), said in `why`.
  std::optional<std::string> invalid;
  std::string message;
  Env invalid_context = {};
};

// The verification key of sendgrid-python's test vector (tests/data).
const std::string kSendgridEventKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
    "2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
const std::string kTwilioSid = "AC0123456789abcdef0123456789abcdef";
const Env kTwilio = {{"SC_SMS_PROVIDER", "twilio"},
                     {"SC_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"},
                     {"SC_TWILIO_AUTH_TOKEN", "token"},
                     {"SC_TWILIO_FROM", "+15005550006"}};

std::vector<Case> cases(const testing::TempDir& dir) {
  auto str = [](auto field) -> Read {
    return [field](const Config& c) { return std::string(std::invoke(field, c)); };
  };
  auto num = [](auto field) -> Read {
    return [field](const Config& c) { return std::to_string(std::invoke(field, c)); };
  };
  auto yes = [](auto field) -> Read {
    return
        [field](const Config& c) { return std::string(std::invoke(field, c) ? "true" : "false"); };
  };
  auto whole = [](const char* name, const char* lo, const char* hi, const char* bad) {
    return std::string(name) + " must be a whole number from " + lo + " to " + hi + ", not '" +
           bad + "'";
  };
  return {
      {"SC_LISTEN",
       [](const Config& c) { return c.listen_host + "|" + std::to_string(c.listen_port); },
       "127.0.0.1|8080", "[::1]:9000", "::1|9000", "localhost",
       "SC_LISTEN must be address:port, not 'localhost'"},
      {"SC_DB", str(&Config::db_path), "./data/stayconnected.db", "/var/lib/sc/sc.db",
       "/var/lib/sc/sc.db", "mysql://sc:hunter22@db/sc",
       "SC_DB: mysql:// is not a database this service can use (a SQLite file path, or a "
       "postgresql:// or postgres:// URL)"},
      {"SC_DB_CONNECT_TIMEOUT_SECONDS", num(&Config::db_connect_timeout_seconds), "10", "30", "30",
       "0", whole("SC_DB_CONNECT_TIMEOUT_SECONDS", "1", "600", "0")},
      {"SC_DB_WRITE_CONNECTIONS", num(&Config::db_write_connections), "4", "2", "2", "0",
       whole("SC_DB_WRITE_CONNECTIONS", "1", "64", "0")},
      {"SC_INSTANCE_NAME", str(&Config::instance_name), "", "web-1:8080", "web-1:8080",
       "two\nlines", "SC_INSTANCE_NAME must be one line of at most 200 characters"},
      {"SC_PUBLIC_URL", str(&Config::public_url), "http://127.0.0.1:8080",
       "https://join.example.org/", "https://join.example.org", "ftp://x",
       "SC_PUBLIC_URL must start with http:// or https://, not 'ftp://x'"},
      {"SC_SECRET", str(&Config::secret), "", "0123456789abcdef", "0123456789abcdef", "short",
       "SC_SECRET must be at least 16 characters"},
      {"SC_SECRET_FILE", str(&Config::secret_file), "", "/etc/stayconnected/secret",
       "/etc/stayconnected/secret", std::nullopt,
       "any path; read and checked at start (secret_test), both set: SecretAndSecretFile"},
      {"SC_ADMIN_API_KEY", [](const Config& c) { return join(c.admin_keys); }, "", "admin-key-1",
       "admin-key-1", "short", "SC_ADMIN_API_KEY must be at least 8 characters"},
      {"SC_TWILIO_AUTH_TOKEN",
       [](const Config& c) { return c.twilio_auth_token + "|" + c.sms.twilio_auth_token; },
       "|",
       "tok",
       "tok|tok",
       "",
       "SC_SMS_PROVIDER=twilio needs SC_TWILIO_AUTH_TOKEN",
       {{"SC_SMS_PROVIDER", "twilio"},
        {"SC_TWILIO_ACCOUNT_SID", kTwilioSid},
        {"SC_TWILIO_FROM", "+15005550006"}}},
      {"SC_ORG_NAME", str(&Config::org_name), "Stay Connected", "Friends of the Park",
       "Friends of the Park", "Two\nlines",
       "SC_ORG_NAME and SC_POSTAL_ADDRESS must be one line of UTF-8 text"},
      {"SC_POSTAL_ADDRESS", str(&Config::postal_address), "", "1 Main St", "1 Main St",
       "bad \xff utf-8", "SC_ORG_NAME and SC_POSTAL_ADDRESS must be one line of UTF-8 text"},
      {"SC_EMAIL_FROM",
       [](const Config& c) { return c.email_from.display_name + "|" + c.email_from.address; },
       "Stay Connected|no-reply@localhost", "\"News\" <news@example.org>", "News|news@example.org",
       "not an address", "SC_EMAIL_FROM is not a valid address: 'not an address' (email has no @)"},
      {"SC_EMAIL_BOUNCE_ADDRESS",
       [](const Config& c) { return c.email_bounce + "|" + c.email.smtp_envelope_from; }, "|",
       "bounces@example.org", "bounces@example.org|bounces@example.org", "bounces@",
       "SC_EMAIL_BOUNCE_ADDRESS is not a valid address: 'bounces@' (the domain is not valid)"},
      {"SC_LIST_UNSUBSCRIBE_MAILTO", str(&Config::list_unsubscribe_mailto), "", "unsub@example.org",
       "mailto:unsub@example.org?subject=unsubscribe", "unsub\r\n@example.org",
       "SC_LIST_UNSUBSCRIBE_MAILTO must not contain control characters"},
      {"SC_EMAIL_PROVIDER", str([](const Config& c) -> const std::string& { return c.email.kind; }),
       "file", "sendgrid", "sendgrid", "pigeon",
       "SC_EMAIL_PROVIDER must be file, smtp, sendgrid or ses, not \"pigeon\""},
      {"SC_EMAIL_OUTBOX_DIR",
       str([](const Config& c) -> const std::string& { return c.email.outbox_dir; }),
       "./data/outbox", "/srv/outbox", "/srv/outbox", std::nullopt, "any path"},
      {"SC_SMTP_URL",
       str([](const Config& c) -> const std::string& { return c.email.smtp_url; }),
       "",
       "smtp://u:p@mail.example.org:587",
       "smtp://u:p@mail.example.org:587",
       "http://mail.example.org",
       "SC_SMTP_URL has scheme \"http\" (expected smtp://user:pass@host:port or smtps://\u2026)",
       {{"SC_EMAIL_PROVIDER", "smtp"}}},
      {"SC_SMTP_TLS",
       str([](const Config& c) -> const std::string& { return c.email.smtp_tls; }),
       "required",
       "none",
       "none",
       "maybe",
       "SC_SMTP_TLS must be \"required\" or \"none\", not \"maybe\"",
       {{"SC_EMAIL_PROVIDER", "smtp"}, {"SC_SMTP_URL", "smtp://mail.example.org:587"}}},
      {"SC_SMTP_CA_FILE",
       str([](const Config& c) -> const std::string& { return c.email.smtp_ca_file; }), "",
       "/etc/ssl/ca.pem", "/etc/ssl/ca.pem", std::nullopt,
       "any path; curl reports an unreadable bundle per send"},
      {"SC_SENDGRID_API_KEY",
       str([](const Config& c) -> const std::string& { return c.email.sendgrid_api_key; }),
       "",
       "SG.key",
       "SG.key",
       "",
       "SC_EMAIL_PROVIDER=sendgrid needs SC_SENDGRID_API_KEY",
       {{"SC_EMAIL_PROVIDER", "sendgrid"}}},
      {"SC_SENDGRID_API_BASE",
       str([](const Config& c) -> const std::string& { return c.email.sendgrid_api_base; }),
       "https://api.sendgrid.com",
       "http://127.0.0.1:9999",
       "http://127.0.0.1:9999",
       "ftp://x",
       "",  // message filled in below
       {{"SC_EMAIL_PROVIDER", "sendgrid"}, {"SC_SENDGRID_API_KEY", "SG.key"}}},
      {"SC_SENDGRID_MAX_IN_FLIGHT",
       num([](const Config& c) { return c.email.sendgrid_max_in_flight; }), "64", "8", "8", "0",
       whole("SC_SENDGRID_MAX_IN_FLIGHT", "1", "1024", "0")},
      {"SC_SENDGRID_WEBHOOK_PUBLIC_KEY", str(&Config::sendgrid_webhook_public_key), "",
       kSendgridEventKey, kSendgridEventKey, "not a key",
       "SC_SENDGRID_WEBHOOK_PUBLIC_KEY is not an EC P-256 public key (paste the Verification Key "
       "of SendGrid's Signed Event Webhook: base64, or PEM)"},
      {"SC_SES_REGION",
       str([](const Config& c) -> const std::string& { return c.email.ses_region; }),
       "",
       "eu-west-1",
       "eu-west-1",
       "EU WEST",
       "SC_SES_REGION \"EU WEST\" is not an AWS region name such as us-east-1",
       {{"SC_EMAIL_PROVIDER", "ses"},
        {"SC_SES_ACCESS_KEY_ID", "AKIDEXAMPLE"},
        {"SC_SES_SECRET_ACCESS_KEY", "s3cret"}}},
      {"SC_SES_ACCESS_KEY_ID",
       str([](const Config& c) -> const std::string& { return c.email.ses_access_key_id; }),
       "",
       "AKIDEXAMPLE",
       "AKIDEXAMPLE",
       "AKID EXAMPLE",
       "SC_SES_ACCESS_KEY_ID must be letters and digits only (e.g. AKIA\u2026)",
       {{"SC_EMAIL_PROVIDER", "ses"},
        {"SC_SES_REGION", "eu-west-1"},
        {"SC_SES_SECRET_ACCESS_KEY", "s3cret"}}},
      {"SC_SES_SECRET_ACCESS_KEY",
       str([](const Config& c) -> const std::string& { return c.email.ses_secret_access_key; }),
       "",
       "s3cret",
       "s3cret",
       "s3 cret",
       "SC_SES_SECRET_ACCESS_KEY contains spaces or control characters",
       {{"SC_EMAIL_PROVIDER", "ses"},
        {"SC_SES_REGION", "eu-west-1"},
        {"SC_SES_ACCESS_KEY_ID", "AKIDEXAMPLE"}}},
      {"SC_SES_SESSION_TOKEN",
       str([](const Config& c) -> const std::string& { return c.email.ses_session_token; }),
       "",
       "tok",
       "tok",
       "to k",
       "SC_SES_SESSION_TOKEN contains spaces or control characters",
       {{"SC_EMAIL_PROVIDER", "ses"},
        {"SC_SES_REGION", "eu-west-1"},
        {"SC_SES_ACCESS_KEY_ID", "AKIDEXAMPLE"},
        {"SC_SES_SECRET_ACCESS_KEY", "s3cret"}}},
      {"SC_SES_API_BASE",
       str([](const Config& c) -> const std::string& { return c.email.ses_api_base; }), "",
       "http://127.0.0.1:9999", "http://127.0.0.1:9999", std::nullopt,
       "checked like SC_SENDGRID_API_BASE (SesSenderTest covers its messages)"},
      {"SC_EMAIL_RATE_LIMIT", num([](const Config& c) { return c.email_rate_limit; }), "0", "100",
       "100", "-1", whole("SC_EMAIL_RATE_LIMIT", "0", "1000000", "-1")},
      {"SC_SMS_RATE_LIMIT", num([](const Config& c) { return c.sms_rate_limit; }), "0", "1", "1",
       "1000001", whole("SC_SMS_RATE_LIMIT", "0", "1000000", "1000001")},
      {"SC_BROADCAST_PAUSE_AFTER_ERRORS",
       num([](const Config& c) { return c.broadcast_pause_after_errors; }), "50", "0", "0", "-5",
       whole("SC_BROADCAST_PAUSE_AFTER_ERRORS", "0", "1000000", "-5")},
      {"SC_BROADCAST_CHUNK_ROWS", num([](const Config& c) { return c.broadcast_chunk_rows; }),
       "5000", "200", "200", "0", whole("SC_BROADCAST_CHUNK_ROWS", "1", "1000000", "0")},
      {"SC_IMPORT_MAX_BYTES", num([](const Config& c) { return c.import_max_bytes; }), "1073741824",
       "1000000", "1000000", "0", whole("SC_IMPORT_MAX_BYTES", "1", "68719476736", "0")},
      {"SC_IMPORT_MAX_ROWS", num([](const Config& c) { return c.import_max_rows; }), "5000000",
       "1000", "1000", "-1", whole("SC_IMPORT_MAX_ROWS", "1", "100000000", "-1")},
      {"SC_IMPORT_CONFIRMS_PER_SECOND",
       num([](const Config& c) { return c.import_confirms_per_second; }), "10", "2", "2", "0",
       whole("SC_IMPORT_CONFIRMS_PER_SECOND", "1", "1000000", "0")},
      {"SC_SMS_MAX_SEGMENTS", num([](const Config& c) { return c.sms_max_segments; }), "4", "10",
       "10", "11", whole("SC_SMS_MAX_SEGMENTS", "1", "10", "11")},
      {"SC_SMS_SEND_WINDOW",
       [](const Config& c) {
         return std::to_string(c.sms_window_start_minute) + "-" +
                std::to_string(c.sms_window_end_minute);
       },
       "480-1260", "09:30-20:00", "570-1200", "21:00-08:00",
       "SC_SMS_SEND_WINDOW must be HH:MM-HH:MM with the start before the end, not '21:00-08:00'"},
      {"SC_EMAIL_CONCURRENCY", num([](const Config& c) { return c.email_concurrency; }), "0", "16",
       "16", "x", whole("SC_EMAIL_CONCURRENCY", "0", "10000", "x")},
      {"SC_SMS_CONCURRENCY", num([](const Config& c) { return c.sms_concurrency; }), "0", "4", "4",
       "10001", whole("SC_SMS_CONCURRENCY", "0", "10000", "10001")},
      {"SC_METRICS_LISTEN",
       [](const Config& c) { return c.metrics_host + "|" + std::to_string(c.metrics_port); }, "|0",
       "127.0.0.1:9100", "127.0.0.1|9100", "127.0.0.1:http",
       "SC_METRICS_LISTEN has a bad port: '127.0.0.1:http'"},
      {"SC_HTTP_MAX_CONNECTIONS_PER_IP",
       num([](const Config& c) { return c.http_max_connections_per_ip; }), "64", "8", "8", "0",
       whole("SC_HTTP_MAX_CONNECTIONS_PER_IP", "1", "16384", "0")},
      {"SC_TRUSTED_PROXIES", str(&Config::trusted_proxies), "", "127.0.0.1, ::1 10.0.0.0/8",
       "127.0.0.1, ::1 10.0.0.0/8", "10.0.0.0/33",
       "SC_TRUSTED_PROXIES must be a list of IPv4/IPv6 addresses or CIDR networks: '10.0.0.0/33' "
       "has a bad prefix length"},
      {"SC_SMS_PROVIDER", str([](const Config& c) -> const std::string& { return c.sms.kind; }),
       "log", "twilio", "twilio", "carrier-pigeon",
       "SC_SMS_PROVIDER must be log or twilio, not \"carrier-pigeon\""},
      {"SC_SMS_LOG_FILE", str([](const Config& c) -> const std::string& { return c.sms.log_file; }),
       "./data/sms.log", "/srv/sms.log", "/srv/sms.log", std::nullopt, "any path"},
      {"SC_TWILIO_ACCOUNT_SID",
       str([](const Config& c) -> const std::string& { return c.sms.twilio_account_sid; }), "",
       kTwilioSid, kTwilioSid, "AC1", "SC_TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits",
       kTwilio},
      {"SC_TWILIO_FROM",
       str([](const Config& c) -> const std::string& { return c.sms.twilio_from; }), "",
       "+15005550006", "+15005550006", std::string(65, '1'),
       "SC_TWILIO_FROM must be a phone number or sender id", kTwilio},
      {"SC_TWILIO_MESSAGING_SERVICE_SID",
       str([](const Config& c) -> const std::string& {
         return c.sms.twilio_messaging_service_sid;
       }),
       "",
       "MG0123456789abcdef0123456789abcdef",
       "MG0123456789abcdef0123456789abcdef",
       "MG1",
       "SC_TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits",
       {{"SC_SMS_PROVIDER", "twilio"},
        {"SC_TWILIO_ACCOUNT_SID", kTwilioSid},
        {"SC_TWILIO_AUTH_TOKEN", "token"}}},
      {"SC_TWILIO_API_BASE",
       str([](const Config& c) -> const std::string& { return c.sms.twilio_api_base; }),
       "https://api.twilio.com", "http://127.0.0.1:9999", "http://127.0.0.1:9999", "ftp://x",
       "SC_TWILIO_API_BASE \"ftp://x\" must be https://host[:port]", kTwilio},
      {"SC_TWILIO_MAX_IN_FLIGHT", num([](const Config& c) { return c.sms.twilio_max_in_flight; }),
       "16", "256", "256", "0", whole("SC_TWILIO_MAX_IN_FLIGHT", "1", "1024", "0")},
      {"SC_TWILIO_TIMEOUT_SECONDS", num([](const Config& c) { return c.sms.timeout_ms / 1000; }),
       "30", "5", "5", "0", whole("SC_TWILIO_TIMEOUT_SECONDS", "1", "300", "0")},
      {"SC_DEFAULT_REGION", str(&Config::default_region), "US", "GB", "GB", "XX",
       "SC_DEFAULT_REGION is not a known region code: 'XX'"},
      {"SC_SMS_COUNTRIES", [](const Config& c) { return join(c.sms_countries); }, "US", "US,CA",
       "US,CA", "US,XX", "SC_SMS_COUNTRIES: unknown region code \"XX\""},
      {"SC_SIGNUP_LIMITS", yes(&Config::signup_limits), "true", "off", "false", "maybe",
       "SC_SIGNUP_LIMITS must be on or off, not 'maybe'"},
      {"SC_SMS_CONFIRM_LIMIT_PER_IP", num(&Config::sms_confirm_limit_per_ip), "10", "0", "0", "-1",
       whole("SC_SMS_CONFIRM_LIMIT_PER_IP", "0", "1000000", "-1")},
      {"SC_SMS_CONFIRM_LIMIT_PER_NUMBER", num(&Config::sms_confirm_limit_per_number), "3", "5", "5",
       "three", whole("SC_SMS_CONFIRM_LIMIT_PER_NUMBER", "0", "1000000", "three")},
      {"SC_SMS_CONFIRM_LIMIT_PER_PREFIX", num(&Config::sms_confirm_limit_per_prefix), "10", "50",
       "50", "1000001", whole("SC_SMS_CONFIRM_LIMIT_PER_PREFIX", "0", "1000000", "1000001")},
      {"SC_SMS_CONFIRM_DAILY_CAP", num(&Config::sms_confirm_daily_cap), "1000", "20000", "20000",
       "1e3", whole("SC_SMS_CONFIRM_DAILY_CAP", "0", "100000000", "1e3")},
      {"SC_CONFIRM_COOLDOWN_SECONDS", num(&Config::confirm_cooldown_seconds), "600", "0", "0",
       "604801", whole("SC_CONFIRM_COOLDOWN_SECONDS", "0", "604800", "604801")},
      {"SC_RETRY_BASE_SECONDS", num(&Config::retry_base_seconds), "15", "1", "1", "-1",
       whole("SC_RETRY_BASE_SECONDS", "0", "86400", "-1")},
      {"SC_MAX_ATTEMPTS", num(&Config::max_attempts), "12", "100", "100", "12x",
       whole("SC_MAX_ATTEMPTS", "1", "100", "12x")},
      {"SC_DISPATCH_BATCH", num(&Config::dispatch_batch), "512", "1", "1", "10001",
       whole("SC_DISPATCH_BATCH", "1", "10000", "10001")},
      {"SC_HTTP_MAX_THREADS", num(&Config::http_max_threads), "1024", "16", "16", "15",
       whole("SC_HTTP_MAX_THREADS", "16", "16384", "15")},
      {"SC_SQLITE_SYNCHRONOUS", yes(&Config::synchronous_full), "true", "normal", "false", "off",
       "SC_SQLITE_SYNCHRONOUS must be full or normal, not 'off'"},
      {"SC_TEMPLATES_DIR", str(&Config::templates_dir), "", dir.path().string(),
       dir.path().string(), dir.str("missing"),
       "SC_TEMPLATES_DIR is not a directory: " + dir.str("missing")},
  };
}

class LoadConfigTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

TEST_F(LoadConfigTest, EveryVariableHasATestCaseAndEveryCaseAVariable) {
  std::set<std::string> table, tested;
  for (const auto& v : config_variables()) {
    EXPECT_TRUE(table.insert(std::string(v.name)).second) << "listed twice: " << v.name;
    EXPECT_FALSE(v.help.empty()) << v.name;
    EXPECT_EQ(v.help.find('\n'), std::string_view::npos) << v.name;
  }
  for (const auto& c : cases(dir_)) tested.insert(c.name);
  EXPECT_EQ(table, tested);
}

TEST_F(LoadConfigTest, EveryVariableHasItsDefaultWhenUnsetOrEmpty) {
  const auto unset = load_config({});
  EXPECT_TRUE(unset.warnings.empty());
  for (const auto& c : cases(dir_)) {
    EXPECT_EQ(c.read(unset), c.default_reads) << c.name << " unset";
    // An empty value (`SC_X=` in an env file) keeps the default too.
    EXPECT_EQ(c.read(load_config({{c.name, ""}})), c.default_reads) << c.name << " empty";
  }
}

TEST_F(LoadConfigTest, TheTablesDefaultIsTheDefaultTheFieldGets) {
  // The default column is what an operator reads (help, docs); setting it
  // explicitly must give the same config as leaving the variable unset.
  const auto unset = load_config({});
  const auto all = cases(dir_);
  for (const auto& v : config_variables()) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Case& c) { return c.name == v.name; });
    ASSERT_NE(it, all.end()) << v.name;
    EXPECT_EQ(it->read(load_config({{std::string(v.name), std::string(v.fallback)}})),
              it->read(unset))
        << v.name;
  }
}

TEST_F(LoadConfigTest, EveryVariableTakesAValidValue) {
  for (const auto& c : cases(dir_)) {
    Env env{{c.name, c.valid}};
    Config got;
    ASSERT_NO_THROW(got = load_config(env)) << c.name;
    EXPECT_EQ(c.read(got), c.valid_reads) << c.name;
    EXPECT_TRUE(got.warnings.empty()) << c.name;
  }
}

TEST_F(LoadConfigTest, EveryInvalidValueIsRefusedWithItsOneLineMessage) {
  int checked = 0;
  for (auto c : cases(dir_)) {
    if (!c.invalid) continue;
    if (c.name == std::string("SC_SENDGRID_API_BASE"))
      continue;  // below: its message comes from the sender
    Env env = c.invalid_context;
    env[c.name] = *c.invalid;
    // Without the context the same value must be fine or the test proves nothing about it.
    if (!c.invalid_context.empty()) {
      Env ok = c.invalid_context;
      ok[c.name] = c.valid;
      EXPECT_EQ(problem(ok), "") << c.name << " with a valid value";
    }
    auto message = problem(env);
    EXPECT_EQ(message, c.message) << c.name << " = '" << *c.invalid << "'";
    EXPECT_EQ(message.find('\n'), std::string::npos) << c.name;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST_F(LoadConfigTest, SendgridApiBaseMustBeAnHttpUrl) {
  Env env{{"SC_EMAIL_PROVIDER", "sendgrid"},
          {"SC_SENDGRID_API_KEY", "SG.key"},
          {"SC_SENDGRID_API_BASE", "ftp://x"}};
  auto message = problem(env);
  EXPECT_NE(message.find("ftp://x"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  env["SC_SENDGRID_API_BASE"] = "http://127.0.0.1:9999";
  EXPECT_EQ(problem(env), "");
}

TEST_F(LoadConfigTest, SpecialFormsOfSomeVariables) {
  EXPECT_EQ(problem({{"SC_LISTEN", "127.0.0.1:99999"}}),
            "SC_LISTEN has a bad port: '127.0.0.1:99999'");
  EXPECT_EQ(problem({{"SC_LISTEN", "127.0.0.1:"}}), "SC_LISTEN has no port: '127.0.0.1:'");
  EXPECT_EQ(problem({{"SC_LISTEN", ":80"}}), "SC_LISTEN must be address:port, not ':80'");
  EXPECT_EQ(problem({{"SC_PUBLIC_URL", "https://a b"}}),
            "SC_PUBLIC_URL contains characters a URL cannot hold");
  EXPECT_EQ(load_config({{"SC_EMAIL_FROM", "news@example.org"}}).email_from.display_name, "");
  EXPECT_EQ(load_config({{"SC_LISTEN", "0.0.0.0:0"}}).listen_port, 0);
}

// SC_DB picks the backend; a value that looks like a URL but is none the
// service can use stops the start (it used to name a new SQLite file), and
// the line never shows the password.
TEST_F(LoadConfigTest, DatabaseLocationChoosesTheBackend) {
  auto sqlite = load_config({});
  EXPECT_EQ(sqlite.db_backend, storage::Backend::kSqlite);
  EXPECT_EQ(sqlite.db_redacted, "./data/stayconnected.db");
  auto pg = load_config({{"SC_DB", "postgresql://sc:hunter22@db.internal/sc"}});
  EXPECT_EQ(pg.db_backend, storage::Backend::kPostgres);
  EXPECT_EQ(pg.db_path, "postgresql://sc:hunter22@db.internal/sc?connect_timeout=10");
  EXPECT_EQ(pg.db_redacted, "postgresql://sc:***@db.internal/sc?connect_timeout=10");
  EXPECT_EQ(
      load_config({{"SC_DB", "postgres://db/sc"}, {"SC_DB_CONNECT_TIMEOUT_SECONDS", "3"}}).db_path,
      "postgres://db/sc?connect_timeout=3");
  const std::string accepted = " (a SQLite file path, or a postgresql:// or postgres:// URL)";
  for (const std::string scheme : {"postgressql", "sqlite", "http", "mysql"}) {
    auto line = problem({{"SC_DB", scheme + "://sc:hunter22@db/sc"}});
    EXPECT_EQ(line, "SC_DB: " + scheme + ":// is not a database this service can use" + accepted);
  }
  auto line = problem({{"SC_DB", "postgresql://sc:hunter22@db/sc?bogus=1"}});
  EXPECT_EQ(line,
            "SC_DB: libpq cannot parse the PostgreSQL URL: invalid URI query parameter: \"bogus\"");
  EXPECT_EQ(problem({{"SC_DB", "postgresql://sc:hunter22@[::1/sc"}}).find("hunter22"),
            std::string::npos);
}

TEST_F(LoadConfigTest, SecretAndSecretFile) {
  EXPECT_EQ(problem({{"SC_SECRET", "0123456789abcdef"}, {"SC_SECRET_FILE", "/etc/sc/secret"}}),
            "SC_SECRET and SC_SECRET_FILE are both set; set only one");
  EXPECT_EQ(problem({{"SC_SECRET_FILE", "/etc/sc/secret"}}), "");
  EXPECT_EQ(problem({{"SC_SECRET", "0123456789abcdef"}}), "");
}

// SC_LISTEN without SC_PUBLIC_URL: the links follow the address the
// service listens on (every link pointed at port 8080 before).
TEST_F(LoadConfigTest, PublicUrlFollowsListenWhenUnset) {
  EXPECT_EQ(load_config({}).public_url, "http://127.0.0.1:8080");  // neither set: the default
  EXPECT_EQ(load_config({{"SC_LISTEN", "127.0.0.1:9000"}}).public_url, "http://127.0.0.1:9000");
  EXPECT_EQ(load_config({{"SC_LISTEN", "0.0.0.0:9000"}}).public_url, "http://127.0.0.1:9000");
  EXPECT_EQ(load_config({{"SC_LISTEN", "[::]:9000"}}).public_url, "http://[::1]:9000");
  EXPECT_EQ(load_config({{"SC_LISTEN", "[::1]:9000"}}).public_url, "http://[::1]:9000");
  EXPECT_EQ(load_config({{"SC_LISTEN", "signup.lan:81"}}).public_url, "http://signup.lan:81");
  auto derived = load_config({{"SC_LISTEN", "127.0.0.1:9000"}});
  EXPECT_EQ(derived.sms.twilio_status_callback, "http://127.0.0.1:9000/webhooks/twilio/status");
  EXPECT_TRUE(derived.warnings.empty());
  // An explicit SC_PUBLIC_URL always wins.
  EXPECT_EQ(load_config({{"SC_LISTEN", "0.0.0.0:9000"}, {"SC_PUBLIC_URL", "https://join.example"}})
                .public_url,
            "https://join.example");
  EXPECT_EQ(load_config({{"SC_LISTEN", "127.0.0.1:9000"}, {"SC_PUBLIC_URL", ""}}).public_url,
            "http://127.0.0.1:9000");  // empty counts as unset
  // Port 0 is chosen at the bind: the default stays, and the operator is told.
  auto any_port = load_config({{"SC_LISTEN", "127.0.0.1:0"}});
  EXPECT_EQ(any_port.public_url, "http://127.0.0.1:8080");
  ASSERT_EQ(any_port.warnings.size(), 1u);
  EXPECT_EQ(any_port.warnings[0],
            "SC_LISTEN has port 0 and SC_PUBLIC_URL is unset: links will point at "
            "http://127.0.0.1:8080; set SC_PUBLIC_URL");
}

std::string config_file_problem(const std::string& path) {
  try {
    (void)read_config_file(path);
    return {};
  } catch (const ConfigError& e) {
    return e.what();
  }
}

// --config FILE is held to secret.key's rules: a symlink, or a file others
// could have written, could set any variable (SC_DB, a provider's URL).
TEST(ConfigFileTrust, ASymlinkOrAFileOthersCanWriteIsRefused) {
  testing::TempDir dir;
  const auto file = dir.str("sc.env");
  std::ofstream(file) << "SC_ORG_NAME=File Org\n";
  ::chmod(file.c_str(), 0640);
  EXPECT_EQ(config_file_problem(file), "");
  EXPECT_EQ(read_config_file(file).at("SC_ORG_NAME"), "File Org");

  std::filesystem::create_symlink(file, dir.str("link.env"));
  EXPECT_EQ(config_file_problem(dir.str("link.env")),
            "the config file " + dir.str("link.env") + " is a symlink; refusing to use it");
  for (mode_t mode : {0666, 0646, 0660}) {
    ::chmod(file.c_str(), mode);
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(config_file_problem(file), "the config file " + file +
                                             " is writable by group or others (mode " + m +
                                             "); chmod go-w it");
  }
  EXPECT_NE(config_file_problem(dir.str("missing.env")).find("cannot read config file"),
            std::string::npos);
  EXPECT_NE(config_file_problem(dir.path().string()).find("not a readable file"),
            std::string::npos);
}

std::string templates_problem(const std::string& dir) {
  try {
    (void)load_config({{"SC_TEMPLATES_DIR", dir}});
    return {};
  } catch (const ConfigError& e) {
    return e.what();
  }
}

TEST(ConfigFileTrust, ATemplatesDirWithASymlinkOrOpenToOthersIsRefused) {
  testing::TempDir tmp;
  const auto dir = tmp.path() / "templates";
  std::filesystem::create_directories(dir / "email");
  ::chmod(dir.c_str(), 0755);
  std::ofstream((dir / "email" / "confirm.txt.mustache").string()) << "Hi";
  ::chmod((dir / "email" / "confirm.txt.mustache").c_str(), 0644);
  EXPECT_EQ(templates_problem(dir.string()), "");

  // The directory itself a symlink.
  std::filesystem::create_directory_symlink(dir, tmp.path() / "link");
  EXPECT_EQ(
      templates_problem((tmp.path() / "link").string()),
      "SC_TEMPLATES_DIR " + (tmp.path() / "link").string() + " is a symlink; refusing to use it");
  // A symlink inside it, to a file anywhere.
  std::ofstream(tmp.str("elsewhere")) << "{{secret}}";
  std::filesystem::create_symlink(tmp.str("elsewhere"), dir / "email" / "welcome.txt.mustache");
  EXPECT_EQ(templates_problem(dir.string()), "the template " +
                                                 (dir / "email" / "welcome.txt.mustache").string() +
                                                 " is a symlink; refusing to use it");
  std::filesystem::remove(dir / "email" / "welcome.txt.mustache");
  EXPECT_EQ(templates_problem(dir.string()), "");
  // A template, a subdirectory or the directory writable by others.
  ::chmod((dir / "email" / "confirm.txt.mustache").c_str(), 0666);
  EXPECT_EQ(templates_problem(dir.string()),
            "the template " + (dir / "email" / "confirm.txt.mustache").string() +
                " is writable by group or others (mode 0666); chmod go-w it");
  ::chmod((dir / "email" / "confirm.txt.mustache").c_str(), 0644);
  ::chmod((dir / "email").c_str(), 0777);
  EXPECT_NE(templates_problem(dir.string()).find("is writable by group or others"),
            std::string::npos);
  ::chmod((dir / "email").c_str(), 0755);
  ::chmod(dir.c_str(), 0775);
  EXPECT_EQ(templates_problem(dir.string()),
            "SC_TEMPLATES_DIR " + dir.string() +
                " is writable by group or others (mode 0775); chmod go-w it");
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(templates_problem(dir.string()), "");
}

TEST_F(LoadConfigTest, WithSeveralBadVariablesTheFirstRowIsReported) {
  EXPECT_EQ(problem({{"SC_MAX_ATTEMPTS", "0"}, {"SC_LISTEN", "x"}}),
            "SC_LISTEN must be address:port, not 'x'");
}

TEST_F(LoadConfigTest, UnknownScVariableIsAWarningOthersAreIgnored) {
  auto c = load_config({{"SC_EMAIL_PROVDER", "smtp"}, {"PATH", "/bin"}});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0], "unknown setting SC_EMAIL_PROVDER is ignored");
  EXPECT_EQ(c.email.kind, "file");
}

// The operator guide's configuration table and the env sample name every
// variable, so a row added to the table without its documentation fails here.
TEST_F(LoadConfigTest, OperatorGuideAndEnvSampleNameEveryVariable) {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  auto guide = slurp(std::string(SC_SOURCE_DIR) + "/docs/operator-guide.md");
  auto sample = slurp(std::string(SC_SOURCE_DIR) + "/deploy/stayconnected.env");
  ASSERT_FALSE(guide.empty());
  ASSERT_FALSE(sample.empty());
  for (const auto& v : config_variables()) {
    std::string name(v.name);
    EXPECT_NE(guide.find("`" + name + "`"), std::string::npos)
        << name << " is missing from docs/operator-guide.md";
    EXPECT_NE(sample.find("#" + name + "="), std::string::npos)
        << name << " is missing from deploy/stayconnected.env";
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim_cell(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Splits at `sep` outside `code spans` (a default may hold a comma).
std::vector<std::string> split_outside_code(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  bool code = false;
  for (char c : s) {
    if (c == '`') code = !code;
    if (c == sep && !code) {
      out.emplace_back();
      continue;
    }
    out.back() += c;
  }
  for (auto& part : out) part = trim_cell(part);
  return out;
}

// A row of the operator guide's configuration table: the variables of its
// first cell and the parts of its last (the defaults, in the same order).
struct GuideRow {
  std::vector<std::string> names;
  std::vector<std::string> defaults;
  std::string cell;  // the default cell as written
};

std::vector<GuideRow> guide_rows(const std::string& guide) {
  std::vector<GuideRow> rows;
  std::istringstream in(guide);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `SC_", 0) != 0) continue;
    auto cells = split_outside_code(line.substr(1, line.size() - 2), '|');
    GuideRow row;
    for (std::size_t at = 0; (at = cells.front().find("`SC_", at)) != std::string::npos;) {
      const auto end = cells.front().find('`', at + 1);
      row.names.push_back(cells.front().substr(at + 1, end - at - 1));
      at = end + 1;
    }
    row.cell = cells.back();
    row.defaults = split_outside_code(cells.back(), ',');
    rows.push_back(row);
  }
  return rows;
}

// The table in src/app/config.cpp is the one source of every default; the
// operator guide's table and the env sample repeat it, and must agree: a
// changed default fails here until both say the new one.
TEST_F(LoadConfigTest, OperatorGuideAndEnvSampleShowTheTablesDefaults) {
  const auto guide = slurp(std::string(SC_SOURCE_DIR) + "/docs/operator-guide.md");
  const auto sample = slurp(std::string(SC_SOURCE_DIR) + "/deploy/stayconnected.env");
  const auto rows = guide_rows(guide);
  ASSERT_GE(rows.size(), 30u);
  std::map<std::string, std::string> fallback;
  for (const auto& v : config_variables()) fallback[std::string(v.name)] = std::string(v.fallback);
  std::set<std::string> in_a_row;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.names.size(); ++i) {
      const auto& name = row.names[i];
      ASSERT_TRUE(fallback.count(name)) << name << " in the guide is no variable";
      in_a_row.insert(name);
      const auto& want = fallback[name];
      if (want.empty()) continue;  // the guide says in words what unset means
      if (row.defaults.size() == row.names.size()) {
        EXPECT_EQ(row.defaults[i], "`" + want + "`") << name << ": docs/operator-guide.md";
      } else {
        EXPECT_NE(row.cell.find("`" + want + "`"), std::string::npos)
            << name << ": docs/operator-guide.md shows no default `" << want << "`";
      }
    }
  }
  for (const auto& [name, want] : fallback) {
    if (!want.empty()) {
      EXPECT_TRUE(in_a_row.count(name)) << name << " has no row in docs/operator-guide.md";
      // The sample shows the default where there is one (an example where not).
      EXPECT_NE(sample.find("\n#" + name + "=" + want + "\n"), std::string::npos)
          << name << ": deploy/stayconnected.env should show #" << name << "=" << want;
    }
    // Prose that names a default ("`SC_X` (default `v`)") names the table's.
    const std::string prose = "`" + name + "` (default `";
    for (auto at = guide.find(prose); at != std::string::npos; at = guide.find(prose, at + 1)) {
      const auto from = at + prose.size();
      EXPECT_EQ(guide.substr(from, guide.find('`', from) - from), want) << name;
    }
  }
}

}  // namespace
}  // namespace sc
