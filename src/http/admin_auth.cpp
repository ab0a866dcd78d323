// Admin API authorisation: the bearer key, its scope, and the audit log.
#include "routes.h"

namespace sc::detail {

std::optional<AdminIdentity> authorize(const RouteEnv& env, const httplib::Request& req,
                                       httplib::Response& res, Scope needed) {
  // The bootstrap key (SC_ADMIN_API_KEY) holds every scope.
  if (bearer_key_valid(req, env.deps.admin_keys, env.deps.key_digest)) {
    AdminIdentity who{"SC_ADMIN_API_KEY", Scope::kAdmin};
    if (allows(who.scope, needed)) return who;
    env.respond.json_error(
        res, Error{ErrorCode::kForbidden, "forbidden",
                   std::string("this key lacks the ") + to_string(needed) + " scope", ""});
    return std::nullopt;
  }
  res.set_header("WWW-Authenticate", "Bearer");
  env.respond.json_error(res, Error{ErrorCode::kUnauthorized, "unauthorized",
                                    "a valid admin API key is required", ""});
  return std::nullopt;
}

void audit(const RouteEnv& env, const AdminIdentity& who, std::string_view action,
           std::string_view target, const httplib::Request& req) {
  // The audit log is not stored yet (issue 9, point 1).
  (void)env, (void)who, (void)action, (void)target, (void)req;
}

}  // namespace sc::detail
