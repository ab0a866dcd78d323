#include "sqlite_stores.h"

#include <algorithm>

#include "payload.h"

namespace sc::storage::detail {

SQLite::Statement& Statements::get(const char* sql) {
  for (auto& [k, s] : cache_) {
    if (k == sql) {
      s->reset();
      s->clearBindings();
      return *s;
    }
  }
  cache_.emplace_back(sql, std::make_unique<SQLite::Statement>(db_, sql));
  return *cache_.back().second;
}

void Statements::reset_all() noexcept {
  for (auto& [k, s] : cache_) {
    try {
      s->reset();
    } catch (...) {
      // reset() reports the statement's last error again; it is reset all the same.
    }
  }
}

namespace {

Channel read_channel(SQLite::Statement& q) {
  Channel c;
  c.id = q.getColumn(0).getInt64();
  c.subscriber_id = q.getColumn(1).getInt64();
  c.kind = channel_kind_from(q.getColumn(2).getString()).value_or(ChannelKind::kEmail);
  c.address = q.getColumn(3).getString();
  c.state = consent_state_from(q.getColumn(4).getString()).value_or(ConsentState::kPending);
  c.created_at = q.getColumn(5).getInt64();
  c.updated_at = q.getColumn(6).getInt64();
  c.confirm_sent_at = q.getColumn(7).getInt64();
  c.state_version = q.getColumn(8).getInt64();
  return c;
}

constexpr const char* kChannelCols =
    "SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,"
    " state_version FROM channels ";

}  // namespace

std::optional<Channel> SqliteConsentStore::find_channel(ChannelKind kind,
                                                        std::string_view address) {
  static const std::string sql = std::string(kChannelCols) + "WHERE kind = ? AND address = ?";
  auto& q = st_.get(sql.c_str());
  q.bind(1, to_string(kind));
  q.bind(2, std::string(address));
  if (!q.executeStep()) return std::nullopt;
  return read_channel(q);
}

std::optional<Channel> SqliteConsentStore::channel_by_id(std::int64_t id) {
  static const std::string sql = std::string(kChannelCols) + "WHERE id = ?";
  auto& q = st_.get(sql.c_str());
  q.bind(1, static_cast<int64_t>(id));
  if (!q.executeStep()) return std::nullopt;
  return read_channel(q);
}

std::optional<Subscriber> SqliteConsentStore::subscriber_by_id(std::int64_t id) {
  auto& q = st_.get("SELECT id, first_name, postal_code, created_at FROM subscribers WHERE id = ?");
  q.bind(1, static_cast<int64_t>(id));
  if (!q.executeStep()) return std::nullopt;
  return Subscriber{q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                    q.getColumn(2).getString(), q.getColumn(3).getInt64()};
}

std::int64_t SqliteConsentStore::insert_subscriber(const Subscriber& s) {
  auto& q = st_.get(
      "INSERT INTO subscribers (first_name, postal_code, created_at) VALUES (?, ?, ?) RETURNING "
      "id");
  q.bind(1, s.first_name);
  q.bind(2, s.postal_code);
  q.bind(3, static_cast<int64_t>(s.created_at));
  q.executeStep();
  auto id = q.getColumn(0).getInt64();
  while (q.executeStep()) {
  }
  return id;
}

std::int64_t SqliteConsentStore::insert_channel(const Channel& c) {
  auto& q = st_.get(
      "INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at, "
      "confirm_sent_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
  q.bind(1, static_cast<int64_t>(c.subscriber_id));
  q.bind(2, to_string(c.kind));
  q.bind(3, c.address);
  q.bind(4, to_string(c.state));
  q.bind(5, static_cast<int64_t>(c.created_at));
  q.bind(6, static_cast<int64_t>(c.updated_at));
  q.bind(7, static_cast<int64_t>(c.confirm_sent_at));
  q.executeStep();
  auto id = q.getColumn(0).getInt64();
  while (q.executeStep()) {
  }
  return id;
}

void SqliteConsentStore::update_channel_state(std::int64_t channel_id, ConsentState state,
                                              std::int64_t at) {
  // Every state change counts, also two in the same second (confirm links carry the count).
  auto& q = st_.get(
      "UPDATE channels SET state = ?, updated_at = ?, state_version = state_version + 1"
      " WHERE id = ?");
  q.bind(1, to_string(state));
  q.bind(2, static_cast<int64_t>(at));
  q.bind(3, static_cast<int64_t>(channel_id));
  q.exec();
}

void SqliteConsentStore::mark_confirm_sent(std::int64_t channel_id, std::int64_t at) {
  auto& q = st_.get("UPDATE channels SET confirm_sent_at = ? WHERE id = ?");
  q.bind(1, static_cast<int64_t>(at));
  q.bind(2, static_cast<int64_t>(channel_id));
  q.exec();
}

void SqliteConsentStore::add_topics(std::int64_t subscriber_id,
                                    const std::vector<std::string>& topics) {
  for (const auto& t : topics) {
    auto& q =
        st_.get("INSERT OR IGNORE INTO subscriber_topics (subscriber_id, topic) VALUES (?, ?)");
    q.bind(1, static_cast<int64_t>(subscriber_id));
    q.bind(2, t);
    q.exec();
  }
}

std::vector<std::string> SqliteConsentStore::topics_of(std::int64_t subscriber_id) {
  auto& q = st_.get("SELECT topic FROM subscriber_topics WHERE subscriber_id = ? ORDER BY topic");
  q.bind(1, static_cast<int64_t>(subscriber_id));
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

void SqliteConsentStore::request_topics(std::int64_t channel_id,
                                        const std::vector<std::string>& topics, std::int64_t at) {
  for (const auto& t : topics) {
    auto& q = st_.get(
        "INSERT INTO topic_requests (channel_id, topic, requested_at) VALUES (?, ?, ?)"
        " ON CONFLICT (channel_id, topic) DO UPDATE SET requested_at = excluded.requested_at");
    q.bind(1, static_cast<int64_t>(channel_id));
    q.bind(2, t);
    q.bind(3, static_cast<int64_t>(at));
    q.exec();
  }
}

std::vector<std::string> SqliteConsentStore::take_topic_requests(std::int64_t channel_id,
                                                                 std::int64_t requested_until) {
  auto& q = st_.get(
      "DELETE FROM topic_requests WHERE channel_id = ? AND requested_at <= ? RETURNING topic");
  q.bind(1, static_cast<int64_t>(channel_id));
  q.bind(2, static_cast<int64_t>(requested_until));
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SqliteConsentStore::topic_requests_of(std::int64_t channel_id) {
  auto& q = st_.get("SELECT topic FROM topic_requests WHERE channel_id = ? ORDER BY topic");
  q.bind(1, static_cast<int64_t>(channel_id));
  std::vector<std::string> out;
  while (q.executeStep()) out.push_back(q.getColumn(0).getString());
  return out;
}

void SqliteConsentStore::append_consent(const ConsentEvent& e, const ConsentText* text) {
  auto& q = st_.get(
      "INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, "
      "detail,"
      " ip, user_agent, consent_text_sha256, consent_text_version, message_sid, text_received,"
      " opt_out_type) VALUES "
      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  q.bind(1, static_cast<int64_t>(e.at));
  q.bind(2, static_cast<int64_t>(e.subscriber_id));
  q.bind(3, static_cast<int64_t>(e.channel_id));
  q.bind(4, to_string(e.channel));
  q.bind(5, e.address);
  q.bind(6, to_string(e.action));
  q.bind(7, to_string(e.source));
  q.bind(8, e.detail);
  q.bind(9, e.context.ip);
  q.bind(10, e.context.user_agent);
  if (text != nullptr && !text->sha256_hex.empty()) {
    q.bind(11, text->sha256_hex);
    q.bind(12, text->version);
  } else {
    q.bind(11);
    q.bind(12);
  }
  // NULL unless the row is about an inbound text.
  auto bind_text = [&](int i, const std::string& v) {
    if (v.empty()) {
      q.bind(i);
    } else {
      q.bind(i, v);
    }
  };
  bind_text(13, e.message_sid);
  bind_text(14, e.text_received);
  bind_text(15, e.opt_out_type);
  q.exec();
}

bool SqliteConsentStore::inbound_text_seen(std::string_view message_sid) {
  auto& q = st_.get("SELECT 1 FROM inbound_texts WHERE message_sid = ?");
  q.bind(1, std::string(message_sid));
  const bool seen = q.executeStep();
  q.reset();
  return seen;
}

std::int64_t SqliteConsentStore::insert_inbound_text(const StoredInboundText& t) {
  auto& q = st_.get(
      "INSERT INTO inbound_texts (message_sid, from_number, body, keyword, opt_out_type, outcome,"
      " received_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
  q.bind(1, t.message_sid);
  q.bind(2, t.from);
  q.bind(3, t.body);
  q.bind(4, t.keyword);
  q.bind(5, t.opt_out_type);
  q.bind(6, t.outcome);
  q.bind(7, static_cast<int64_t>(t.received_at));
  q.executeStep();
  auto id = q.getColumn(0).getInt64();
  while (q.executeStep()) {
  }
  return id;
}

std::optional<StoredInboundText> SqliteConsentStore::inbound_text_by_id(std::int64_t id) {
  auto& q = st_.get(
      "SELECT id, message_sid, from_number, body, keyword, opt_out_type, outcome, received_at,"
      " COALESCE(reviewed_at, 0), COALESCE(reviewed_by, ''), COALESCE(review_action, '')"
      " FROM inbound_texts WHERE id = ?");
  q.bind(1, static_cast<int64_t>(id));
  if (!q.executeStep()) return std::nullopt;
  StoredInboundText t;
  t.id = q.getColumn(0).getInt64();
  t.message_sid = q.getColumn(1).getString();
  t.from = q.getColumn(2).getString();
  t.body = q.getColumn(3).getString();
  t.keyword = q.getColumn(4).getString();
  t.opt_out_type = q.getColumn(5).getString();
  t.outcome = q.getColumn(6).getString();
  t.received_at = q.getColumn(7).getInt64();
  t.reviewed_at = q.getColumn(8).getInt64();
  t.reviewed_by = q.getColumn(9).getString();
  t.review_action = q.getColumn(10).getString();
  q.reset();
  return t;
}

void SqliteConsentStore::mark_inbound_text_reviewed(std::int64_t id, std::string_view by,
                                                    std::string_view action, std::int64_t at) {
  auto& q = st_.get(
      "UPDATE inbound_texts SET reviewed_at = ?, reviewed_by = ?, review_action = ? WHERE id = ?");
  q.bind(1, static_cast<int64_t>(at));
  q.bind(2, std::string(by));
  q.bind(3, std::string(action));
  q.bind(4, static_cast<int64_t>(id));
  q.exec();
}

std::optional<SentMessageRef> SqliteConsentStore::sent_message(
    std::string_view provider, std::string_view provider_message_id) {
  // outbox_provider_message (0005) finds the row.
  auto& q = st_.get(
      "SELECT id, channel_id, broadcast_id, COALESCE(delivery_state, '') FROM outbox"
      " WHERE provider_message_id = ? AND provider = ? ORDER BY id LIMIT 1");
  q.bind(1, std::string(provider_message_id));
  q.bind(2, std::string(provider));
  if (!q.executeStep()) return std::nullopt;
  SentMessageRef r{q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getInt64(),
                   q.getColumn(3).getString()};
  q.reset();
  return r;
}

void SqliteConsentStore::set_delivery(std::int64_t outbox_id, std::string_view state,
                                      std::string_view code, std::int64_t at) {
  auto& q = st_.get(
      "UPDATE outbox SET delivery_state = ?, delivery_code = ?, delivery_at = ? WHERE id = ?");
  q.bind(1, std::string(state));
  if (code.empty()) {
    q.bind(2);
  } else {
    q.bind(2, std::string(code));
  }
  q.bind(3, static_cast<int64_t>(at));
  q.bind(4, static_cast<int64_t>(outbox_id));
  q.exec();
}

std::int64_t SqliteConsentStore::enqueue(const OutboxEntry& entry, const std::string& payload) {
  auto& q = st_.get(
      "INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, lane, "
      "next_attempt_at, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, 0, strftime('%s','now')) RETURNING id");
  q.bind(1, entry.kind == OutboxKind::kEmail ? "email" : "sms");
  q.bind(2, static_cast<int64_t>(entry.channel_id));
  q.bind(3, static_cast<int64_t>(entry.broadcast_id));
  q.bind(4, entry.purpose);
  q.bind(5, payload);
  q.bind(6, static_cast<int>(lane_for(entry)));
  q.executeStep();
  auto id = q.getColumn(0).getInt64();
  while (q.executeStep()) {
  }
  outbox_changed_ = true;
  return id;
}

std::int64_t SqliteConsentStore::enqueue_email(const OutboxEntry& entry,
                                               const OutboundEmail& email) {
  return enqueue(entry, to_json(email));
}

std::int64_t SqliteConsentStore::enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) {
  return enqueue(entry, to_json(sms));
}

std::int64_t SqliteConsentStore::count_sms_confirms(SmsLimit scope, std::string_view key,
                                                    std::int64_t since) {
  // One statement per scope, each an index range (sms_confirm_sends_*).
  if (scope == SmsLimit::kDaily || scope == SmsLimit::kNone) {
    auto& all = st_.get("SELECT count(*) FROM sms_confirm_sends WHERE at > ?");
    all.bind(1, static_cast<int64_t>(since));
    all.executeStep();
    const auto n = all.getColumn(0).getInt64();
    all.reset();
    return n;
  }
  const char* sql = nullptr;
  switch (scope) {
    case SmsLimit::kClient:
      sql = "SELECT count(*) FROM sms_confirm_sends WHERE client = ? AND at > ?";
      break;
    case SmsLimit::kNumber:
      sql = "SELECT count(*) FROM sms_confirm_sends WHERE number = ? AND at > ?";
      break;
    case SmsLimit::kPrefix:
      sql = "SELECT count(*) FROM sms_confirm_sends WHERE prefix = ? AND at > ?";
      break;
    case SmsLimit::kDaily:
    case SmsLimit::kNone:
      break;
  }
  auto& q = st_.get(sql);
  q.bind(1, std::string(key));
  q.bind(2, static_cast<int64_t>(since));
  q.executeStep();
  const auto n = q.getColumn(0).getInt64();
  q.reset();
  return n;
}

void SqliteConsentStore::record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                                            std::int64_t forget_before) {
  auto& forget = st_.get("DELETE FROM sms_confirm_sends WHERE at < ?");
  forget.bind(1, static_cast<int64_t>(forget_before));
  forget.exec();
  auto& q =
      st_.get("INSERT INTO sms_confirm_sends (at, client, number, prefix) VALUES (?, ?, ?, ?)");
  q.bind(1, static_cast<int64_t>(at));
  q.bind(2, keys.client);
  q.bind(3, keys.number);
  q.bind(4, keys.prefix);
  q.exec();
}

namespace {

OutboxDelivery read_delivery(SQLite::Statement& q) {
  OutboxDelivery d;
  d.id = q.getColumn(0).getInt64();
  d.channel_id = q.getColumn(1).getInt64();
  d.broadcast_id = q.getColumn(2).getInt64();
  d.delivery_state = q.getColumn(3).isNull() ? "" : q.getColumn(3).getString();
  d.delivery_at = q.getColumn(4).isNull() ? 0 : q.getColumn(4).getInt64();
  return d;
}

}  // namespace

std::optional<OutboxDelivery> SqliteConsentStore::email_delivery(std::int64_t outbox_id) {
  auto& q = st_.get(
      "SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox"
      " WHERE id = ? AND kind = 'email'");
  q.bind(1, static_cast<int64_t>(outbox_id));
  if (!q.executeStep()) return std::nullopt;
  return read_delivery(q);
}

std::optional<OutboxDelivery> SqliteConsentStore::email_delivery_by_provider_id(
    std::string_view provider_message_id) {
  // outbox_provider_message (0005) serves this.
  auto& q = st_.get(
      "SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox"
      " WHERE provider_message_id = ? AND kind = 'email' ORDER BY id DESC LIMIT 1");
  q.bind(1, std::string(provider_message_id));
  if (!q.executeStep()) return std::nullopt;
  return read_delivery(q);
}

bool SqliteConsentStore::first_provider_event(std::string_view provider, std::string_view event_id,
                                              std::int64_t at) {
  constexpr std::int64_t kKeepSeconds = 7 * 86400;
  auto& prune = st_.get("DELETE FROM provider_events WHERE received_at < ?");
  prune.bind(1, static_cast<int64_t>(at - kKeepSeconds));
  prune.exec();
  auto& q = st_.get(
      "INSERT INTO provider_events (provider, event_id, received_at) VALUES (?, ?, ?)"
      " ON CONFLICT DO NOTHING");
  q.bind(1, std::string(provider));
  q.bind(2, std::string(event_id));
  q.bind(3, static_cast<int64_t>(at));
  return q.exec() == 1;
}

std::vector<ClaimedMessage> SqliteOutboxStore::claim(std::int64_t now, ClaimLimits limits,
                                                     std::int64_t lease_until) {
  std::vector<ClaimedMessage> out;
  std::vector<std::int64_t> skip;
  // Every due transactional message before any bulk one; one statement per
  // lane and kind, each an index range (outbox_due: lane, kind, due, id).
  int total = limits.total;
  int left[2] = {limits.email, limits.sms};  // what each kind's provider may take
  auto take = [&](OutboxLane lane, OutboxKind kind, int limit) {
    // One statement leases the rows and returns them with the recipient's
    // consent as it is now (a row at a time cost twice the writer's time).
    auto& q = st_.get(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?,"
        "                  wait_reason = NULL"
        " WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND lane = ? AND kind = ?"
        "              AND next_attempt_at <= ?"
        "              AND (lane = 0 OR broadcast_id IN"
        "                   (SELECT id FROM broadcasts WHERE status = 'sending'))"
        "              ORDER BY next_attempt_at, id LIMIT ?)"
        " RETURNING id, purpose, broadcast_id, attempts, payload,"
        "           (SELECT c.state FROM channels c WHERE c.id = outbox.channel_id), channel_id, "
        "next_attempt_at");
    // A bulk lease is negative until mark_handed_over: claimed, not yet with
    // the provider (a crash then queues it again rather than make it unknown).
    q.bind(1, static_cast<int64_t>(lane == OutboxLane::kBulk ? -lease_until : lease_until));
    q.bind(2, static_cast<int>(lane));
    q.bind(3, kind == OutboxKind::kEmail ? "email" : "sms");
    q.bind(4, static_cast<int64_t>(now));
    q.bind(5, limit);
    std::vector<std::pair<std::int64_t, ClaimedMessage>>
        got;  // with next_attempt_at, to order them
    while (q.executeStep()) {
      ClaimedMessage m;
      m.id = q.getColumn(0).getInt64();
      m.kind = kind;
      m.lane = lane;
      m.purpose = q.getColumn(1).getString();
      m.broadcast_id = q.getColumn(2).getInt64();
      m.attempts = q.getColumn(3).getInt();
      m.channel_id = q.getColumn(6).getInt64();
      total -= 1;  // a skipped row counts too: the limit bounds the writer's work
      std::string state = q.getColumn(5).isNull() ? "" : q.getColumn(5).getString();
      // Consent is checked at send time, not only at queue time: someone
      // who left after a message was queued must not receive it.
      bool allowed = state != "unsubscribed" && state != "undeliverable" &&
                     (m.broadcast_id == 0 || state == "confirmed");
      if (!allowed) {
        skip.push_back(m.id);
        continue;
      }
      left[kind == OutboxKind::kEmail ? 0 : 1] -= 1;
      // Decoded later by the dispatcher (decode_payload), off the writer.
      m.payload = q.getColumn(4).getString();
      got.emplace_back(q.getColumn(7).getInt64(), std::move(m));
    }
    // RETURNING gives rows in no set order; send the oldest due first.
    std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
    });
    for (auto& [due, m] : got) out.push_back(std::move(m));
  };
  for (auto lane : {OutboxLane::kTransactional, OutboxLane::kBulk}) {
    // Each kind first gets up to half of what is left, then either takes
    // what the other left: a backlog of emails never holds the texts.
    const int share = (total + 1) / 2;
    for (bool fill : {false, true}) {
      for (auto kind : {OutboxKind::kEmail, OutboxKind::kSms}) {
        int limit = std::min(total, left[kind == OutboxKind::kEmail ? 0 : 1]);
        if (!fill) limit = std::min(limit, share);
        if (limit > 0) take(lane, kind, limit);
      }
    }
  }
  // A skipped message was never attempted.
  for (auto id : skip) {
    auto& u = st_.get(
        "UPDATE outbox SET state = 'skipped', attempts = attempts - 1, lease_until = 0, "
        "finished_at = ?,"
        " last_error = 'recipient no longer consents' WHERE id = ?");
    u.bind(1, static_cast<int64_t>(now));
    u.bind(2, static_cast<int64_t>(id));
    u.exec();
  }
  return out;
}

void SqliteOutboxStore::mark_sent(std::int64_t id, const std::string& provider, const SendResult& r,
                                  std::int64_t now) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'sent', finished_at = ?, provider = ?, provider_message_id = ?,"
      " last_code = ?, last_error = NULL WHERE id = ? AND state = 'sending'");
  q.bind(1, static_cast<int64_t>(now));
  q.bind(2, provider);
  q.bind(3, r.provider_message_id);
  q.bind(4, r.provider_code);
  q.bind(5, static_cast<int64_t>(id));
  q.exec();
}

