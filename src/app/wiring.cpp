#include "sc/app/wiring.h"

#include <chrono>

#include "sc/core/consent_text.h"
#include "sc/providers/factory.h"

namespace sc {

std::int64_t SystemClock::now_unix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomIds::next_id() { return crypto::hex(crypto::random_bytes(16)); }

std::unique_ptr<Renderer> make_renderer(const Config& config) {
  return std::make_unique<Renderer>(
      Vars{{"org_name", config.org_name}, {"postal_address", config.postal_address}},
      config.templates_dir);
}

ConsentText consent_text(const Renderer& renderer, const char* channel) {
  return make_consent_text(channel,
                           renderer.text(std::string("consent/") + channel + ".txt.mustache", {}),
                           [](std::string_view text) { return crypto::hex(crypto::sha256(text)); });
}

ServiceConfig service_config(const Config& config, const Renderer& renderer) {
  ServiceConfig sc;
  sc.public_url = config.public_url;
  sc.org_name = config.org_name;
  sc.postal_address = config.postal_address;
  sc.from = config.email_from;
  sc.envelope_from = config.email_bounce;
  sc.list_unsubscribe_mailto = config.list_unsubscribe_mailto;
  sc.confirm_cooldown_seconds = config.confirm_cooldown_seconds;
  sc.sms_limits.enabled = config.signup_limits;
  sc.sms_limits.per_client = config.sms_confirm_limit_per_ip;
  sc.sms_limits.per_number = config.sms_confirm_limit_per_number;
  sc.sms_limits.per_prefix = config.sms_confirm_limit_per_prefix;
  sc.sms_limits.daily_cap = config.sms_confirm_daily_cap;
  sc.email_consent = consent_text(renderer, "email");
  sc.sms_consent = consent_text(renderer, "sms");
  return sc;
}

BroadcastComposer::Settings broadcast_settings(const Config& c) {
  BroadcastComposer::Settings s;
  s.org_name = c.org_name;
  s.postal_address = c.postal_address;
  s.from = c.email_from;
  s.envelope_from = c.email_bounce;
  s.list_unsubscribe_mailto = c.list_unsubscribe_mailto;
  s.list_id = broadcast_list_id(c.org_name, c.email_from.address);
  s.feedback_id_tail = broadcast_feedback_id_tail(c.email_from.address);
  s.sms_max_segments = c.sms_max_segments;
  return s;
}

Wiring::Wiring(Config c) : config(std::move(c)) {
  signer = std::make_unique<crypto::HmacSigner>(resolve_secret(config));
  renderer = make_renderer(config);
  phones =
      std::make_unique<providers::LibPhoneNormalizer>(config.default_region, config.sms_countries);
  auto e = providers::make_email_sender(config.email);
  if (!e) throw ConfigError(e.error().message);
  email = std::move(e).value();
  auto s = providers::make_sms_sender(config.sms);
  if (!s) throw ConfigError(s.error().message);
  sms = std::move(s).value();
  service = std::make_unique<ConsentService>(service_config(config, *renderer), *signer, *renderer,
                                             phones.get(), ids);
}

}  // namespace sc
