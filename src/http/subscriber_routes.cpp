// The operators' list: GET /api/v1/admin/subscribers (without ?email= or
// ?phone=: the paged, filtered list), GET and PATCH
// /api/v1/admin/subscribers/{id}, POST …/{id}/unsubscribe, and DELETE
// …/{id} (erasure).
#include <cstdint>
#include <set>

#include "routes.h"
#include "sc/core/broadcast.h"
#include "sc/core/subscriber_list.h"

namespace sc::detail {

namespace {

using nlohmann::json;

constexpr std::int64_t kDefaultPage = 50;
constexpr std::int64_t kMaxPage = 500;
constexpr const char* kFilters[] = {"q",     "channel",       "state",
                                    "topic", "created_after", "created_before"};

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

json channel_json(const ChannelView& c) {
  return {{"channel", to_string(c.kind)},
          {"state", to_string(c.state)},
          {"changed_at", time_json(c.updated_at)}};
}

json summary_json(const SubscriberSummary& s) {
  json email = nullptr, phone = nullptr, channels = json::array();
  for (const auto& c : s.channels) {
    (c.kind == ChannelKind::kEmail ? email : phone) = c.address;
    channels.push_back(channel_json(c));
  }
  return {{"id", s.subscriber.id}, {"email", email},
          {"phone", phone},        {"first_name", s.subscriber.first_name},
          {"topics", s.topics},    {"created_at", time_json(s.subscriber.created_at)},
          {"channels", channels}};
}

json message_json(const MessageView& m) {
  json row = {{"id", m.id},
              {"channel", to_string(m.kind)},
              {"purpose", m.purpose},
              {"state", m.state},
              {"created_at", time_json(m.created_at)},
              {"finished_at", time_json(m.finished_at)}};
  row["broadcast_id"] = m.broadcast_id == 0 ? json(nullptr) : json(m.broadcast_id);
  if (!m.provider.empty()) row["provider"] = m.provider;
  if (!m.delivery_state.empty()) row["delivery_state"] = m.delivery_state;
  return row;
}

// PATCH's body: the fields it may change; null clears a name or a postal
// code, and topics replace those followed ([] or null: none).
Result<ProfileChange> profile_from(const json& j) {
  static const std::set<std::string> kKnown = {"first_name", "postal_code", "topics"};
  ProfileChange c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& k = it.key();
    const auto& v = it.value();
    if (!kKnown.contains(k)) return invalid("unknown_field", "unknown field " + k, k);
    if (k == "topics") {
      c.topics.emplace();
      if (v.is_null()) continue;
      if (!v.is_array())
        return invalid("invalid_topics", "topics must be a list of strings", "topics");
      for (const auto& t : v) {
        if (!t.is_string())
          return invalid("invalid_topics", "topics must be a list of strings", "topics");
        c.topics->push_back(t.get<std::string>());
      }
      continue;
    }
    if (!v.is_null() && !v.is_string())
      return invalid("invalid_" + k, k + " must be a string or null", k);
    (k == "first_name" ? c.first_name : c.postal_code) = v.is_null() ? "" : v.get<std::string>();
  }
  return c;
}

// The unsubscribe body: {"channel":"email"|"sms"|"all"}; all is no one kind.
Result<std::optional<ChannelKind>> channel_choice(const json& j) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != "channel")
      return invalid("unknown_field", "unknown field " + it.key(), it.key());
  }
  const auto bad =
      invalid("invalid_channel", "channel must be \"email\", \"sms\" or \"all\"", "channel");
  if (!j.contains("channel") || !j.at("channel").is_string()) return bad;
  const auto v = j.at("channel").get<std::string>();
  if (v == "all") return std::optional<ChannelKind>();
  auto kind = channel_kind_from(v);
  if (!kind) return bad;
  return std::optional<ChannelKind>(*kind);
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

Error unavailable() {
  return Error{ErrorCode::kUnsupported, "unsupported", "the subscriber list is not served here",
               ""};
}

}  // namespace

void list_subscribers(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  if (!authorize(env, req, res, Scope::kRead)) return;
  auto limit = whole_param(req, "limit", kDefaultPage, 1, kMaxPage);
  if (!limit) return env.respond.json_error(res, limit.error());
  auto before = whole_param(req, "before", 0, 1, INT64_MAX);
  if (!before) return env.respond.json_error(res, before.error());
  auto query = subscriber_query(SubscriberFilterArgs{
      param(req, "q"), param(req, "channel"), param(req, "state"), param(req, "topic"),
      param(req, "created_after"), param(req, "created_before")});
  if (!query) return env.respond.json_error(res, query.error());
  if (env.deps.subscriber_reads == nullptr) return env.respond.json_error(res, unavailable());
  Page page("/api/v1/admin/subscribers", limit.value());
  for (const char* name : kFilters) page.keep(name, req.get_param_value(name));
  auto q = query.value();
  q.before_id = before.value();
  q.limit = page.rows_to_read();
  auto rows = env.deps.subscriber_reads->list(q);
  const bool more = static_cast<std::int64_t>(rows.size()) > limit.value();
  if (more) rows.pop_back();
  json items = json::array();
  for (const auto& s : rows) items.push_back(summary_json(s));
  env.respond.json(res, 200,
                   page.body(items, more, "before", more ? rows.back().subscriber.id : 0));
}