void SqliteOutboxStore::mark_retry(std::int64_t id, const SendResult& r,
                                   std::int64_t next_attempt_at) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'queued', next_attempt_at = ?, lease_until = 0, last_code = ?,"
      " last_error = ? WHERE id = ? AND state = 'sending'");
  q.bind(1, static_cast<int64_t>(next_attempt_at));
  q.bind(2, r.provider_code);
  q.bind(3, r.provider_message);
  q.bind(4, static_cast<int64_t>(id));
  q.exec();
}

void SqliteOutboxStore::mark_failed(std::int64_t id, const std::string& provider,
                                    const SendResult& r, std::int64_t now) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'failed', finished_at = ?, provider = ?, last_code = ?, "
      "last_error = ?"
      " WHERE id = ? AND state = 'sending'");
  q.bind(1, static_cast<int64_t>(now));
  q.bind(2, provider);
  q.bind(3, r.provider_code);
  q.bind(4, r.provider_message);
  q.bind(5, static_cast<int64_t>(id));
  q.exec();
}

std::vector<std::int64_t> SqliteOutboxStore::mark_handed_over(const std::vector<std::int64_t>& ids,
                                                              std::int64_t lease_until) {
  std::vector<std::int64_t> out;
  if (ids.empty()) return out;
  std::string list = "[";
  for (auto id : ids) list += (list.size() > 1 ? "," : "") + std::to_string(id);
  list += "]";
  // Only rows still leased as claimed (one whose lease ran out meanwhile was
  // queued again and may be another claim's now), and only of a broadcast
  // still sending: a pause or cancel commits through this same writer, so
  // once it has, nothing more of that broadcast is marked, hence sent.
  auto& q = st_.get(
      "UPDATE outbox SET lease_until = ? WHERE state = 'sending' AND lease_until < 0"
      " AND id IN (SELECT value FROM json_each(?))"
      " AND broadcast_id IN (SELECT id FROM broadcasts WHERE status = 'sending') RETURNING id");
  q.bind(1, static_cast<int64_t>(lease_until));
  q.bind(2, list);
  while (q.executeStep()) out.push_back(q.getColumn(0).getInt64());
  q.reset();
  // Those of a broadcast paused or cancelled since the claim go back to the
  // queue unsent, their attempt given back (as hand_back does).
  auto& back = st_.get(
      "UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0"
      " WHERE state = 'sending' AND lease_until < 0 AND id IN (SELECT value FROM json_each(?))"
      " AND broadcast_id NOT IN (SELECT id FROM broadcasts WHERE status = 'sending')");
  back.bind(1, list);
  back.exec();
  return out;
}

