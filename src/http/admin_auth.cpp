// Admin API authorisation: the bearer key, its scope, and the audit log.
#include "routes.h"

namespace sc::detail {

namespace {

// The key after "Bearer ", or "" when there is none.
std::string bearer_key(const httplib::Request& req) {
  constexpr std::string_view kBearer = "Bearer ";
  auto h = req.get_header_value("Authorization");
  if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) return {};
  return h.substr(kBearer.size());
}

// A stored key (`keys create`), looked up by its hash; revoked or unknown: none.
std::optional<AdminIdentity> stored_key(const RouteEnv& env, const httplib::Request& req) {
  if (env.deps.admin_store == nullptr || env.deps.key_digest == nullptr) return std::nullopt;
  const auto key = bearer_key(req);
  if (key.empty()) return std::nullopt;
  return env.deps.admin_store->identify(key);
}

}  // namespace

std::optional<AdminIdentity> authorize(const RouteEnv& env, const httplib::Request& req,
                                       httplib::Response& res, Scope needed) {
  std::optional<AdminIdentity> who;
  // The bootstrap key (SC_ADMIN_API_KEY) holds every scope.
  if (bearer_key_valid(req, env.deps.admin_keys, env.deps.key_digest))
    who = AdminIdentity{std::string(kBootstrapKeyName), Scope::kAdmin};
  else
    who = stored_key(env, req);
  // A stored key under a reserved name (made before the name was reserved)
  // would act as the CLI in the audit log: it acts as nobody.
  if (who && who->key_name != kBootstrapKeyName && reserved_key_name(who->key_name)) {
    env.respond.json_error(res, Error{ErrorCode::kForbidden, "reserved_key_name",
                                      "this key is named \"" + who->key_name +
                                          "\", the audit log's name for the host CLI; revoke it "
                                          "and create one under another name",
                                      ""});
    return std::nullopt;
  }
  if (!who) {
    res.set_header("WWW-Authenticate", "Bearer");
    env.respond.json_error(res, Error{ErrorCode::kUnauthorized, "unauthorized",
                                      "a valid admin API key is required", ""});
    return std::nullopt;
  }
  if (!allows(who->scope, needed)) {
    env.respond.json_error(res, Error{ErrorCode::kForbidden, "forbidden",
                                      std::string("this key (scope ") + to_string(who->scope) +
                                          ") lacks the " + to_string(needed) + " scope this needs",
                                      ""});
    return std::nullopt;
  }
  return who;
}

namespace {

AuditEntry audit_entry(const RouteEnv& env, const AdminIdentity& who, std::string_view action,
                       std::string_view target, const httplib::Request& req,
                       std::string_view detail) {
  AuditEntry e;
  e.at = env.deps.clock.now_unix();
  e.key_name = who.key_name;
  e.action = std::string(action);
  e.target = std::string(target);
  e.ip = req.remote_addr;  // the real client behind SC_TRUSTED_PROXIES (edge_server.cpp)
  e.detail = std::string(detail);
  return e;
}

}  // namespace

void audit(const RouteEnv& env, const AdminIdentity& who, std::string_view action,
           std::string_view target, const httplib::Request& req, std::string_view detail) {
  if (env.deps.admin_store == nullptr) return;
  // Throws when it cannot be stored: the request gets 503 and what it would
  // have shown is not shown unrecorded.
  env.deps.admin_store->append_audit(audit_entry(env, who, action, target, req, detail));
}

void audit(AuditLog& log, const RouteEnv& env, const AdminIdentity& who, std::string_view action,
           std::string_view target, const httplib::Request& req, std::string_view detail) {
  if (env.deps.admin_store == nullptr) return;
  // Inside the action's transaction: when it throws, the action is rolled
  // back with it and the request gets 503.
  log.append(audit_entry(env, who, action, target, req, detail));
}

}  // namespace sc::detail
