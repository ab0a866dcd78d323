// Internal to http: the resources, one file each, and the router they
// register on. Adding a resource (e.g. /metrics) is one add_*_routes
// function here and a call in server.cpp.
#pragma once
#include <httplib.h>

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "response.h"
#include "sc/core/admin.h"
#include "sc/http/server.h"

namespace sc::detail {

// Registers handlers on the server and remembers each route, so that a path
// served under another method gets 405 with Allow instead of 404.
class Router {
 public:
  explicit Router(httplib::Server& svr) : svr_(svr) {}
  void get(const std::string& pattern, httplib::Server::Handler h);
  void post(const std::string& pattern, httplib::Server::Handler h);
  void patch(const std::string& pattern, httplib::Server::Handler h);
  void del(const std::string& pattern, httplib::Server::Handler h);  // DELETE
  // The methods with a route for path ("GET, HEAD, POST"), "" when none.
  std::string allowed_methods(const std::string& path) const;

 private:
  httplib::Server& svr_;
  std::vector<std::pair<std::string, std::regex>> routes_;
};

// What every resource's handlers use; lives as long as the server.
struct RouteEnv {
  HttpDeps& deps;
  const HttpOptions& options;
  const Responder& respond;
};

// GET / (the sign-up page), GET /thanks, POST /api/v1/subscriptions.
void add_signup_routes(Router& router, const RouteEnv& env);
// GET and POST /preferences/{token}, POST …/topics, …/unsubscribe, …/export
// and …/erase (preference_routes.cpp).
void add_preference_routes(Router& router, const RouteEnv& env);
// GET and POST /confirm/{token} and /unsubscribe/{token}.
void add_token_routes(Router& router, const RouteEnv& env);
// POST /webhooks/twilio/sms and /webhooks/twilio/status (Twilio's signed webhooks).
void add_twilio_routes(Router& router, const RouteEnv& env);
// POST /webhooks/sendgrid/events (SendGrid's signed Event Webhook).
void add_sendgrid_routes(Router& router, const RouteEnv& env);
// GET /api/v1/admin/subscribers (read), GET /api/v1/admin/audit (admin).
void add_admin_routes(Router& router, const RouteEnv& env);
// The operators' list (subscriber_routes.cpp): GET /api/v1/admin/subscribers
// without ?email= or ?phone=, and GET /api/v1/admin/subscribers/{id}
// (matches[1]); registered by add_admin_routes.
void list_subscribers(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
void show_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
// PATCH /api/v1/admin/subscribers/{id} and POST …/{id}/unsubscribe (admin).
void patch_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
void unsubscribe_subscriber(const RouteEnv& env, const httplib::Request& req,
                            httplib::Response& res);
// DELETE /api/v1/admin/subscribers/{id} (admin): erasure.
void erase_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
// GET /api/v1/admin/suppressions?email=|phone= (read): whether an address
// is suppressed, and the proof its erasure left.
void show_suppression(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
// The address of ?email= or ?phone=, normalised as it is stored; 422
// missing_query without either.
Result<std::pair<ChannelKind, std::string>> address_param(const RouteEnv& env,
                                                          const httplib::Request& req);
// One subscriber with postal code, consent and messages: the admin detail,
// and the person's own copy of their data.
nlohmann::json subscriber_detail_json(const SubscriberDetail& d);
// One consent-log row as every admin answer shows it.
nlohmann::json consent_row_json(const ConsentLogView& e);
// GET /api/v1/admin/subscribers/export?format=csv|jsonl (subscriber_export.cpp).
void export_subscribers(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
// GET /api/v1/admin/stats.
void subscriber_stats(const RouteEnv& env, const httplib::Request& req, httplib::Response& res);
// The broadcasts resource under /api/v1/admin/broadcasts.
void add_broadcast_routes(Router& router, const RouteEnv& env);
// POST /api/v1/admin/imports, GET …/imports/{id} and …/imports/{id}/rows.csv
// (import_routes.cpp).
void add_import_routes(Router& router, const RouteEnv& env);
// GET /healthz.
void add_health_routes(Router& router, const RouteEnv& env);
// GET /metrics (a read key), when HttpDeps::metrics is set.
void add_metrics_routes(Router& router, const RouteEnv& env);

// Counts a domain event ("sc_signups_total", …) when metrics are on.
void count(const RouteEnv& env, const char* name, const char* help, const metrics::Labels& labels);

// True when the request carries "Authorization: Bearer <one of keys>"
// (compared in constant time).
bool bearer_key_valid(const httplib::Request& req, const std::vector<std::string>& keys,
                      const Signer* digest);

// Accepts the request's bearer key when it holds `needed` (or a wider scope)
// and returns who it is; otherwise answers 401 (no key, unknown or revoked
// key) or 403 (the key lacks the scope) and returns nothing.
std::optional<AdminIdentity> authorize(const RouteEnv& env, const httplib::Request& req,
                                       httplib::Response& res, Scope needed);
// Appends one entry to the append-only audit log: key name, action
// ("broadcast.send"), target ("broadcast 12"), time and client IP. Throws
// (the request gets 503) when the entry cannot be stored.
// Use it for what a request reads (lookups, previews, exports): the entry is
// stored before the answer is sent.
void audit(const RouteEnv& env, const AdminIdentity& who, std::string_view action,
           std::string_view target, const httplib::Request& req, std::string_view detail = {});
// The same entry, written to `log` inside the transaction of the action it
// records (Transaction::audit in UnitOfWork::run, BroadcastTransactions::run): an action is
// never committed without its audit row. Nothing when no audit log is kept
// (HttpDeps::admin_store is null).
void audit(AuditLog& log, const RouteEnv& env, const AdminIdentity& who, std::string_view action,
           std::string_view target, const httplib::Request& req, std::string_view detail = {});

// One API style (docs/api.md): every time in a JSON or CSV answer is an RFC
// 3339 UTC string; 0 ("never") is null in JSON and empty in CSV.
nlohmann::json time_json(std::int64_t unix_seconds);
std::string time_csv(std::int64_t unix_seconds);

// One CSV cell (RFC 4180 quoting), guarded against formula injection: a
// text starting with =, +, -, @, tab or CR gets a leading ' (an E.164
// number is left as it is).
std::string csv_field(std::string_view s);

// A whole decimal number query parameter in [lo, hi]; `fallback` when it is
// absent; otherwise 400 invalid_<name>.
Result<std::int64_t> whole_param(const httplib::Request& req, const char* name,
                                 std::int64_t fallback, std::int64_t lo, std::int64_t hi);

// The id in a path (/…/subscribers/{id}): a whole number from 1, else 404
// "no such <what>".
Result<std::int64_t> path_id(const std::string& raw, std::string_view what);

// Every list answers {"items":[…],"next":"<URL>"}: `next` is the path and
// query of the following page, absent on the last one. A handler reads one
// row more than the page holds; `more` says it came back.
class Page {
 public:
  // `path` is the list's own path; `limit` the page size asked for.
  Page(std::string path, std::int64_t limit) : path_(std::move(path)), limit_(limit) {}
  // A query parameter that every page repeats (a filter such as status).
  Page& keep(const std::string& name, const std::string& value);
  // The body: items, and next (with `cursor_name=cursor`) when more follow.
  nlohmann::json body(nlohmann::json items, bool more, const std::string& cursor_name,
                      std::int64_t cursor) const;
  // How many rows to read for this page: one more than it shows.
  int rows_to_read() const { return static_cast<int>(limit_ + 1); }
  std::int64_t limit() const { return limit_; }

 private:
  std::string path_;
  std::int64_t limit_;
  std::string kept_;
};

}  // namespace sc::detail
