// The broadcasts resource of the admin API: drafts, their lifecycle, test
// sends and previews, the recipients' ledger (JSON pages and CSV).
#include <memory>

#include "rate_limiter.h"
#include "routes.h"
#include "sc/core/broadcast_lifecycle.h"
#include "sc/core/email.h"
#include "sc/core/sms_limits.h"
#include "sc/core/sms_segments.h"
#include "sc/core/text.h"

namespace sc::detail {

namespace {

using nlohmann::json;

Result<BroadcastDraft> draft_from(const json& j) {
  BroadcastDraft d;
  auto str = [&](const char* k, std::optional<std::string>& out) -> std::optional<Error> {
    if (!j.contains(k) || j.at(k).is_null()) return std::nullopt;
    if (!j.at(k).is_string())
      return invalid("invalid_field", std::string(k) + " must be a string", k);
    out = j.at(k).get<std::string>();
    return std::nullopt;
  };
  static const std::set<std::string> kKnown = {"channel", "subject", "text",
                                               "html",    "topics",  "send_at"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKnown.contains(it.key()))
      return invalid("unknown_field", "unknown field " + it.key(), it.key());
  }
  if (!j.contains("channel") || !j.at("channel").is_string())
    return invalid("invalid_channel", "channel must be \"email\" or \"sms\"", "channel");
  d.channel = j.at("channel").get<std::string>();
  for (auto [k, slot] : {std::pair{"subject", &d.subject}, std::pair{"text", &d.text},
                         std::pair{"html", &d.html}, std::pair{"send_at", &d.send_at}}) {
    if (auto e = str(k, *slot)) return *e;
  }
  // "now" (or no send_at) sends as soon as it is sent; a time must be ahead.
  if (d.send_at == "now") d.send_at.reset();
  if (j.contains("topics") && !j.at("topics").is_null()) {
    if (!j.at("topics").is_array())
      return invalid("invalid_topics", "topics must be a list of strings", "topics");
    for (const auto& t : j.at("topics")) {
      if (!t.is_string())
        return invalid("invalid_topics", "topics must be a list of strings", "topics");
      d.topics.push_back(t.get<std::string>());
    }
    d.topics_given = true;
  }
  return d;
}

// queued counts every recipient not yet finished (waiting and sending
// included), so that queued + sent + failed + skipped + unknown = total;
// waiting is the part of queued held by quiet hours, as delivered and
// undelivered are parts of sent.
json counts_json(const BroadcastCounts& c) {
  return {{"total", c.total},         {"queued", c.queued + c.sending}, {"sent", c.sent},
          {"failed", c.failed},       {"skipped", c.skipped},           {"unknown", c.unknown},
          {"delivered", c.delivered}, {"undelivered", c.undelivered},   {"waiting", c.waiting}};
}

// Test copies per admin key: a burst, then a steady rate, so a key cannot
// use test sends to mail or text strangers in bulk ahead of any consent.
constexpr double kTestCopiesBurst = 5;
constexpr double kTestCopiesPerMinute = 5;

class BroadcastResource {
 public:
  explicit BroadcastResource(const RouteEnv& env)
      : env_(env), test_copies_(kTestCopiesBurst, kTestCopiesPerMinute) {}

  bool available(httplib::Response& res) const {
    if (env_.deps.broadcast_tx != nullptr && env_.deps.broadcast_reads != nullptr &&
        env_.deps.broadcast_composer != nullptr)
      return true;
    env_.respond.json_error(
        res, Error{ErrorCode::kUnavailable, "unavailable", "broadcasts are not configured", ""});
    return false;
  }

