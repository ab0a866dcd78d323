#include "sc/http/server.h"

#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>

#include <atomic>
#include <nlohmann/json.hpp>

#include "edge_server.h"
#include "elastic_pool.h"
#include "form.h"
#include "rate_limiter.h"
#include "sc/core/sms_keywords.h"
#include "sc/core/text.h"
#include "sc/providers/twilio_signature.h"

namespace sc {

using nlohmann::json;

namespace {

int status_for(const Error& e) {
  switch (e.kind) {
    case ErrorCode::kInvalidInput: return 422;
    case ErrorCode::kBadToken: return 400;
    case ErrorCode::kExpired: return 410;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kUnsupported: return 422;
  }
  return 400;
}

// A browser (HTML first in Accept) gets pages; everything else gets JSON.
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

struct HttpServer::Impl {
  HttpDeps deps;
  HttpOptions options;
  detail::EdgeServer svr;  // checks framing, limits and deadlines before the library reads a request
  std::atomic<int> listen_fd{-1};
  int bound_port = 0;
  detail::RateLimiter signup_limiter;

  Impl(HttpDeps d, HttpOptions o)
      : deps(std::move(d)), options(o), svr(detail::edge_options(o)), signup_limiter(o.signup_burst, o.signup_per_minute) {}

  std::string page_title(std::string_view name) const {
    if (name == "signup") return "Sign up";
    if (name == "thanks") return "Thank you";
    if (name == "confirm" || name == "confirmed") return "Confirm";
    if (name == "unsubscribe" || name == "unsubscribed") return "Unsubscribe";
    return "Error";
  }

  void send_page(httplib::Response& res, int status, std::string_view name, Vars vars,
                 const std::set<std::string>& flags = {}) {
    vars.emplace("title", page_title(name));
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    res.set_content(deps.renderer.page(name, vars, flags), "text/html; charset=utf-8");
  }

  void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(), "application/json");
  }

  static json error_body(const Error& e) {
    json err = {{"code", e.code}, {"message", e.message}};
    if (!e.field.empty()) err["field"] = e.field;
    return json{{"error", err}};
  }

  void send_error(const httplib::Request& req, httplib::Response& res, int status, const Error& e) {
    if (wants_html(req)) {
      std::string heading = status == 404 ? "Page not found"
                            : status == 410 ? "This link has expired"
                            : status == 400 && e.kind == ErrorCode::kBadToken ? "This link is not valid"
                            : status >= 500 ? "Something went wrong"
                            : "We could not do that";
      send_page(res, status, "error", {{"heading", heading}, {"message", e.message}});
    } else {
      send_json(res, status, error_body(e));
    }
  }

  RequestContext context(const httplib::Request& req) {
    return RequestContext{req.remote_addr, clean_header(req, "User-Agent", 512)};
  }

  Vars page_vars() const {
    return {{"email_consent_text", deps.service.config().email_consent.text},
            {"sms_consent_text", deps.service.config().sms_consent.text}};
  }

  void signup_page(const httplib::Request&, httplib::Response& res) { send_page(res, 200, "signup", page_vars()); }

  void create_subscription(const httplib::Request& req, httplib::Response& res) {
    if (options.signup_limits && !signup_limiter.allow(req.remote_addr)) {
      res.set_header("Retry-After", "60");
      send_error(req, res, 429,
                 Error{ErrorCode::kRateLimited, "rate_limited", "too many sign-ups from this address; please try again later", ""});
      return;
    }
    const auto type = media_type(req);
    Result<SignupRequest> parsed = invalid("unsupported_media_type", "");
    if (type == "application/x-www-form-urlencoded") {
      auto pairs = detail::parse_urlencoded(req.body);
      parsed = pairs ? detail::signup_from_form(pairs.value()) : Result<SignupRequest>(pairs.error());
    } else if (type == "application/json") {
      parsed = detail::signup_from_json(req.body);
    } else {
      send_error(req, res, 415,
                 invalid("unsupported_media_type",
                         "send application/x-www-form-urlencoded or application/json"));
      return;
    }
    if (!parsed) return signup_failed(req, res, parsed.error(), nullptr);
    auto valid = deps.service.validate(parsed.value());
    if (!valid) return signup_failed(req, res, valid.error(), &parsed.value());
    auto ctx = context(req);
    auto now = deps.clock.now_unix();
    auto outcome = deps.writer.run([&](storage::WriteContext& c) {
      return deps.service.sign_up(c.consent(), valid.value(), ctx, now);
    });
    if (wants_html(req)) {
      res.status = 303;
      res.set_header("Location", "/thanks");
      res.set_header("Cache-Control", "no-store");
      res.set_content("", "text/plain");
      return;
    }
    json body = json::object();
    if (outcome.email) body["email"] = "pending";
    if (outcome.sms) body["sms"] = "pending";
    send_json(res, 202, body);
  }