void SqliteOutboxStore::hand_back(std::int64_t id, std::int64_t next_attempt_at) {
  requeue(id, next_attempt_at, nullptr);
}

void SqliteOutboxStore::hold(std::int64_t id, std::int64_t until, const std::string& reason) {
  requeue(id, until, &reason);
}

// Never tried with a provider: queued again and the attempt the claim counted
// given back; with a reason (quiet hours) reads show it waiting, without one
// (NULL) it is plainly queued.
void SqliteOutboxStore::requeue(std::int64_t id, std::int64_t due, const std::string* reason) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'queued', attempts = attempts - 1, next_attempt_at = ?,"
      " lease_until = 0, wait_reason = ? WHERE id = ? AND state = 'sending'");
  q.bind(1, static_cast<int64_t>(due));
  if (reason != nullptr)
    q.bind(2, *reason);
  else
    q.bind(2);  // NULL
  q.bind(3, static_cast<int64_t>(id));
  q.exec();
}

void SqliteOutboxStore::mark_unknown(std::int64_t id, const std::string& provider,
                                     const SendResult& r, std::int64_t now) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'unknown', finished_at = ?, provider = ?, last_code = ?,"
      " last_error = ? WHERE id = ? AND state = 'sending'");
  q.bind(1, static_cast<int64_t>(now));
  q.bind(2, provider);
  q.bind(3, r.provider_code);
  q.bind(4, r.provider_message);
  q.bind(5, static_cast<int64_t>(id));
  q.exec();
}