  void create(const httplib::Request& req, httplib::Response& res) const {
    auto who = authorize(env_, req, res, Scope::kSend);
    if (!who || !available(res)) return;
    auto body = json_object_body(req);
    if (!body) return env_.respond.json_error(res, body.error());
    auto d = draft_from(body.value());
    if (!d) return env_.respond.json_error(res, d.error());
    auto b = validate_draft(d.value(), *env_.deps.broadcast_composer, env_.deps.broadcast_settings);
    if (!b) return env_.respond.json_error(res, b.error());
    const auto now = env_.deps.clock.now_unix();
    auto key = req.get_header_value("Idempotency-Key");
    if (key.size() > 255 || !text::is_valid_utf8(key))
      return env_.respond.json_error(
          res, invalid("invalid_idempotency_key", "Idempotency-Key is at most 255 bytes of UTF-8",
                       "Idempotency-Key"));
    // The request a key stands for: the parsed body (key order and spacing
    // do not matter), digested with the deployment's key.
    const auto digest =
        key.empty()
            ? std::string()
            : text::hex(env_.deps.key_digest->sign("broadcast.create\n" + body.value().dump()));
    std::optional<Error> err;
    bool existed = false;
    std::int64_t id = 0;
    env_.deps.broadcast_tx->run([&](const BroadcastTransaction& tx) {
      if (!key.empty()) {
        // Scoped to the admin key: another key's Idempotency-Key is another request.
        if (auto prior = tx.drafts.find_by_idempotency_key(who->key_name, key)) {
          // Rows from before migration 0011 have no digest: answered as before.
          if (!prior->idempotency_body_digest.empty() && prior->idempotency_body_digest != digest) {
            err = invalid("idempotency_key_reused",
                          "this Idempotency-Key was used with a different request (broadcast " +
                              std::to_string(prior->id) + "); use a new key for a new request",
                          "Idempotency-Key");
            return;
          }
          existed = true;
          id = prior->id;
          return;
        }
      }
      // After the replay check: a retry of a create answers as the first did.
      if (auto e = send_at_in_past(b.value(), now)) {
        err = *e;
        return;
      }
      if (auto unknown = tx.drafts.unknown_topics(b->topics); !unknown.empty()) {
        err = invalid("unknown_topic", "no subscriber has chosen the topic \"" + unknown[0] + "\"",
                      "topics");
        return;
      }
      Broadcast nb = b.value();
      nb.idempotency_key = key;
      nb.idempotency_body_digest = digest;
      nb.created_by = who->key_name;
      nb.created_at = now;
      id = tx.drafts.insert(nb);
      audit(tx.audit, env_, *who, "broadcast.create", "broadcast " + std::to_string(id), req);
    });
    if (err) return env_.respond.json_error(res, *err);
    respond_one(res, existed ? 200 : 201, id);
  }

  void edit(const httplib::Request& req, httplib::Response& res) const {
    auto who = authorize(env_, req, res, Scope::kSend);
    if (!who || !available(res)) return;
    auto id = id_of(req);
    auto body = json_object_body(req);
    if (!body) return env_.respond.json_error(res, body.error());
    auto d = draft_from(body.value());
    if (!d) return env_.respond.json_error(res, d.error());
    auto b = validate_draft(d.value(), *env_.deps.broadcast_composer, env_.deps.broadcast_settings);
    if (!b) return env_.respond.json_error(res, b.error());
    const auto now = env_.deps.clock.now_unix();
    std::optional<Error> err;
    env_.deps.broadcast_tx->run([&](const BroadcastTransaction& tx) {
      auto cur = tx.drafts.find(id);
      if (!cur) {
        err = no_such_broadcast();
        return;
      }
      if ((err = check_editable(*cur))) return;
      if (auto unknown = tx.drafts.unknown_topics(b->topics); !unknown.empty()) {
        err = invalid("unknown_topic", "no subscriber has chosen the topic \"" + unknown[0] + "\"",
                      "topics");
        return;
      }
      // After the 404 and 409: an edit of what cannot be edited says so first.
      if (auto e = send_at_in_past(b.value(), now)) {
        err = *e;
        return;
      }
      Broadcast nb = b.value();
      nb.id = id;
      nb.updated_at = now;
      tx.drafts.update_content(nb);
      audit(tx.audit, env_, *who, "broadcast.edit", "broadcast " + std::to_string(id), req);
    });
    if (err) return env_.respond.json_error(res, *err);
    respond_one(res, 200, id);
  }

  void get(const httplib::Request& req, httplib::Response& res) const {
    if (!authorize(env_, req, res, Scope::kRead) || !available(res)) return;
    respond_one(res, 200, id_of(req));
  }

  void list(const httplib::Request& req, httplib::Response& res) const {
    if (!authorize(env_, req, res, Scope::kRead) || !available(res)) return;
    auto limit = whole_param(req, "limit", 50, 1, 500);
    auto before = whole_param(req, "before", 0, 0, INT64_MAX);
    if (!limit || !before)
      return env_.respond.json_error(res, limit ? before.error() : limit.error());
    Page page("/api/v1/admin/broadcasts", limit.value());
    auto rows = env_.deps.broadcast_reads->list(page.rows_to_read(), before.value());
    const bool more = static_cast<std::int64_t>(rows.size()) > limit.value();
    if (more) rows.pop_back();
    json items = json::array();
    for (const auto& b : rows) items.push_back(to_json(b, nullptr));
    env_.respond.json(res, 200, page.body(items, more, "before", more ? rows.back().id : 0));
  }

