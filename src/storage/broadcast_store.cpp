// The broadcasts table and its recipients' ledger (outbox rows with
// broadcast_id <> 0), on the writer and on read connections.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "connection.h"
#include "read_pool_impl.h"
#include "sc/storage/storage.h"
#include "sqlite_stores.h"

namespace sc::storage {

namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),"
    " created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,"
    " snapshot_done, idem_body_digest";

Broadcast row_to_broadcast(SQLite::Statement& q) {
  Broadcast b;
  b.id = q.getColumn(0).getInt64();
  b.channel = channel_kind_from(q.getColumn(1).getString()).value_or(ChannelKind::kEmail);
  b.subject = q.getColumn(2).getString();
  b.text = q.getColumn(3).getString();
  b.html = q.getColumn(4).getString();
  b.topics = json::parse(q.getColumn(5).getString()).get<std::vector<std::string>>();
  b.status = broadcast_status_from(q.getColumn(6).getString()).value_or(BroadcastStatus::kDraft);
  b.send_at = q.getColumn(7).getInt64();
  b.idempotency_key = q.getColumn(8).getString();
  b.created_by = q.getColumn(9).getString();
  b.created_at = q.getColumn(10).getInt64();
  b.updated_at = q.getColumn(11).getInt64();
  b.started_at = q.getColumn(12).getInt64();
  b.finished_at = q.getColumn(13).getInt64();
  b.pause_reason = q.getColumn(14).getString();
  b.snapshot_cursor = q.getColumn(15).getInt64();
  b.snapshot_done = q.getColumn(16).getInt() != 0;
  b.idempotency_body_digest = q.getColumn(17).getString();
  return b;
}

std::string select_sql(const char* where) {
  return std::string("SELECT ") + kColumns + " FROM broadcasts " + where;
}

}  // namespace

namespace detail {

std::int64_t SqliteBroadcastStore::insert(const Broadcast& b) {
  auto& q = st_.get(
      "INSERT INTO broadcasts (channel, subject, text, html, topics, status, send_at,"
      " idem_key, created_by, created_at, updated_at, idem_body_digest)"
      " VALUES (?, ?, ?, ?, ?, 'draft', ?, NULLIF(?, ''), ?, ?, ?, ?) RETURNING id");
  q.bind(1, to_string(b.channel));
  q.bind(2, b.subject);
  q.bind(3, b.text);
  q.bind(4, b.html);
  q.bind(5, json(b.topics).dump());
  q.bind(6, static_cast<int64_t>(b.send_at));
  q.bind(7, b.idempotency_key);
  q.bind(8, b.created_by);
  q.bind(9, static_cast<int64_t>(b.created_at));
  q.bind(10, static_cast<int64_t>(b.created_at));
  q.bind(11, b.idempotency_body_digest);
  q.executeStep();
  const auto id = q.getColumn(0).getInt64();
  q.reset();
  return id;
}

std::optional<Broadcast> SqliteBroadcastStore::find(std::int64_t id) {
  static const std::string sql = select_sql("WHERE id = ?");
  auto& q = st_.get(sql.c_str());
  q.bind(1, static_cast<int64_t>(id));
  if (!q.executeStep()) return std::nullopt;
  auto b = row_to_broadcast(q);
  q.reset();
  return b;
}

std::optional<Broadcast> SqliteBroadcastStore::find_by_idempotency_key(const std::string& key_name,
                                                                       const std::string& key) {
  static const std::string sql = select_sql("WHERE created_by = ? AND idem_key = ?");
  auto& q = st_.get(sql.c_str());
  q.bind(1, key_name);
  q.bind(2, key);
  if (!q.executeStep()) return std::nullopt;
  auto b = row_to_broadcast(q);
  q.reset();
  return b;
}

void SqliteBroadcastStore::update_content(const Broadcast& b) {
  auto& q = st_.get(
      "UPDATE broadcasts SET channel = ?, subject = ?, text = ?, html = ?, topics = ?,"
      " send_at = ?, updated_at = ? WHERE id = ? AND status = 'draft'");
  q.bind(1, to_string(b.channel));
  q.bind(2, b.subject);
  q.bind(3, b.text);
  q.bind(4, b.html);
  q.bind(5, json(b.topics).dump());
  q.bind(6, static_cast<int64_t>(b.send_at));
  q.bind(7, static_cast<int64_t>(b.updated_at));
  q.bind(8, static_cast<int64_t>(b.id));
  q.exec();
}

void SqliteBroadcastStore::set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                                      std::int64_t now) {
  auto& q = st_.get(
      "UPDATE broadcasts SET status = ?1, pause_reason = ?2, updated_at = ?3,"
      " started_at = CASE WHEN ?1 = 'sending' AND started_at = 0 THEN ?3 ELSE started_at END,"
      " finished_at = CASE WHEN ?1 IN ('completed', 'cancelled') THEN ?3 ELSE 0 END"
      " WHERE id = ?4");
  q.bind(1, to_string(s));
  q.bind(2, reason);
  q.bind(3, static_cast<int64_t>(now));
  q.bind(4, static_cast<int64_t>(id));
  q.exec();
}

