#include "response.h"

#include "sc/core/text.h"

namespace sc::detail {

int status_for(ErrorCode kind) {
  switch (kind) {
    case ErrorCode::kBadRequest:
      return 400;
    case ErrorCode::kBadToken:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kExpired:
      return 410;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kInvalidInput:
      return 422;
    case ErrorCode::kUnsupported:
      return 422;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
  }
  return 400;
}

Error error_for_library_status(int status) {
  switch (status) {
    case 404:
      return Error{ErrorCode::kNotFound, "not_found", "there is nothing at this address", ""};
    case 405:
      return Error{ErrorCode::kMethodNotAllowed, "method_not_allowed",
                   "this method is not allowed here", ""};
    case 413:
      return Error{ErrorCode::kTooLarge, "payload_too_large", "the body is larger than the limit",
                   ""};
    default:
      return Error{ErrorCode::kBadRequest, "bad_request", "the request could not be understood",
                   ""};
  }
}

bool wants_html(const httplib::Request& req) {
  auto accept = req.get_header_value("Accept");
  auto html = accept.find("text/html");
  if (html == std::string::npos) return false;
  auto js = accept.find("application/json");
  return js == std::string::npos || html < js;
}

std::string media_type(const httplib::Request& req) {
  auto ct = req.get_header_value("Content-Type");
  auto semi = ct.find(';');
  return text::to_lower_ascii(text::trim(std::string_view(ct).substr(0, semi)));
}

namespace {

std::string clean_header(const httplib::Request& req, const char* name, std::size_t max) {
  auto v = req.get_header_value(name);
  if (v.size() > max) v.resize(max);
  std::string out;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F) out += c;
  }
  if (!text::is_valid_utf8(out)) return {};
  return out;
}

}  // namespace

RequestContext request_context(const httplib::Request& req) {
  return RequestContext{req.remote_addr, clean_header(req, "User-Agent", 512)};
}

Result<nlohmann::json> json_object_body(const httplib::Request& req) {
  if (media_type(req) != "application/json")
    return Error{ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                 "send application/json", ""};
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error{ErrorCode::kBadRequest, "malformed_json", "the body must be a JSON object", ""};
  return j;
}

nlohmann::json error_body(const Error& e) {
  nlohmann::json err = {{"code", e.code}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  return nlohmann::json{{"error", err}};
}

void Responder::page(httplib::Response& res, int status, std::string_view name, const Vars& vars,
                     const std::set<std::string>& flags) const {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header(
      "Content-Security-Policy",
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
      "frame-ancestors 'none'");
  res.set_content(pages_.page(name, vars, flags), "text/html; charset=utf-8");
}

void Responder::json(httplib::Response& res, int status, const nlohmann::json& body) const {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

void Responder::error(const httplib::Request& req, httplib::Response& res, const Error& e) const {
  error_with_status(req, res, status_for(e.kind), e);
}

void Responder::json_error(httplib::Response& res, const Error& e) const {
  json(res, status_for(e.kind), error_body(e));
}

void Responder::library_error(const httplib::Request& req, httplib::Response& res, int status,
                              const Error& e) const {
  error_with_status(req, res, status, e);
}

void Responder::error_with_status(const httplib::Request& req, httplib::Response& res, int status,
                                  const Error& e) const {
  if (!wants_html(req)) return json(res, status, error_body(e));
  const char* heading = e.kind == ErrorCode::kNotFound      ? "Page not found"
                        : e.kind == ErrorCode::kExpired     ? "This link has expired"
                        : e.kind == ErrorCode::kBadToken    ? "This link is not valid"
                        : e.kind == ErrorCode::kUnavailable ? "Something went wrong"
                                                            : "We could not do that";
  page(res, status, "error", {{"heading", heading}, {"message", e.message}});
}

void Responder::see_other(httplib::Response& res, const std::string& location) const {
  res.status = 303;
  res.set_header("Location", location);
  res.set_header("Cache-Control", "no-store");
  res.set_content("", "text/plain");
}

void Responder::twiml(httplib::Response& res, const std::string& xml) const {
  res.status = 200;
  res.set_content(xml, "text/xml");
}

}  // namespace sc::detail