  // send, pause, resume, cancel, retry-failed, retry-unknown: the state
  // machine is core's (sc/core/broadcast_lifecycle.h).
  void action(const httplib::Request& req, httplib::Response& res, BroadcastAction what) const {
    auto who = authorize(env_, req, res, Scope::kSend);
    if (!who || !available(res)) return;
    auto id = id_of(req);
    const auto now = env_.deps.clock.now_unix();
    std::optional<Error> err;
    int requeued = 0;
    env_.deps.broadcast_tx->run([&](const BroadcastTransaction& tx) {
      auto done = apply_broadcast_action(tx.drafts, tx.ledger, id, what, now, who->key_name);
      if (!done) {
        err = done.error();
        return;
      }
      requeued = done.value();
      audit(tx.audit, env_, *who, std::string("broadcast.") + to_string(what),
            "broadcast " + std::to_string(id), req);
    });
    if (err) return env_.respond.json_error(res, *err);
    if (env_.deps.broadcast_wake) env_.deps.broadcast_wake();
    const bool retry =
        what == BroadcastAction::kRetryFailed || what == BroadcastAction::kRetryUnknown;
    respond_one(res, 200, id, retry ? std::optional<int>(requeued) : std::nullopt);
  }

  // test (a real copy through the transactional lane) and preview (the
  // rendered message, nothing sent).
  //
  // Preview needs only the read scope: it sends nothing, its links are
  // samples that unsubscribe nobody (BroadcastComposer::sample_email), and
  // what it shows of a subscriber (that the address is known, the first
  // name) is what a read key's subscriber lookup shows; like a lookup, each
  // preview is audited with the address it was rendered for. A test copy
  // needs the send scope, is limited per key, counts against the daily SMS
  // cap, and is audited in the transaction that queues it.
  void sample(const httplib::Request& req, httplib::Response& res, bool send) const {
    auto who = authorize(env_, req, res, send ? Scope::kSend : Scope::kRead);
    if (!who || !available(res)) return;
    auto id = id_of(req);
    auto body = json_object_body(req);
    if (!body) return env_.respond.json_error(res, body.error());
    auto b = env_.deps.broadcast_reads->get(id);
    if (!b) return env_.respond.json_error(res, no_such_broadcast());
    auto address = sample_address(*b, body.value());
    if (!address) return env_.respond.json_error(res, address.error());
    const auto r = sample_recipient(*b, address.value());
    const auto now = env_.deps.clock.now_unix();
    const auto target = "broadcast " + std::to_string(b->id) + " to " + address.value();
    std::optional<OutboundEmail> email;
    std::optional<OutboundSms> sms;
    auto rendered = render_sample(*b, r, now, email, sms);
    if (!rendered) return env_.respond.json_error(res, rendered.error());
    json& out = rendered.value();
    if (!send) {
      // Recorded before anything is shown: who previewed whose message.
      audit(env_, *who, "broadcast.preview", target, req);
      return env_.respond.json(res, 200, out);
    }
    if (!test_copies_.allow("key:" + who->key_name)) {
      res.set_header("Retry-After",
                     std::to_string(static_cast<int>(60 / kTestCopiesPerMinute + 0.5)));
      return env_.respond.json_error(
          res, Error{ErrorCode::kRateLimited, "rate_limited",
                     "this key has sent " + std::to_string(static_cast<int>(kTestCopiesBurst)) +
                         " test copies in a short time; at most " +
                         std::to_string(static_cast<int>(kTestCopiesPerMinute)) +
                         " a minute are sent, try again shortly",
                     ""});
    }
    std::optional<Error> err;
    env_.deps.writes.run([&](const Transaction& tx) {
      OutboxEntry e;
      e.queued_at = now;
      e.channel_id = r.channel_id;
      e.purpose = "broadcast-test";
      if (email) {
        e.kind = OutboxKind::kEmail;
        tx.messages.enqueue_email(e, *email);
      } else {
        // A test text costs what a confirmation text costs: it counts
        // against the same daily cap on texts sent ahead of any consent.
        const auto& limits = env_.deps.service.config().sms_limits;
        if (limits.enabled && limits.daily_cap > 0 &&
            tx.sms_confirms.count_sms_confirms(
                SmsLimit::kDaily, "", now - SmsConfirmLimits::kDailyWindow) >= limits.daily_cap) {
          err = Error{ErrorCode::kRateLimited, "sms_daily_cap",
                      "the daily cap of " + std::to_string(limits.daily_cap) +
                          " texts sent ahead of consent (SC_SMS_CONFIRM_DAILY_CAP) is reached;"
                          " try again later",
                      ""};
          return;
        }
        e.kind = OutboxKind::kSms;
        tx.messages.enqueue_sms(e, *sms);
        if (limits.enabled)
          // Under no client, number or prefix: only the daily total counts
          // it, so an operator's tests do not hold back their own sign-up.
          tx.sms_confirms.record_sms_confirm(SmsConfirmKeys{}, now,
                                             now - SmsConfirmLimits::kLongestWindow);
      }
      audit(tx.audit, env_, *who, "broadcast.test", target, req);
    });
    if (err) return env_.respond.json_error(res, *err);
    out["queued"] = true;
    env_.respond.json(res, 202, out);
  }