  void signup_failed(const httplib::Request& req, httplib::Response& res, const Error& e,
                     const SignupRequest* given) {
    if (wants_html(req) && given != nullptr) {
      // Show the form again with the message and what they typed.
      auto vars = page_vars();
      static const std::map<std::string, std::string> kLabels = {
          {"email", "your email address"}, {"first_name", "your first name"}, {"postal_code", "your postal code"},
          {"phone", "your mobile number"}, {"sms_consent", "the text message consent"}, {"topics", "the topics"}};
      std::set<std::string> flags;
      auto label = kLabels.find(e.field);
      if (label != kLabels.end()) {
        flags.insert("error_" + e.field);
        vars["error"] = "Please check " + label->second + ": " + e.message + ".";
      } else {
        vars["error"] = e.message;
      }
      vars["phone"] = text::strip_crlf(given->phone.value_or(""));
      vars["email"] = text::strip_crlf(given->email.value_or(""));
      vars["first_name"] = text::strip_crlf(given->first_name.value_or(""));
      vars["postal_code"] = text::strip_crlf(given->postal_code.value_or(""));
      for (auto& [k, v] : vars) {
        if (!text::is_valid_utf8(v)) v.clear();
      }
      send_page(res, status_for(e), "signup", vars, flags);
      return;
    }
    send_error(req, res, status_for(e), e);
  }

  static std::string token_of(const httplib::Request& req) {
    return req.matches.size() > 1 ? req.matches[1].str() : std::string();
  }

  void confirm_get(const httplib::Request& req, httplib::Response& res) {
    auto token = token_of(req);
    auto claims = deps.service.check_confirm_token(token, deps.clock.now_unix());
    if (!claims) return send_error(req, res, status_for(claims.error()), claims.error());
    if (!wants_html(req)) return send_json(res, 200, {{"action", "POST to this URL to confirm"}});
    send_page(res, 200, "confirm", {{"action", "/confirm/" + token}});
  }

  void confirm_post(const httplib::Request& req, httplib::Response& res) {
    auto token = token_of(req);
    auto ctx = context(req);
    auto now = deps.clock.now_unix();
    // Check the token before queueing a write: bad tokens cost no lock.
    auto claims = deps.service.check_confirm_token(token, now);
    if (!claims) return send_error(req, res, status_for(claims.error()), claims.error());
    auto r = deps.writer.run([&](storage::WriteContext& c) { return deps.service.confirm(c.consent(), token, ctx, now); });
    if (!r) return send_error(req, res, status_for(r.error()), r.error());
    const auto state = r->channel.state;
    if (!wants_html(req)) return send_json(res, 200, {{"state", to_string(state)}});
    std::set<std::string> flags;
    if (state == ConsentState::kUnsubscribed) flags.insert("was_unsubscribed");
    send_page(res, 200, "confirmed", {}, flags);
  }

  void unsubscribe_get(const httplib::Request& req, httplib::Response& res) {
    auto token = token_of(req);
    auto claims = deps.service.check_unsubscribe_token(token);
    if (!claims) return send_error(req, res, status_for(claims.error()), claims.error());
    if (!wants_html(req)) return send_json(res, 200, {{"action", "POST to this URL to unsubscribe"}});
    send_page(res, 200, "unsubscribe", {{"action", "/unsubscribe/" + token}});
  }

