// The operators' list: GET /api/v1/admin/subscribers (without ?email= or
// ?phone=: the paged, filtered list) and GET /api/v1/admin/subscribers/{id}.
#include <charconv>
#include <cstdint>

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

json consent_json(const ConsentLogView& e) {
  json row = {{"at", time_json(e.at)},     {"channel", e.channel}, {"address", e.address},
              {"action", e.action},        {"source", e.source},   {"ip", e.ip},
              {"user_agent", e.user_agent}};
  if (!e.detail.empty()) row["detail"] = e.detail;
  if (!e.consent_text_version.empty()) row["consent_text_version"] = e.consent_text_version;
  if (!e.message_sid.empty()) row["message_sid"] = e.message_sid;
  if (!e.text_received.empty()) row["text_received"] = e.text_received;
  if (!e.opt_out_type.empty()) row["opt_out_type"] = e.opt_out_type;
  return row;
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
  const std::string raw = req.matches[1];
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  const auto not_found = Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""};
  if (raw.empty() || ec != std::errc{} || p != raw.data() + raw.size() || id < 1)
    return env.respond.json_error(res, not_found);
  auto d = env.deps.subscriber_reads->find(id);
  // Recorded before anything is shown, found or not: who looked whom up.
  audit(env, *who, "subscriber.view", "subscriber " + std::to_string(id), req,
        d ? "" : "not found");
  if (!d) return env.respond.json_error(res, not_found);
  auto body = summary_json(d->summary);
  body["postal_code"] = d->summary.subscriber.postal_code;
  json consent = json::array(), messages = json::array();
  for (const auto& e : d->consent) consent.push_back(consent_json(e));
  for (const auto& m : d->messages) messages.push_back(message_json(m));
  body["consent"] = consent;
  body["messages"] = messages;
  env.respond.json(res, 200, body);
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

}  // namespace sc::detail