  // The address a sample goes to: the body's "email" or "phone" (by the
  // broadcast's channel), normalised.
  Result<std::string> sample_address(const Broadcast& b, const json& j) const {
    const char* field = b.channel == ChannelKind::kEmail ? "email" : "phone";
    if (!j.contains(field) || !j.at(field).is_string())
      return invalid(std::string("missing_") + field,
                     std::string("give the ") + field + " to send the copy to", field);
    if (b.channel == ChannelKind::kEmail) {
      auto e = Email::parse(j.at(field).get<std::string>());
      if (!e) return e.error();
      return e->str();
    }
    if (env_.deps.phones == nullptr)
      return invalid("invalid_phone", "texting is not configured", field);
    auto p = env_.deps.phones->normalize(j.at(field).get<std::string>());
    if (!p) return p.error();
    return p.value();
  }

  // As that subscriber would get it: their own name when the address is
  // known; the unsubscribe link is a sample (sample_email, sample_sms).
  BroadcastComposer::Recipient sample_recipient(const Broadcast& b,
                                                const std::string& address) const {
    BroadcastComposer::Recipient r{0, address, ""};
    if (auto v = env_.deps.reads.subscriber_by_channel(b.channel, address)) {
      r.first_name = v->subscriber.first_name;
      for (const auto& c : v->channels)
        if (c.kind == b.channel) r.channel_id = c.channel_id;
    }
    return r;
  }

  // Renders the sample into `email` or `sms` and returns what a preview
  // shows of it; 400 invalid_template when the broadcast does not render.
  Result<json> render_sample(const Broadcast& b, const BroadcastComposer::Recipient& r,
                             std::int64_t now, std::optional<OutboundEmail>& email,
                             std::optional<OutboundSms>& sms) const {
    const auto& composer = *env_.deps.broadcast_composer;
    const auto& address = r.address;
    json out;
    try {
      if (b.channel == ChannelKind::kEmail) {
        auto m = composer.sample_email(b, r, now);
        m.message_id = "test." + std::to_string(b.id) + "." + std::to_string(now) +
                       m.message_id.substr(m.message_id.find('@'));
        json headers = json::array();
        headers.push_back({"List-Unsubscribe", "<" + m.list_unsubscribe_url + ">"});
        headers.push_back({"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"});
        if (!m.list_id.empty()) headers.push_back({"List-Id", m.list_id});
        for (const auto& [k, v] : m.extra_headers) headers.push_back({k, v});
        out = {{"channel", "email"}, {"to", address},  {"subject", m.subject},
               {"text", m.text},     {"html", m.html}, {"headers", headers}};
        email = std::move(m);
      } else {
        auto m = composer.sample_sms(b, r);
        auto seg = count_sms_segments(m.body);
        out = {{"channel", "sms"},
               {"to", address},
               {"text", m.body},
               {"segments", seg.segments},
               {"encoding", seg.gsm7 ? "GSM-7" : "UCS-2"}};
        sms = std::move(m);
      }
    } catch (const std::exception& e) {
      return invalid("invalid_template", std::string("the broadcast does not render: ") + e.what());
    }
    return out;
  }