bool SqliteBroadcastStore::has_audience(const Broadcast& b) {
  // The snapshot's own condition (snapshot_chunk), from the first channel.
  static const std::string by_topic =
      "SELECT 1 FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed'"
      " AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id ="
      " c.subscriber_id AND t.topic IN (SELECT value FROM json_each(?2))) LIMIT 1";
  static const std::string all =
      "SELECT 1 FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed' AND ?2 IS NOT NULL"
      " LIMIT 1";
  auto& q = st_.get(b.topics.empty() ? all.c_str() : by_topic.c_str());
  q.bind(1, to_string(b.channel));
  q.bind(2, json(b.topics).dump());
  const bool found = q.executeStep();
  q.reset();
  return found;
}

std::vector<std::string> SqliteBroadcastStore::unknown_topics(
    const std::vector<std::string>& topics) {
  std::vector<std::string> out;
  for (const auto& t : topics) {
    auto& q = st_.get("SELECT 1 FROM subscriber_topics WHERE topic = ? LIMIT 1");
    q.bind(1, t);
    bool known = q.executeStep();
    q.reset();
    if (!known) out.push_back(t);
  }
  return out;
}

std::vector<Broadcast> SqliteBroadcastStore::active() {
  // A cancelled broadcast matters only while it has queued rows left.
  static const std::string sql = select_sql(
      "WHERE status IN ('scheduled', 'sending') OR (status = 'cancelled' AND EXISTS"
      " (SELECT 1 FROM outbox o WHERE o.broadcast_id = broadcasts.id AND o.broadcast_id <> 0"
      " AND o.state = 'queued'))"
      " ORDER BY id");
  auto& q = st_.get(sql.c_str());
  std::vector<Broadcast> out;
  while (q.executeStep()) out.push_back(row_to_broadcast(q));
  q.reset();
  return out;
}

