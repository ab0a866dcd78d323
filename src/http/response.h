// Internal to http: the answers every resource sends, and the one mapping
// from an error kind to its status. No handler sets an error status any
// other way: it builds an Error and calls Responder::error (or json_error).
#pragma once
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "sc/core/model.h"
#include "sc/core/page_renderer.h"
#include "sc/core/result.h"

namespace sc::detail {

// 400 bad request / token, 401, 403, 404, 405, 409, 410 expired link, 413,
// 415, 422 invalid or unsupported input, 429, 503.
int status_for(ErrorCode kind);

// An error for a status the library set itself (no route, body too large,
// malformed request). Statuses outside the mapping keep the library's own.
Error error_for_library_status(int status);

// A browser (HTML first in Accept) gets pages; everything else gets JSON.
bool wants_html(const httplib::Request& req);
// Content-Type without parameters, lower case.
std::string media_type(const httplib::Request& req);
// The client's address and User-Agent (trimmed to printable UTF-8) for the consent log.
RequestContext request_context(const httplib::Request& req);

nlohmann::json error_body(const Error& e);

// The body of an admin API request: application/json (else 415) holding
// one object (else 400 malformed_json).
Result<nlohmann::json> json_object_body(const httplib::Request& req);

class Responder {
 public:
  explicit Responder(const PageRenderer& pages) : pages_(pages) {}

  void page(httplib::Response& res, int status, std::string_view name, const Vars& vars,
            const std::set<std::string>& flags = {}) const;
  void json(httplib::Response& res, int status, const nlohmann::json& body) const;
  // {"error":{"code","message","field"}}, or the error page for a browser.
  void error(const httplib::Request& req, httplib::Response& res, const Error& e) const;
  // Always JSON: the admin API and webhooks serve no browsers.
  void json_error(httplib::Response& res, const Error& e) const;
  void see_other(httplib::Response& res, const std::string& location) const;
  void twiml(httplib::Response& res, const std::string& xml) const;
  // error() with the library's own status (see error_for_library_status).
  void library_error(const httplib::Request& req, httplib::Response& res, int status,
                     const Error& e) const;

 private:
  void error_with_status(const httplib::Request& req, httplib::Response& res, int status,
                         const Error& e) const;
  const PageRenderer& pages_;
};

}  // namespace sc::detail
