// Health: GET /healthz answers 200 while the process is up and the database
// answers, 503 otherwise. A database that answers reads but cannot write (a
// full disk: its last commit failed) is "degraded" with the reason, and 503
// too, so a load balancer sends sign-ups elsewhere until a commit succeeds
// again. The body adds each provider's state: a provider paused because it
// refused our credentials is "degraded" (still 200: the service takes
// sign-ups, and the messages wait safely in the outbox).
// Unauthenticated, so the reasons are fixed phrases: a provider's own refusal
// text can name the account (Twilio's shows its SID); that text is in the log
// and behind a read key, GET /api/v1/admin/providers. The database's reason
// is fixed words and the database's short error text, never a path or URL.
#include "routes.h"

namespace sc::detail {
namespace {

// Adds "database" to the body; false when writes fail.
bool add_database(nlohmann::json& body, const DatabaseHealth& h) {
  nlohmann::json db = {{"writable", h.writable}};
  if (!h.writable) {
    db["reason"] = h.reason;
    db["since"] = time_json(h.since);
  }
  body["database"] = std::move(db);
  return h.writable;
}

// Adds "providers" to the body; false when one is paused.
bool add_providers(nlohmann::json& body, const std::vector<ProviderHealth>& all) {
  nlohmann::json providers = nlohmann::json::array();
  bool ok = true;
  for (const auto& p : all) {
    nlohmann::json one = {{"name", p.name}, {"channel", p.channel}, {"paused", p.paused}};
    if (p.paused) {
      ok = false;
      // Only a refusal of our credentials pauses a provider (ProviderHealth).
      one["reason"] = "provider refused credentials";
      one["since"] = time_json(p.since);
      one["consecutive_failures"] = p.consecutive_failures;
      one["next_probe_at"] = time_json(p.next_probe_at);
    }
    providers.push_back(std::move(one));
  }
  body["providers"] = std::move(providers);
  return ok;
}

}  // namespace

void add_health_routes(Router& router, const RouteEnv& env) {
  router.get("/healthz", [&env](const httplib::Request&, httplib::Response& res) {
    const bool database = env.deps.reads.healthy();
    nlohmann::json body = {{"status", database ? "ok" : "unavailable"}};
    if (!database) body["reason"] = "database does not answer";  // a fixed phrase, no URL
    bool writable = true;
    if (env.deps.database_health) {
      const auto h = env.deps.database_health();
      writable = add_database(body, h);
      if (database && !writable) {
        body["status"] = "degraded";
        body["reason"] = h.reason;
      }
    }
    if (env.deps.provider_health) {
      const bool providers_ok = add_providers(body, env.deps.provider_health());
      if (database && !providers_ok) body["status"] = "degraded";
    }
    env.respond.json(res, database && writable ? 200 : status_for(ErrorCode::kUnavailable), body);
  });
}

}  // namespace sc::detail
