// The person's own page (self-service): GET /preferences/{token} shows their
// channels and topics and changes nothing; POST …/topics, …/unsubscribe,
// …/export (everything held, as JSON: GDPR articles 15 and 20) and …/erase
// (after a confirmation step; as the admin erasure) act. The token is signed
// like the others (TokenPurpose::kPreferences) and names one of their
// channels; every email carries it.
#include <memory>

#include "routes.h"
#include "sc/core/subscriber_list.h"
#include "sc/core/text.h"

namespace sc::detail {
namespace {

using nlohmann::json;

// +16502530001 -> +1 ••• ••• 0001: enough to recognise, not to read off a screen.
std::string masked(const std::string& number) {
  if (number.size() < 6) return number;
  return number.substr(0, 2) + " \u2022\u2022\u2022 \u2022\u2022\u2022 " +
         number.substr(number.size() - 4);
}

std::vector<std::string> split_topics(const std::string& raw) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : raw) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

class PreferencesResource {
 public:
  explicit PreferencesResource(const RouteEnv& env) : env_(env) {}

  void page(const httplib::Request& req, httplib::Response& res) const {
    auto who = subscriber(req, res);
    if (!who) return;
    const auto d = *who == 0 ? std::nullopt : env_.deps.subscriber_reads->find(*who, 0);
    if (!wants_html(req)) {
      if (!d) return env_.respond.json(res, 200, {{"channels", json::array()}});
      json channels = json::array();
      for (const auto& c : d->summary.channels)
        channels.push_back({{"channel", to_string(c.kind)}, {"state", to_string(c.state)}});
      return env_.respond.json(res, 200, {{"channels", channels}, {"topics", d->summary.topics}});
    }
    Vars vars{{"base", base(req)}};
    std::set<std::string> flags;
    if (req.has_param("saved")) flags.insert("changed");
    if (!d) {
      flags.insert("nothing");
    } else {
      std::string topics;
      for (const auto& t : d->summary.topics) topics += (topics.empty() ? "" : ", ") + t;
      vars["topics"] = topics;
      for (const auto& c : d->summary.channels) {
        if (c.kind == ChannelKind::kEmail) {
          flags.insert("has_email");
          vars["email"] = c.address;
          vars["email_state"] = to_string(c.state);
        } else {
          flags.insert("has_sms");
          vars["phone"] = masked(c.address);
          vars["sms_state"] = to_string(c.state);
        }
      }
    }
    env_.respond.page(res, 200, "preferences", vars, flags);
  }

  void topics(const httplib::Request& req, httplib::Response& res) const {
    auto who = subscriber(req, res);
    if (!who) return;
    if (*who == 0) return gone(req, res);
    ProfileChange raw;
    raw.topics = req.has_param("topics") ? split_topics(req.get_param_value("topics"))
                                         : std::vector<std::string>{};
    auto change = env_.deps.service.validate_profile(raw);
    if (!change) return env_.respond.error(req, res, change.error());
    auto done = env_.deps.writes.write([&](const Transaction& tx) {
      return env_.deps.service.update_profile(tx, *who, change.value());
    });
    if (!done) return env_.respond.error(req, res, done.error());
    after_change(req, res);
  }

  void unsubscribe(const httplib::Request& req, httplib::Response& res) const {
    auto who = subscriber(req, res);
    if (!who) return;
    if (*who == 0) return gone(req, res);
    const auto which = req.has_param("channel") ? req.get_param_value("channel") : "all";
    std::optional<ChannelKind> only;
    if (which != "all") {
      only = channel_kind_from(which);
      if (!only)
        return env_.respond.error(
            req, res,
            invalid("invalid_channel", "channel must be \"email\", \"sms\" or \"all\"", "channel"));
    }
    const auto ctx = request_context(req);
    const auto now = env_.deps.clock.now_unix();
    auto done = env_.deps.writes.write([&](const Transaction& tx) {
      return env_.deps.service.unsubscribe_subscriber(tx, *who, only, ConsentSource::kLink,
                                                      "preferences page", ctx, now);
    });
    if (!done) return env_.respond.error(req, res, done.error());
    for (const auto& c : done.value()) {
      if (c.changed) {
        count(env_, "sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
              {{"channel", to_string(c.channel.kind)}, {"source", "preferences"}});
      }
    }
    after_change(req, res);
  }