void show_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kRead);
  if (!who) return;
  if (env.deps.subscriber_reads == nullptr) return env.respond.json_error(res, unavailable());
  auto parsed = path_id(req.matches[1], "subscriber");
  if (!parsed) return env.respond.json_error(res, parsed.error());
  const auto id = parsed.value();
  auto d = env.deps.subscriber_reads->find(id);
  // Recorded before anything is shown, found or not: who looked whom up.
  audit(env, *who, "subscriber.view", "subscriber " + std::to_string(id), req,
        d ? "" : "not found");
  if (!d)
    return env.respond.json_error(
        res, Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""});
  env.respond.json(res, 200, subscriber_detail_json(*d));
}

void subscriber_stats(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  if (!authorize(env, req, res, Scope::kRead)) return;
  if (env.deps.subscriber_reads == nullptr) return env.respond.json_error(res, unavailable());
  const auto s = env.deps.subscriber_reads->stats(env.deps.clock.now_unix());
  json channels = json::object();
  for (auto kind : {ChannelKind::kEmail, ChannelKind::kSms}) {
    json states = json::object();
    for (auto state : {ConsentState::kPending, ConsentState::kConfirmed,
                       ConsentState::kUnsubscribed, ConsentState::kUndeliverable}) {
      std::int64_t n = 0;
      for (const auto& c : s.channels)
        if (c.kind == kind && c.state == state) n = c.count;
      states[to_string(state)] = n;
    }
    channels[to_string(kind)] = states;
  }
  json topics = json::object();
  for (const auto& [topic, n] : s.topics) topics[topic] = n;
  json days = json::array();
  for (const auto& d : s.days) {
    days.push_back({{"date", format_rfc3339(d.start).substr(0, 10)},
                    {"signups", d.signups},
                    {"confirmations", d.confirmations},
                    {"unsubscribes", d.unsubscribes}});
  }
  env.respond.json(
      res, 200,
      {{"subscribers", s.subscribers}, {"channels", channels}, {"topics", topics}, {"days", days}});
}

json consent_row_json(const ConsentLogView& e) {
  json row = {{"at", time_json(e.at)},     {"channel", e.channel}, {"address", e.address},
              {"action", e.action},        {"source", e.source},   {"ip", e.ip},
              {"user_agent", e.user_agent}};
  if (!e.detail.empty()) row["detail"] = e.detail;
  if (!e.consent_text_version.empty()) row["consent_text_version"] = e.consent_text_version;
  if (!e.message_sid.empty()) row["message_sid"] = e.message_sid;
  if (!e.text_received.empty()) row["text_received"] = e.text_received;
  // Twilio's Advanced Opt-Out answered the text itself (OptOutType).
  if (!e.opt_out_type.empty()) row["opt_out_type"] = e.opt_out_type;
  if (e.channel == "sms" && !e.message_sid.empty())
    row["provider_answered"] = !e.opt_out_type.empty();
  return row;
}

namespace {

// An operator's change of subscriber {id}: who asks (an admin key), which
// subscriber, and the JSON body; nothing (the answer sent) otherwise.
struct ChangeRequest {
  AdminIdentity who;
  std::int64_t id = 0;
  json body;
};

std::optional<ChangeRequest> change_request(const RouteEnv& env, const httplib::Request& req,
                                            httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kAdmin);
  if (!who) return std::nullopt;
  auto id = path_id(req.matches[1], "subscriber");
  auto body = id ? json_object_body(req) : Result<json>(id.error());
  if (!body) {
    env.respond.json_error(res, body.error());
    return std::nullopt;
  }
  return ChangeRequest{*who, id.value(), std::move(body).value()};
}

}  // namespace

void patch_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto r = change_request(env, req, res);
  if (!r) return;
  const auto& who = r->who;
  const auto id = r->id;
  auto raw = profile_from(r->body);
  if (!raw) return env.respond.json_error(res, raw.error());
  auto change = env.deps.service.validate_profile(raw.value());
  if (!change) return env.respond.json_error(res, change.error());
  // The change, its audit row and the answer's values in one transaction.
  std::optional<Result<std::vector<std::string>>> outcome;
  json answer;
  env.deps.writes.run([&](const Transaction& tx) {
    outcome = env.deps.service.update_profile(tx, id, change.value());
    if (!*outcome) return;
    const auto& fields = outcome->value();
    if (!fields.empty()) {
      audit(tx.audit, env, who, "subscriber.update", "subscriber " + std::to_string(id), req,
            joined(fields));
    }
    const auto sub = tx.subscribers.subscriber_by_id(id);
    answer = {{"id", id},
              {"first_name", sub->first_name},
              {"postal_code", sub->postal_code},
              {"topics", tx.topics.topics_of(id)},
              {"changed", fields}};
  });
  if (!*outcome) return env.respond.json_error(res, outcome->error());
  env.respond.json(res, 200, answer);
}

