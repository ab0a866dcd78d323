// The config table (src/app/config.cpp) is the one source of every default
// the service runs with. The modules' option structs keep defaults of their
// own for their tests and other callers; where one mirrors a variable it must
// say what the table says, so no two places can disagree.
#include <gtest/gtest.h>

#include "sc/app/config.h"
#include "sc/core/broadcast.h"
#include "sc/core/consent_service.h"
#include "sc/core/quiet_hours.h"
#include "sc/core/sms_limits.h"
#include "sc/dispatch/broadcast_runner.h"
#include "sc/dispatch/dispatcher.h"
#include "sc/http/server.h"
#include "sc/providers/factory.h"

namespace sc {
namespace {

TEST(ModuleDefaults, ProviderConfigsAgreeWithTheTable) {
  const auto c = load_config({});
  const providers::EmailProviderConfig email;
  EXPECT_EQ(email.kind, c.email.kind);
  EXPECT_EQ(email.smtp_tls, c.email.smtp_tls);
  EXPECT_EQ(email.sendgrid_api_base, c.email.sendgrid_api_base);
  EXPECT_EQ(email.sendgrid_max_in_flight, c.email.sendgrid_max_in_flight);
  EXPECT_EQ(email.outbox_dir, c.email.outbox_dir);
  const providers::SmsProviderConfig sms;
  EXPECT_EQ(sms.kind, c.sms.kind);
  EXPECT_EQ(sms.twilio_api_base, c.sms.twilio_api_base);
  EXPECT_EQ(sms.twilio_max_in_flight, c.sms.twilio_max_in_flight);
  EXPECT_EQ(sms.timeout_ms, c.sms.timeout_ms);
  EXPECT_EQ(sms.log_file, c.sms.log_file);
}

TEST(ModuleDefaults, DispatchOptionsAgreeWithTheTable) {
  const auto c = load_config({});
  const Dispatcher::Options d;
  EXPECT_EQ(d.batch_size, c.dispatch_batch);
  EXPECT_EQ(d.max_attempts, c.max_attempts);
  EXPECT_EQ(d.base_backoff_seconds, c.retry_base_seconds);
  EXPECT_EQ(d.broadcast_pause_after_errors, c.broadcast_pause_after_errors);
  EXPECT_EQ(BroadcastRunner::Options{}.chunk_rows, c.broadcast_chunk_rows);
}

TEST(ModuleDefaults, HttpOptionsAgreeWithTheTable) {
  const auto c = load_config({});
  const HttpOptions h;
  EXPECT_EQ(h.max_threads, c.http_max_threads);
  EXPECT_EQ(h.max_connections_per_ip, c.http_max_connections_per_ip);
  EXPECT_EQ(h.signup_limits, c.signup_limits);
  EXPECT_EQ(h.trusted_proxies, c.trusted_proxies);
}

TEST(ModuleDefaults, CoreSettingsAgreeWithTheTable) {
  const auto c = load_config({});
  const ServiceConfig s;
  EXPECT_EQ(s.confirm_cooldown_seconds, c.confirm_cooldown_seconds);
  EXPECT_EQ(s.sms_limits.enabled, c.signup_limits);
  EXPECT_EQ(s.sms_limits.per_client, c.sms_confirm_limit_per_ip);
  EXPECT_EQ(s.sms_limits.per_number, c.sms_confirm_limit_per_number);
  EXPECT_EQ(s.sms_limits.per_prefix, c.sms_confirm_limit_per_prefix);
  EXPECT_EQ(s.sms_limits.daily_cap, c.sms_confirm_daily_cap);
  const QuietHours q;
  EXPECT_EQ(q.start_minute, c.sms_window_start_minute);
  EXPECT_EQ(q.end_minute, c.sms_window_end_minute);
  EXPECT_EQ(BroadcastSettings{}.sms_max_segments, c.sms_max_segments);
}

}  // namespace
}  // namespace sc
