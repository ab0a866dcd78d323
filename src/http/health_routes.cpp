// Health: GET /healthz answers 200 while the process is up and the database
// answers, 503 otherwise. Further checks (the dispatcher, paused providers)
// add a field to the body here; /metrics will be a resource of its own.
#include "routes.h"

namespace sc::detail {

void add_health_routes(Router& router, const RouteEnv& env) {
  router.get("/healthz", [&env](const httplib::Request&, httplib::Response& res) {
    const bool database = env.deps.reads.healthy();
    env.respond.json(res, database ? 200 : status_for(ErrorCode::kUnavailable),
                     {{"status", database ? "ok" : "unavailable"}});
  });
}

}  // namespace sc::detail