  void unsubscribe_post(const httplib::Request& req, httplib::Response& res) {
    auto token = token_of(req);
    auto claims = deps.service.check_unsubscribe_token(token);
    if (!claims) return send_error(req, res, status_for(claims.error()), claims.error());
    // RFC 8058: a mailbox provider POSTs "List-Unsubscribe=One-Click", as a
    // urlencoded or a multipart body; it follows no redirect and sends no
    // cookies, so the answer is a plain 200.
    bool one_click = req.body.find("List-Unsubscribe=One-Click") != std::string::npos ||
                     (req.has_file("List-Unsubscribe") && req.get_file_value("List-Unsubscribe").content == "One-Click");
    auto source = one_click ? ConsentSource::kOneClick : ConsentSource::kLink;
    auto ctx = context(req);
    auto now = deps.clock.now_unix();
    auto r = deps.writer.run([&](storage::WriteContext& c) {
      return deps.service.unsubscribe(c.consent(), token, source, ctx, now);
    });
    if (!r) return send_error(req, res, status_for(r.error()), r.error());
    if (!wants_html(req)) return send_json(res, 200, {{"state", "unsubscribed"}});
    send_page(res, 200, "unsubscribed", {});
  }

  bool authorized(const httplib::Request& req) {
    auto h = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (h.size() <= kBearer.size() || h.compare(0, kBearer.size(), kBearer) != 0) return false;
    auto key = std::string_view(h).substr(kBearer.size());
    bool ok = false;
    for (const auto& k : deps.admin_keys) ok = text::constant_time_equal(k, key) || ok;
    return ok;
  }

  bool require_admin(const httplib::Request& req, httplib::Response& res) {
    if (authorized(req)) return true;
    res.set_header("WWW-Authenticate", "Bearer");
    send_json(res, 401, error_body(Error{ErrorCode::kInvalidInput, "unauthorized", "a valid admin API key is required", ""}));
    return false;
  }

