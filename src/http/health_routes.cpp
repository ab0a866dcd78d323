// Health: GET /healthz answers 200 while the process is up and the database
// answers, 503 otherwise (with the reason). The body adds each provider's state: a provider
// paused because it refused our credentials is "degraded" (still 200: the
// service takes sign-ups, and the messages wait safely in the outbox).
// Unauthenticated, so the reason is a fixed phrase: a provider's own refusal
// text can name the account (Twilio's shows its SID); that text is in the log
// and behind a read key, GET /api/v1/admin/providers.
#include "routes.h"

namespace sc::detail {

void add_health_routes(Router& router, const RouteEnv& env) {
  router.get("/healthz", [&env](const httplib::Request&, httplib::Response& res) {
    const bool database = env.deps.reads.healthy();
    nlohmann::json body = {{"status", database ? "ok" : "unavailable"}};
    if (!database) body["reason"] = "database does not answer";  // a fixed phrase, no URL
    if (env.deps.provider_health) {
      nlohmann::json providers = nlohmann::json::array();
      bool degraded = false;
      for (const auto& p : env.deps.provider_health()) {
        nlohmann::json one = {{"name", p.name}, {"channel", p.channel}, {"paused", p.paused}};
        if (p.paused) {
          degraded = true;
          // Only a refusal of our credentials pauses a provider (ProviderHealth).
          one["reason"] = "provider refused credentials";
          one["since"] = time_json(p.since);
          one["consecutive_failures"] = p.consecutive_failures;
          one["next_probe_at"] = time_json(p.next_probe_at);
        }
        providers.push_back(std::move(one));
      }
      body["providers"] = std::move(providers);
      if (database && degraded) body["status"] = "degraded";
    }
    env.respond.json(res, database ? 200 : status_for(ErrorCode::kUnavailable), body);
  });
}

}  // namespace sc::detail