  void recipients(const httplib::Request& req, httplib::Response& res, bool csv) const {
    auto who = authorize(env_, req, res, Scope::kRead);
    if (!who || !available(res)) return;
    auto id = id_of(req);
    auto b = env_.deps.broadcast_reads->get(id);
    if (!b) return env_.respond.json_error(res, no_such_broadcast());
    std::string state = req.has_param("status") ? req.get_param_value("status") : "";
    static const std::set<std::string> kStates = {"",     "queued", "waiting", "sending",
                                                  "sent", "failed", "skipped", "unknown"};
    if (!kStates.contains(state))
      return env_.respond.json_error(
          res, invalid("invalid_status",
                       "status is one of queued, waiting, sending, sent, failed, skipped, unknown",
                       "status"));
    const auto now = env_.deps.clock.now_unix();
    auto limit = whole_param(req, "limit", csv ? 1'000'000 : 100, 1, csv ? 10'000'000 : 1000);
    auto after = whole_param(req, "after", 0, 0, INT64_MAX);
    if (!limit || !after)
      return env_.respond.json_error(res, limit ? after.error() : limit.error());
    // Every address of a broadcast is personal data, as a lookup is: who
    // exported which broadcast's recipients is recorded before any is shown.
    audit(env_, *who, csv ? "broadcast.recipients_csv" : "broadcast.recipients",
          "broadcast " + std::to_string(id), req,
          "status=" + (state.empty() ? std::string("all") : state) + " limit=" +
              std::to_string(limit.value()) + " after=" + std::to_string(after.value()));
    if (csv) return stream_recipients_csv(res, id, state, limit.value(), after.value(), now);
    Page page("/api/v1/admin/broadcasts/" + std::to_string(id) + "/recipients", limit.value());
    page.keep("status", state);
    auto rows =
        env_.deps.broadcast_reads->recipients(id, state, page.rows_to_read(), after.value(), now);
    const bool more = static_cast<std::int64_t>(rows.size()) > limit.value();
    if (more) rows.pop_back();
    json items = json::array();
    for (const auto& r : rows) items.push_back(recipient_json(r));
    env_.respond.json(res, 200, page.body(items, more, "after", more ? rows.back().outbox_id : 0));
  }

  static json recipient_json(const BroadcastRecipient& r) {
    json row = {{"outbox_id", r.outbox_id},
                {"address", r.address},
                {"state", r.state},
                {"attempts", r.attempts}};
    if (!r.provider.empty()) row["provider"] = r.provider;
    if (!r.provider_message_id.empty()) row["message_id"] = r.provider_message_id;
    if (!r.code.empty()) row["code"] = r.code;
    if (!r.error.empty()) row["error"] = r.error;
    if (!r.delivery_state.empty()) row["delivery_state"] = r.delivery_state;
    if (r.finished_at != 0) row["finished_at"] = time_json(r.finished_at);
    if (r.waiting_until != 0) row["waiting_until"] = time_json(r.waiting_until);
    return row;
  }

  // The recipients as CSV, streamed a page at a time: a million rows never
  // sit in memory.
  void stream_recipients_csv(httplib::Response& res, std::int64_t id, const std::string& state,
                             std::int64_t total, std::int64_t start, std::int64_t now) const {
    auto reads = env_.deps.broadcast_reads;
    res.set_header("Content-Disposition",
                   "attachment; filename=\"broadcast-" + std::to_string(id) + "-recipients.csv\"");
    res.set_chunked_content_provider(
        "text/csv; charset=utf-8",
        [reads, id, state, total, now, cursor = start, sent = std::int64_t{0}, header = false](
            std::size_t, httplib::DataSink& sink) mutable {
          std::string out;
          if (!header) {
            out =
                "outbox_id,address,state,attempts,provider,provider_message_id,code,error,"
                "delivery_state,finished_at,waiting_until\r\n";
            header = true;
          }
          const auto n = static_cast<int>(std::min<std::int64_t>(5000, total - sent));
          auto rows = n > 0 ? reads->recipients(id, state, n, cursor, now)
                            : std::vector<BroadcastRecipient>{};
          for (const auto& r : rows) {
            out += std::to_string(r.outbox_id) + "," + csv_field(r.address) + "," + r.state + "," +
                   std::to_string(r.attempts) + "," + csv_field(r.provider) + "," +
                   csv_field(r.provider_message_id) + "," + csv_field(r.code) + "," +
                   csv_field(r.error) + "," + csv_field(r.delivery_state) + "," +
                   time_csv(r.finished_at) + "," + time_csv(r.waiting_until) + "\r\n";
            cursor = r.outbox_id;
          }
          sent += static_cast<std::int64_t>(rows.size());
          if (!out.empty() && !sink.write(out.data(), out.size())) return false;
          if (rows.empty() || static_cast<int>(rows.size()) < n) sink.done();
          return true;
        });
  }