int SqliteBroadcastStore::snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) {
  // Where this chunk ends: the max_rows-th qualifying channel after the cursor.
  const bool by_topic = !b.topics.empty();
  const std::string topics = json(b.topics).dump();
  // Statements are cached by pointer: keep one string per shape alive.
  static const std::string end_topic =
      std::string("SELECT MAX(id), COUNT(*) FROM (SELECT c.id") +
      " FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2"
      " AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id ="
      " c.subscriber_id AND t.topic IN (SELECT value FROM json_each(?3)))"
      " ORDER BY c.id LIMIT ?4)";
  static const std::string end_all =
      "SELECT MAX(id), COUNT(*) FROM (SELECT c.id FROM channels c WHERE c.kind = ?1"
      " AND c.state = 'confirmed' AND c.id > ?2 AND ?3 IS NOT NULL ORDER BY c.id LIMIT ?4)";
  auto& q = st_.get(by_topic ? end_topic.c_str() : end_all.c_str());
  q.bind(1, to_string(b.channel));
  q.bind(2, static_cast<int64_t>(b.snapshot_cursor));
  q.bind(3, topics);
  q.bind(4, max_rows);
  q.executeStep();
  const std::int64_t last = q.getColumn(0).isNull() ? 0 : q.getColumn(0).getInt64();
  const int found = q.getColumn(1).getInt();
  q.reset();
  int added = 0;
  if (found > 0) {
    static const std::string ins_topic =
        "INSERT OR IGNORE INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,"
        " next_attempt_at, created_at, lane)"
        " SELECT c.kind, c.id, ?5, 'broadcast',"
        " json_object('to', c.address, 'first_name', s.first_name), 'queued', ?6, ?6, 1"
        " FROM channels c JOIN subscribers s ON s.id = c.subscriber_id"
        " WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2 AND c.id <= ?4"
        " AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id ="
        " c.subscriber_id AND t.topic IN (SELECT value FROM json_each(?3)))";
    static const std::string ins_all =
        "INSERT OR IGNORE INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,"
        " next_attempt_at, created_at, lane)"
        " SELECT c.kind, c.id, ?5, 'broadcast',"
        " json_object('to', c.address, 'first_name', s.first_name), 'queued', ?6, ?6, 1"
        " FROM channels c JOIN subscribers s ON s.id = c.subscriber_id"
        " WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2 AND c.id <= ?4"
        " AND ?3 IS NOT NULL";
    auto& ins = st_.get(by_topic ? ins_topic.c_str() : ins_all.c_str());
    ins.bind(1, to_string(b.channel));
    ins.bind(2, static_cast<int64_t>(b.snapshot_cursor));
    ins.bind(3, topics);
    ins.bind(4, static_cast<int64_t>(last));
    ins.bind(5, static_cast<int64_t>(b.id));
    ins.bind(6, static_cast<int64_t>(now));
    added = ins.exec();
    if (added > 0) outbox_changed_ = true;
  }
  auto& u = st_.get(
      "UPDATE broadcasts SET snapshot_cursor = MAX(snapshot_cursor, ?), snapshot_done = ?,"
      " updated_at = ? WHERE id = ?");
  u.bind(1, static_cast<int64_t>(last));
  u.bind(2, found < max_rows ? 1 : 0);
  u.bind(3, static_cast<int64_t>(now));
  u.bind(4, static_cast<int64_t>(b.id));
  u.exec();
  return added;
}

int SqliteBroadcastStore::skip_queued(std::int64_t id, int max_rows, std::int64_t now) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'skipped', finished_at = ?, last_error = 'broadcast cancelled'"
      " WHERE id IN (SELECT id FROM outbox WHERE broadcast_id = ? AND broadcast_id <> 0"
      " AND state = 'queued' LIMIT ?)");
  q.bind(1, static_cast<int64_t>(now));
  q.bind(2, static_cast<int64_t>(id));
  q.bind(3, max_rows);
  return q.exec();
}

// "broadcast_id <> 0" in every per-broadcast query: the ledger's indexes are
// partial (WHERE broadcast_id <> 0) and SQLite uses one only when the query
// implies that condition, which "broadcast_id = ?" alone does not; without it
// each of these scanned the whole outbox (288 ms at 1,000,000 rows, on every
// runner poll for has_unfinished, holding the writer).
bool SqliteBroadcastStore::has_unfinished(std::int64_t id) {
  auto& q = st_.get(
      "SELECT 1 FROM outbox WHERE broadcast_id = ? AND broadcast_id <> 0"
      " AND state IN ('queued', 'sending') LIMIT 1");
  q.bind(1, static_cast<int64_t>(id));
  bool r = q.executeStep();
  q.reset();
  return r;
}

int SqliteBroadcastStore::requeue(std::int64_t id, const std::string& state, std::int64_t now) {
  auto& q = st_.get(
      "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?, lease_until = 0,"
      " finished_at = NULL WHERE broadcast_id = ? AND broadcast_id <> 0 AND state = ?");
  q.bind(1, static_cast<int64_t>(now));
  q.bind(2, static_cast<int64_t>(id));
  q.bind(3, state);
  const int n = q.exec();
  if (n > 0) outbox_changed_ = true;
  return n;
}

}  // namespace detail

