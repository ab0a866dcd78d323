// What every command that sends or serves builds from the config, in
// dependency order: clock, ids, signer, renderer, phone numbers, providers
// and the consent service.
#pragma once
#include <memory>

#include "sc/app/config.h"
#include "sc/core/broadcast.h"
#include "sc/core/consent_service.h"
#include "sc/core/ports/services.h"
#include "sc/providers/crypto.h"
#include "sc/providers/phone_normalizer.h"
#include "sc/render/renderer.h"

namespace sc {

class SystemClock final : public Clock {
 public:
  std::int64_t now_unix() const override;
  std::int64_t now_ms() const override;
};

class RandomIds final : public IdSource {
 public:
  std::string next_id() override;
};

struct Wiring {
  Config config;
  SystemClock clock;
  RandomIds ids;
  std::unique_ptr<crypto::HmacSigner> signer;
  std::unique_ptr<Renderer> renderer;
  std::unique_ptr<providers::LibPhoneNormalizer> phones;
  std::unique_ptr<EmailSender> email;
  std::unique_ptr<SmsSender> sms;
  std::unique_ptr<ConsentService> service;

  // Throws ConfigError for a provider the config cannot make.
  explicit Wiring(Config c);
};

// The renderer of the config's organisation and templates.
std::unique_ptr<Renderer> make_renderer(const Config& config);
// A channel's consent text ("email" or "sms"), rendered by `renderer`.
ConsentText consent_text(const Renderer& renderer, const char* channel);
// The consent service's settings from the config (the consent texts rendered
// by `renderer`).
ServiceConfig service_config(const Config& config, const Renderer& renderer);
// The broadcast composer's settings from the config.
BroadcastComposer::Settings broadcast_settings(const Config& config);

}  // namespace sc