 private:
  static std::int64_t id_of(const httplib::Request& req) {
    // The route's pattern allows 1-18 digits only.
    return std::stoll(req.matches[1].str());
  }

  json to_json(const Broadcast& b, const BroadcastCounts* counts) const {
    json j = {{"id", b.id},
              {"channel", sc::to_string(b.channel)},
              {"status", sc::to_string(b.status)},
              {"text", b.text},
              {"topics", b.topics},
              {"created_at", time_json(b.created_at)},
              {"updated_at", time_json(b.updated_at)},
              {"created_by", b.created_by}};
    if (b.channel == ChannelKind::kEmail) {
      j["subject"] = b.subject;
      if (!b.html.empty()) j["html"] = b.html;
    } else {
      try {
        auto seg = env_.deps.broadcast_composer->sms_segments(b.text);
        j["segments"] = seg.segments;
        j["encoding"] = seg.gsm7 ? "GSM-7" : "UCS-2";
      } catch (const std::exception&) {
      }
    }
    if (b.send_at != 0) j["send_at"] = format_rfc3339(b.send_at);
    if (b.started_at != 0) j["started_at"] = time_json(b.started_at);
    if (b.finished_at != 0) j["finished_at"] = time_json(b.finished_at);
    if (!b.pause_reason.empty()) j["reason"] = b.pause_reason;
    if (counts != nullptr) {
      j["counts"] = counts_json(*counts);
      // When the first recipient held by quiet hours may go.
      if (counts->waiting > 0) j["waiting_until"] = time_json(counts->waiting_until);
    }
    return j;
  }

  void respond_one(httplib::Response& res, int status, std::int64_t id,
                   std::optional<int> requeued = std::nullopt) const {
    auto b = env_.deps.broadcast_reads->get(id);
    if (!b) return env_.respond.json_error(res, no_such_broadcast());
    auto counts = env_.deps.broadcast_reads->counts(id, env_.deps.clock.now_unix());
    auto j = to_json(*b, &counts);
    if (requeued) j["requeued"] = *requeued;
    env_.respond.json(res, status, j);
  }

  const RouteEnv& env_;
  mutable RateLimiter test_copies_;  // test copies per admin key
};

}  // namespace

void add_broadcast_routes(Router& router, const RouteEnv& env) {
  auto r = std::make_shared<BroadcastResource>(env);
  const std::string base = "/api/v1/admin/broadcasts";
  const std::string one = base + "/([0-9]{1,18})";
  router.post(base, [r](const httplib::Request& q, httplib::Response& s) { r->create(q, s); });
  router.get(base, [r](const httplib::Request& q, httplib::Response& s) { r->list(q, s); });
  router.get(one, [r](const httplib::Request& q, httplib::Response& s) { r->get(q, s); });
  router.post(one, [r](const httplib::Request& q, httplib::Response& s) { r->edit(q, s); });
  for (auto what :
       {BroadcastAction::kSend, BroadcastAction::kPause, BroadcastAction::kResume,
        BroadcastAction::kCancel, BroadcastAction::kRetryFailed, BroadcastAction::kRetryUnknown}) {
    router.post(
        one + "/" + to_string(what),
        [r, what](const httplib::Request& q, httplib::Response& s) { r->action(q, s, what); });
  }
  router.post(one + "/test",
              [r](const httplib::Request& q, httplib::Response& s) { r->sample(q, s, true); });
  router.post(one + "/preview",
              [r](const httplib::Request& q, httplib::Response& s) { r->sample(q, s, false); });
  router.get(one + "/recipients",
             [r](const httplib::Request& q, httplib::Response& s) { r->recipients(q, s, false); });
  router.get(one + "/recipients\\.csv",
             [r](const httplib::Request& q, httplib::Response& s) { r->recipients(q, s, true); });
}

}  // namespace sc::detail