std::optional<Broadcast> ReadPool::broadcast(std::int64_t id) {
  auto l = impl_->lease();
  static const std::string sql = select_sql("WHERE id = ?");
  SQLite::Statement q(*l.db, sql);
  q.bind(1, static_cast<int64_t>(id));
  if (!q.executeStep()) return std::nullopt;
  return row_to_broadcast(q);
}

std::vector<Broadcast> ReadPool::broadcasts(int limit, std::int64_t before) {
  auto l = impl_->lease();
  static const std::string sql = select_sql("WHERE id < ? ORDER BY id DESC LIMIT ?");
  SQLite::Statement q(*l.db, sql);
  q.bind(1, static_cast<int64_t>(before > 0 ? before : INT64_MAX));
  q.bind(2, limit);
  std::vector<Broadcast> out;
  while (q.executeStep()) out.push_back(row_to_broadcast(q));
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> ReadPool::broadcast_status_counts() {
  auto l = impl_->lease();
  SQLite::Statement q(*l.db, "SELECT status, COUNT(*) FROM broadcasts GROUP BY status");
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
  return out;
}

std::vector<Broadcast> ReadPool::broadcasts_in_progress(std::int64_t finished_since, int limit) {
  auto l = impl_->lease();
  static const std::string sql = select_sql(
      "WHERE status IN ('sending', 'paused', 'scheduled')"
      " OR (status IN ('completed', 'cancelled') AND finished_at >= ?)"
      " ORDER BY id DESC LIMIT ?");
  SQLite::Statement q(*l.db, sql);
  q.bind(1, static_cast<int64_t>(finished_since));
  q.bind(2, limit);
  std::vector<Broadcast> out;
  while (q.executeStep()) out.push_back(row_to_broadcast(q));
  return out;
}

BroadcastCounts ReadPool::broadcast_counts(std::int64_t id, std::int64_t now) {
  auto l = impl_->lease();
  BroadcastCounts c;
  // One pass over the (broadcast_id, state, id) index.
  SQLite::Statement q(
      *l.db,
      "SELECT state, COUNT(*) FROM outbox WHERE broadcast_id = ? AND broadcast_id <> 0"
      " GROUP BY state");
  q.bind(1, static_cast<int64_t>(id));
  while (q.executeStep()) {
    const auto s = q.getColumn(0).getString();
    const auto n = q.getColumn(1).getInt64();
    c.total += n;
    if (s == "queued") c.queued = n;
    if (s == "sending") c.sending = n;
    if (s == "sent") c.sent = n;
    if (s == "failed") c.failed = n;
    if (s == "skipped") c.skipped = n;
    if (s == "unknown") c.unknown = n;
  }
  SQLite::Statement d(*l.db,
                      "SELECT delivery_state, COUNT(*) FROM outbox WHERE broadcast_id = ? AND"
                      " broadcast_id <> 0 AND state = 'sent' AND delivery_state IS NOT NULL GROUP "
                      "BY delivery_state");
  d.bind(1, static_cast<int64_t>(id));
  while (d.executeStep()) {
    const auto s = d.getColumn(0).getString();
    const auto n = d.getColumn(1).getInt64();
    if (s == "delivered") c.delivered += n;
    if (s == "undelivered" || s == "failed" || s == "bounced" || s == "blocked" || s == "dropped")
      c.undelivered += n;
  }
  // Held recipients not yet due, from the partial index alone
  // (outbox_broadcast_waiting, 0012): only held rows are in it. Named,
  // because the planner would walk every queued row of the broadcast in
  // (broadcast_id, state, id) instead.
  SQLite::Statement w(*l.db,
                      "SELECT COUNT(*), COALESCE(MIN(next_attempt_at), 0) FROM outbox"
                      " INDEXED BY outbox_broadcast_waiting WHERE broadcast_id = ? AND "
                      "broadcast_id <> 0 AND state = 'queued'"
                      " AND wait_reason IS NOT NULL AND next_attempt_at > ?");
  w.bind(1, static_cast<int64_t>(id));
  w.bind(2, static_cast<int64_t>(now));
  if (w.executeStep()) {
    c.waiting = w.getColumn(0).getInt64();
    c.waiting_until = w.getColumn(1).getInt64();
  }
  return c;
}

std::vector<BroadcastRecipient> ReadPool::broadcast_recipients(std::int64_t id,
                                                               const std::string& state, int limit,
                                                               std::int64_t after,
                                                               std::int64_t now) {
  // A page is an index range per state ((broadcast_id, state, id)), merged:
  // never a sort of the whole broadcast, which a CSV export of a million
  // recipients would repeat for every page. A queued row that is held and
  // not yet due (?2: now) reads as waiting; "waiting" pages walk the partial
  // index of held rows (outbox_broadcast_waiting).
  static const std::vector<std::string> kStates = {"queued", "sending", "sent",
                                                   "failed", "skipped", "unknown"};
  static const std::string kHeld = "wait_reason IS NOT NULL AND next_attempt_at > ?2";
  static const auto page_sql = [](const std::vector<std::string>& states) {
    std::string ids;
    for (const auto& st : states) {
      if (!ids.empty()) ids += " UNION ALL ";
      // broadcast_id <> 0 lets SQLite use the partial index.
      std::string from = "outbox", where = "state = '" + st + "'";
      if (st == "waiting") {
        from = "outbox INDEXED BY outbox_broadcast_waiting";
        where = "state = 'queued' AND " + kHeld;
      }
      if (st == "queued" && states.size() == 1) where += " AND NOT (" + kHeld + ")";
      ids += "SELECT id FROM (SELECT id FROM " + from +
             " WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND " + where +
             " AND id > ?3 ORDER BY id LIMIT ?4)";
    }
    return "SELECT o.id, o.channel_id, COALESCE(c.address, ''),"
           " CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL"
           " AND o.next_attempt_at > ?2 THEN 'waiting' ELSE o.state END, o.attempts,"
           " COALESCE(o.provider, ''), COALESCE(o.provider_message_id, ''),"
           " COALESCE(o.last_code, ''), COALESCE(o.last_error, ''),"
           " COALESCE(o.delivery_state, ''), COALESCE(o.finished_at, 0),"
           " CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL"
           " AND o.next_attempt_at > ?2 THEN o.next_attempt_at ELSE 0 END"
           " FROM (" +
           ids +
           ") AS page JOIN outbox o ON o.id = page.id"
           " LEFT JOIN channels c ON c.id = o.channel_id ORDER BY o.id LIMIT ?4";
  };
  static const std::map<std::string, std::string> kSql = [] {
    std::map<std::string, std::string> m{{"", page_sql(kStates)}};
    for (const auto& st : kStates) m[st] = page_sql({st});
    m["waiting"] = page_sql({"waiting"});
    return m;
  }();
  const auto sql = kSql.find(state);
  if (sql == kSql.end()) return {};
  auto l = impl_->lease();
  SQLite::Statement q(*l.db, sql->second);
  q.bind(1, static_cast<int64_t>(id));
  q.bind(2, static_cast<int64_t>(now));
  q.bind(3, static_cast<int64_t>(after));
  q.bind(4, limit);
  std::vector<BroadcastRecipient> out;
  while (q.executeStep()) {
    BroadcastRecipient r;
    r.outbox_id = q.getColumn(0).getInt64();
    r.channel_id = q.getColumn(1).getInt64();
    r.address = q.getColumn(2).getString();
    r.state = q.getColumn(3).getString();
    r.attempts = q.getColumn(4).getInt();
    r.provider = q.getColumn(5).getString();
    r.provider_message_id = q.getColumn(6).getString();
    r.code = q.getColumn(7).getString();
    r.error = q.getColumn(8).getString();
    r.delivery_state = q.getColumn(9).getString();
    r.finished_at = q.getColumn(10).getInt64();
    r.waiting_until = q.getColumn(11).getInt64();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace sc::storage