  void admin_subscriber(const httplib::Request& req, httplib::Response& res) {
    if (!require_admin(req, res)) return;
    std::optional<storage::SubscriberView> v;
    if (req.has_param("email")) {
      auto e = Email::parse(req.get_param_value("email"));
      if (!e) return send_json(res, 422, error_body(e.error()));
      v = deps.reads.subscriber_by_channel(ChannelKind::kEmail, e->str());
    } else if (req.has_param("phone")) {
      if (deps.phones == nullptr) return send_json(res, 422, error_body(invalid("invalid_phone", "texting is not configured", "phone")));
      auto p = deps.phones->normalize(req.get_param_value("phone"));
      if (!p) return send_json(res, 422, error_body(p.error()));
      v = deps.reads.subscriber_by_channel(ChannelKind::kSms, p.value());
    } else {
      return send_json(res, 422, error_body(invalid("missing_query", "give ?email= or ?phone=", "email")));
    }
    if (!v) return send_json(res, 404, error_body(Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""}));
    json channels = json::object();
    std::string email, phone;
    for (const auto& c : v->channels) {
      channels[to_string(c.kind)] = {{"address", c.address}, {"state", to_string(c.state)},
                                     {"created_at", c.created_at}, {"updated_at", c.updated_at}};
      (c.kind == ChannelKind::kEmail ? email : phone) = c.address;
    }
    json log = json::array();
    for (const auto& e : v->consent_log) {
      json row = {{"at", e.at}, {"channel", e.channel}, {"action", e.action}, {"source", e.source},
                  {"ip", e.ip}, {"user_agent", e.user_agent}};
      if (!e.detail.empty()) row["detail"] = e.detail;
      if (!e.consent_text_version.empty()) row["consent_text_version"] = e.consent_text_version;
      log.push_back(std::move(row));
    }
    json body = {{"id", v->subscriber.id},
                 {"first_name", v->subscriber.first_name},
                 {"postal_code", v->subscriber.postal_code},
                 {"created_at", v->subscriber.created_at},
                 {"channels", channels},
                 {"topics", v->topics},
                 {"consent_log", log}};
    if (!email.empty()) body["email"] = email;
    if (!phone.empty()) body["phone"] = phone;
    send_json(res, 200, body);
  }

  // Twilio's webhooks: signed over SC_PUBLIC_URL + the path and query as
  // requested + every form parameter. Anything unsigned is refused before
  // it is read further.
  bool twilio_verified(const httplib::Request& req, httplib::Response& res, detail::Pairs& params) {
    auto refuse = [&](const std::string& why) {
      send_json(res, 403, error_body(Error{ErrorCode::kInvalidInput, "invalid_signature", why, ""}));
      return false;
    };
    if (deps.twilio_auth_token.empty()) {
      return refuse("webhook signatures cannot be checked: SC_TWILIO_AUTH_TOKEN is not set");
    }
    const auto signature = req.get_header_value("X-Twilio-Signature");
    if (signature.empty()) return refuse("X-Twilio-Signature is missing");
    if (media_type(req) != "application/x-www-form-urlencoded") return refuse("a Twilio webhook is a form post");
    auto parsed = detail::parse_urlencoded(req.body);
    if (!parsed) return refuse("the body is not a well-formed form");
    params = std::move(parsed).value();
    if (!providers::twilio_form_signature_valid(deps.twilio_auth_token, deps.public_url + req.target, params,
                                                signature)) {
      return refuse("X-Twilio-Signature does not match this request");
    }
    return true;
  }

  static std::string param(const detail::Pairs& params, std::string_view name) {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }

  static void send_twiml(httplib::Response& res, const std::string& message) {
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>";
    if (!message.empty()) {
      xml += "<Message>";
      for (char c : message) {
        switch (c) {
          case '&': xml += "&amp;"; break;
          case '<': xml += "&lt;"; break;
          case '>': xml += "&gt;"; break;
          case '"': xml += "&quot;"; break;
          case '\'': xml += "&apos;"; break;
          default: xml += c;
        }
      }
      xml += "</Message>";
    }
    xml += "</Response>";
    res.status = 200;
    res.set_content(xml, "text/xml");
  }

  void twilio_sms(const httplib::Request& req, httplib::Response& res) {
    detail::Pairs params;
    if (!twilio_verified(req, res, params)) return;
    // Twilio sends E.164; normalised all the same, so the number matches
    // the channel a form stored.
    auto from = param(params, "From");
    if (deps.phones != nullptr) {
      if (auto p = deps.phones->normalize(from); p) from = p.value();
    }
    // With Advanced Opt-Out, Twilio has classified the message and answered
    // it itself: record the change, send no second answer.
    const auto opt_out_type = param(params, "OptOutType");
    const bool twilio_answered = !opt_out_type.empty();
    const auto keyword = twilio_answered ? sms_keyword_from_opt_out_type(opt_out_type)
                                         : classify_sms_keyword(param(params, "Body"));
    auto message_id = param(params, "MessageSid");
    if (message_id.size() > 64 || text::has_control(message_id)) message_id.clear();
    const auto ctx = context(req);
    const auto now = deps.clock.now_unix();
    auto outcome = deps.writer.run([&](storage::WriteContext& c) {
      return deps.service.sms_keyword(c.consent(), from, keyword, message_id, ctx, now);
    });
    if (twilio_answered || outcome.reply_template.empty()) return send_twiml(res, "");
    send_twiml(res, deps.renderer.sms(outcome.reply_template, outcome.reply_vars));
  }

  void routes() {
    // A Content-Length that is not a plain number is a malformed request;
    // the library would read it as 0 and serve it.
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("Content-Length")) {
        auto v = req.get_header_value("Content-Length");
        bool digits = !v.empty() && v.size() <= 18;
        for (char ch : v) digits = digits && ch >= '0' && ch <= '9';
        if (!digits) {
          send_error(req, res, 400, invalid("bad_request", "malformed Content-Length"));
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    svr.Get("/", [this](const auto& q, auto& r) { signup_page(q, r); });
    svr.Get("/thanks", [this](const auto&, auto& r) { send_page(r, 200, "thanks", {}); });
    svr.Get("/healthz", [this](const auto&, auto& r) {
      if (deps.reads.healthy()) send_json(r, 200, {{"status", "ok"}});
      else send_json(r, 503, {{"status", "unavailable"}});
    });
    svr.Post("/api/v1/subscriptions", [this](const auto& q, auto& r) { create_subscription(q, r); });
    svr.Get(R"(/confirm/([^/]*))", [this](const auto& q, auto& r) { confirm_get(q, r); });
    svr.Post(R"(/confirm/([^/]*))", [this](const auto& q, auto& r) { confirm_post(q, r); });
    svr.Get(R"(/unsubscribe/([^/]*))", [this](const auto& q, auto& r) { unsubscribe_get(q, r); });
    svr.Post(R"(/unsubscribe/([^/]*))", [this](const auto& q, auto& r) { unsubscribe_post(q, r); });
    svr.Get("/api/v1/admin/subscribers", [this](const auto& q, auto& r) { admin_subscriber(q, r); });
    svr.Post("/webhooks/twilio/sms", [this](const auto& q, auto& r) { twilio_sms(q, r); });

    // Statuses the library sets itself (404 no route, 413 too large, 400
    // malformed request) get our error shape; bodies we set are kept.
    svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      Error e{ErrorCode::kInvalidInput, "bad_request", "the request could not be understood", ""};
      if (res.status == 404) e = Error{ErrorCode::kNotFound, "not_found", "there is nothing at this address", ""};
      else if (res.status == 413) e = Error{ErrorCode::kInvalidInput, "payload_too_large", "the body is larger than the limit", ""};
      else if (res.status == 405) e = Error{ErrorCode::kInvalidInput, "method_not_allowed", "this method is not allowed here", ""};
      send_error(req, res, res.status, e);
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      std::fprintf(stderr, "http: %s %s failed: %s\n", req.method.c_str(), req.path.c_str(), what.c_str());
      // Infrastructure trouble (disk, database): nothing was written, try later.
      res.body.clear();
      res.set_header("Retry-After", "5");
      send_error(req, res, 503, Error{ErrorCode::kInvalidInput, "unavailable", "the service cannot take this right now; please try again", ""});
    });
  }
};