  void export_data(const httplib::Request& req, httplib::Response& res) const {
    auto who = subscriber(req, res);
    if (!who) return;
    const auto d = *who == 0 ? std::nullopt : env_.deps.subscriber_reads->find(*who, -1);
    if (!d) return gone(req, res);
    json body = subscriber_detail_json(*d);
    res.set_header("Content-Disposition", "attachment; filename=\"my-data.json\"");
    env_.respond.json(res, 200, body);
  }

  void erase(const httplib::Request& req, httplib::Response& res) const {
    auto who = subscriber(req, res);
    if (!who) return;
    if (*who == 0) return gone(req, res);
    // The confirmation step: without confirm=erase the page asks first.
    const bool confirmed = req.has_param("confirm") && req.get_param_value("confirm") == "erase";
    if (!confirmed) {
      if (!wants_html(req))
        return env_.respond.json(res, 200, {{"action", "POST confirm=erase to this URL to erase"}});
      return env_.respond.page(res, 200, "preferences_erase", {{"base", base(req)}});
    }
    const auto now = env_.deps.clock.now_unix();
    auto done = env_.deps.writes.write(
        [&](const Transaction& tx) { return env_.deps.service.erase(tx, *who, "self", now); });
    if (!done) return gone(req, res);
    if (env_.deps.forget_copies) env_.deps.forget_copies(done.value());
    count(env_, "sc_erasures_total", "Subscribers erased, by who asked.", {{"by", "self"}});
    if (!wants_html(req)) return env_.respond.json(res, 200, {{"erased", true}});
    env_.respond.page(res, 200, "preferences_erased", {});
  }

 private:
  // The subscriber a valid token names (0: the channel no longer exists);
  // nothing, with the answer sent, for a bad token or when the list is not served.
  std::optional<std::int64_t> subscriber(const httplib::Request& req,
                                         httplib::Response& res) const {
    auto claims = env_.deps.service.check_preferences_token(req.matches[1].str());
    if (!claims) {
      env_.respond.error(req, res, claims.error());
      return std::nullopt;
    }
    if (env_.deps.subscriber_reads == nullptr) {
      env_.respond.error(
          req, res,
          Error{ErrorCode::kUnsupported, "unsupported", "this page is not served here", ""});
      return std::nullopt;
    }
    return env_.deps.subscriber_reads->subscriber_of_channel(claims->channel_id).value_or(0);
  }

  static std::string base(const httplib::Request& req) {
    return "/preferences/" + req.matches[1].str();
  }

  void gone(const httplib::Request& req, httplib::Response& res) const {
    env_.respond.error(req, res,
                       Error{ErrorCode::kNotFound, "not_found",
                             "Nothing is held about you under this link any more.", ""});
  }

  // POST-redirect-GET for a browser; the new state for anything else.
  void after_change(const httplib::Request& req, httplib::Response& res) const {
    if (wants_html(req)) return env_.respond.see_other(res, base(req) + "?saved=1");
    env_.respond.json(res, 200, {{"saved", true}});
  }

  const RouteEnv& env_;
};

}  // namespace

void add_preference_routes(Router& router, const RouteEnv& env) {
  auto r = std::make_shared<PreferencesResource>(env);
  const std::string p = R"(/preferences/([^/]*))";
  router.get(p, [r](const httplib::Request& q, httplib::Response& s) { r->page(q, s); });
  router.post(p + "/topics",
              [r](const httplib::Request& q, httplib::Response& s) { r->topics(q, s); });
  router.post(p + "/unsubscribe",
              [r](const httplib::Request& q, httplib::Response& s) { r->unsubscribe(q, s); });
  router.post(p + "/export",
              [r](const httplib::Request& q, httplib::Response& s) { r->export_data(q, s); });
  router.post(p + "/erase",
              [r](const httplib::Request& q, httplib::Response& s) { r->erase(q, s); });
}

}  // namespace sc::detail