void SqliteOutboxStore::pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                                        std::int64_t now) {
  auto& q = st_.get(
      "UPDATE broadcasts SET status = 'paused', pause_reason = ?, updated_at = ?"
      " WHERE id = ? AND status = 'sending'");
  q.bind(1, reason);
  q.bind(2, static_cast<int64_t>(now));
  q.bind(3, static_cast<int64_t>(broadcast_id));
  q.exec();
}

// A leased transactional message goes back to the queue (sent at least
// once: a lost confirmation harms, a second one does not). A leased
// broadcast message may have reached the provider: it becomes unknown.
// A broadcast message claimed but never handed over (negative lease) never
// left: queued again, its attempt given back.
int SqliteOutboxStore::release_expired(std::int64_t now) {
  auto& u = st_.get(
      "UPDATE outbox SET state = 'unknown', lease_until = 0, finished_at = ?,"
      " last_error = 'in flight when its lease ran out (the process stopped or the send hung)'"
      " WHERE state = 'sending' AND lease_until >= 0 AND lease_until < ? AND lane = 1");
  u.bind(1, static_cast<int64_t>(now));
  u.bind(2, static_cast<int64_t>(now));
  int n = u.exec();
  auto& b = st_.get(
      "UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0"
      " WHERE state = 'sending' AND lease_until < 0 AND -lease_until < ? AND lane = 1");
  b.bind(1, static_cast<int64_t>(now));
  n += b.exec();
  auto& q = st_.get(
      "UPDATE outbox SET state = 'queued', lease_until = 0 WHERE state = 'sending' AND lease_until "
      "< ? AND lane = 0");
  q.bind(1, static_cast<int64_t>(now));
  return n + q.exec();
}

int SqliteOutboxStore::release_all() {
  auto& u = st_.get(
      "UPDATE outbox SET state = 'unknown', lease_until = 0, finished_at = strftime('%s','now'),"
      " last_error = 'in flight when the process stopped' WHERE state = 'sending' AND lane = 1"
      " AND lease_until >= 0");
  int n = u.exec();
  auto& b = st_.get(
      "UPDATE outbox SET state = 'queued', attempts = attempts - 1, lease_until = 0"
      " WHERE state = 'sending' AND lane = 1 AND lease_until < 0");
  n += b.exec();
  auto& q = st_.get(
      "UPDATE outbox SET state = 'queued', lease_until = 0 WHERE state = 'sending' AND lane = 0");
  return n + q.exec();
}

}  // namespace sc::storage::detail