HttpServer::HttpServer(HttpDeps deps, HttpOptions options) : impl_(std::make_unique<Impl>(std::move(deps), options)) {
  auto& s = impl_->svr;
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1000000);
  s.set_keep_alive_timeout(options.keep_alive_seconds);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  s.set_payload_max_length(options.max_body_bytes);
  const auto min_t = options.min_threads, max_t = options.max_threads;
  s.new_task_queue = [min_t, max_t] { return new detail::ElasticPool(min_t, max_t); };
  // SO_REUSEADDR only: the library's default SO_REUSEPORT would let a second
  // instance bind the same port silently. Keep the fd to deepen the backlog.
  s.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    impl_->listen_fd = sock;
  });
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind(const std::string& host, int port) {
  int bound = port == 0 ? impl_->svr.bind_to_any_port(host) : (impl_->svr.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  // cpp-httplib 0.11 listens with a backlog of 5; bursts of new connections
  // then cost 1 s SYN retransmits. Listening again only changes the backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, impl_->options.listen_backlog);
  impl_->bound_port = bound;
  return bound;
}

void HttpServer::serve() { impl_->svr.listen_after_bind(); }
void HttpServer::stop() {
  if (!impl_->svr.is_running()) return;
  impl_->svr.stop();
  // cpp-httplib 0.11 leaves idle keep-alive connections to time out (5 s)
  // before listen returns. Shutting their read side makes each connection
  // loop end after the response it may be writing: in-flight requests
  // finish, idle ones close at once.
  const int port = impl_->bound_port;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = 0;
    try {
      fd = std::stoi(e.path().filename().string());
    } catch (...) {
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    int local = 0;
    if (addr.ss_family == AF_INET) local = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6) local = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    else continue;
    // Only connections accepted on our port (curl's client sockets to
    // providers have other local ports).
    if (local == port) ::shutdown(fd, SHUT_RD);
  }
}
bool HttpServer::wait_until_ready() const {
  for (int i = 0; i < 500 && !impl_->svr.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return impl_->svr.is_running();
}

}  // namespace sc