void unsubscribe_subscriber(const RouteEnv& env, const httplib::Request& req,
                            httplib::Response& res) {
  auto r = change_request(env, req, res);
  if (!r) return;
  const auto& who = r->who;
  const auto id = r->id;
  auto only = channel_choice(r->body);
  if (!only) return env.respond.json_error(res, only.error());
  const auto ctx = request_context(req);
  const auto now = env.deps.clock.now_unix();
  const auto which = only.value() ? std::string(to_string(*only.value())) : std::string("all");
  // The changes, their consent-log rows and the audit row in one transaction.
  std::optional<Result<std::vector<ChannelOutcome>>> outcome;
  env.deps.writes.run([&](const Transaction& tx) {
    outcome = env.deps.service.unsubscribe_subscriber(tx, id, only.value(), ConsentSource::kAdmin,
                                                      who.key_name, ctx, now);
    if (*outcome)
      audit(tx.audit, env, who, "subscriber.unsubscribe", "subscriber " + std::to_string(id), req,
            which);
  });
  if (!*outcome) return env.respond.json_error(res, outcome->error());
  json channels = json::array();
  for (const auto& done : outcome->value()) {
    if (done.changed) {
      count(env, "sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
            {{"channel", to_string(done.channel.kind)}, {"source", "admin"}});
    }
    channels.push_back({{"channel", to_string(done.channel.kind)},
                        {"state", to_string(done.channel.state)},
                        {"changed", done.changed}});
  }
  env.respond.json(res, 200, {{"id", id}, {"channels", channels}});
}

void erase_subscriber(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kAdmin);
  if (!who) return;
  auto id = path_id(req.matches[1], "subscriber");
  if (!id) return env.respond.json_error(res, id.error());
  const auto now = env.deps.clock.now_unix();
  // The erasure and its audit row (which names no one) in one transaction.
  std::optional<Result<ErasureOutcome>> outcome;
  env.deps.writes.run([&](const Transaction& tx) {
    outcome = env.deps.service.erase(tx, id.value(), "admin", now);
    if (*outcome) {
      audit(tx.audit, env, *who, "subscriber.erase", "subscriber " + std::to_string(id.value()),
            req, std::to_string(outcome->value().channels.size()) + " channels");
    }
  });
  if (!*outcome) return env.respond.json_error(res, outcome->error());
  if (env.deps.forget_copies) env.deps.forget_copies(outcome->value());
  count(env, "sc_erasures_total", "Subscribers erased, by who asked.", {{"by", "admin"}});
  res.status = 204;
}

void show_suppression(const RouteEnv& env, const httplib::Request& req, httplib::Response& res) {
  auto who = authorize(env, req, res, Scope::kRead);
  if (!who) return;
  auto address = address_param(env, req);
  if (!address) return env.respond.json_error(res, address.error());
  if (env.deps.subscriber_reads == nullptr) return env.respond.json_error(res, unavailable());
  const auto& [kind, addr] = address.value();
  const auto key = env.deps.service.suppression_key_of(kind, addr);
  // Audited under the pseudonym: the log never names an erased person again.
  audit(env, *who, "suppression.lookup", erased_pseudonym(key), req);
  const auto entry = env.deps.subscriber_reads->suppression(kind, key);
  json consent = json::array();
  for (const auto& e : env.deps.subscriber_reads->erased_consent(erased_pseudonym(key)))
    consent.push_back(consent_row_json(e));
  json body = {{"channel", to_string(kind)},
               {"suppressed", entry.has_value()},
               {"pseudonym", erased_pseudonym(key)},
               {"consent", consent}};
  if (entry) {
    body["reason"] = entry->reason;
    body["since"] = time_json(entry->created_at);
  }
  env.respond.json(res, 200, body);
}

json subscriber_detail_json(const SubscriberDetail& d) {
  auto body = summary_json(d.summary);
  body["postal_code"] = d.summary.subscriber.postal_code;
  json consent = json::array(), messages = json::array();
  for (const auto& e : d.consent) consent.push_back(consent_row_json(e));
  for (const auto& m : d.messages) messages.push_back(message_json(m));
  body["consent"] = consent;
  body["messages"] = messages;
  return body;
}

}  // namespace sc::detail
