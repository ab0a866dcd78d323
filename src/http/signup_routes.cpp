// The public sign-up: the page, the thank-you page and the form / JSON API.
#include <map>
#include <memory>

#include "form.h"
#include "rate_limiter.h"
#include "routes.h"
#include "sc/core/text.h"

namespace sc::detail {
namespace {

using nlohmann::json;

class SignupResource {
 public:
  explicit SignupResource(const RouteEnv& env)
      : env_(env), limiter_(env.options.signup_burst, env.options.signup_per_minute) {}

  void page(const httplib::Request&, httplib::Response& res) const {
    env_.respond.page(res, 200, "signup", page_vars());
  }

  void create(const httplib::Request& req, httplib::Response& res) {
    const auto& respond = env_.respond;
    if (env_.options.signup_limits && !limiter_.allow(req.remote_addr)) {
      res.set_header("Retry-After", "60");
      return respond.error(
          req, res,
          Error{ErrorCode::kRateLimited, "rate_limited",
                "too many sign-ups from this address; please try again later", ""});
    }
    auto parsed = parse(req);
    if (!parsed) return failed(req, res, parsed.error(), nullptr);
    auto valid = env_.deps.service.validate(parsed.value());
    if (!valid) return failed(req, res, valid.error(), &parsed.value());
    const auto ctx = request_context(req);
    const auto client = client_bucket(req.remote_addr);  // IPv6 counts by its /64
    const auto now = env_.deps.clock.now_unix();
    // A filled trap field goes the same way (validated, then an empty unit
    // of work), so its answer cannot be told apart, also by its timing.
    auto outcome = env_.deps.writes.write([&](const Transaction& tx) {
      return env_.deps.service.sign_up(tx, valid.value(), ctx, now, client);
    });
    constexpr const char* kHelp = "Sign-ups accepted, by channel (new and known addresses alike).";
    if (outcome.honeypot) {
      count(env_, "sc_signup_honeypot_total",
            "Sign-ups with the hidden trap field filled: answered as usual, nothing kept.", {});
    } else {
      if (outcome.email) count(env_, "sc_signups_total", kHelp, {{"channel", "email"}});
      if (outcome.sms) count(env_, "sc_signups_total", kHelp, {{"channel", "sms"}});
    }
    if (outcome.sms_limited != SmsLimit::kNone) {
      count(env_, "sc_sms_confirm_limited_total",
            "Confirmation texts held back by a pumping limit (ip, number, prefix, daily); the "
            "sign-up was answered as usual.",
            {{"limit", std::string(to_string(outcome.sms_limited))}});
    }
    if (wants_html(req)) return respond.see_other(res, "/thanks");
    json body = json::object();
    if (outcome.email) body["email"] = "pending";
    if (outcome.sms) body["sms"] = "pending";
    respond.json(res, 202, body);
  }

 private:
  static Result<SignupRequest> parse(const httplib::Request& req) {
    const auto type = media_type(req);
    if (type == "application/x-www-form-urlencoded") {
      auto pairs = parse_urlencoded(req.body);
      if (!pairs) return pairs.error();
      return signup_from_form(pairs.value());
    }
    if (type == "application/json") return signup_from_json(req.body);
    return Error{ErrorCode::kUnsupportedMediaType, "unsupported_media_type",
                 "send application/x-www-form-urlencoded or application/json", ""};
  }

  Vars page_vars() const {
    const auto& c = env_.deps.service.config();
    return {{"email_consent_text", c.email_consent.text}, {"sms_consent_text", c.sms_consent.text}};
  }

  void failed(const httplib::Request& req, httplib::Response& res, const Error& e,
              const SignupRequest* given) const {
    if (!wants_html(req) || given == nullptr) return env_.respond.error(req, res, e);
    // A browser gets the form again, with the message and what they typed.
    auto vars = page_vars();
    static const std::map<std::string, std::string> kLabels = {
        {"email", "your email address"},
        {"first_name", "your first name"},
        {"postal_code", "your postal code"},
        {"phone", "your mobile number"},
        {"sms_consent", "the text message consent"},
        {"topics", "the topics"}};
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
    env_.respond.page(res, status_for(e.kind), "signup", vars, flags);
  }

  const RouteEnv& env_;
  RateLimiter limiter_;
};

}  // namespace

void add_signup_routes(Router& router, const RouteEnv& env) {
  auto r = std::make_shared<SignupResource>(env);
  router.get("/", [r](const httplib::Request& q, httplib::Response& s) { r->page(q, s); });
  router.get("/thanks", [&env](const httplib::Request&, httplib::Response& s) {
    env.respond.page(s, 200, "thanks", {});
  });
  router.post("/api/v1/subscriptions",
              [r](const httplib::Request& q, httplib::Response& s) { r->create(q, s); });
}

}  // namespace sc::detail
