#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

#include "admin_sql.h"
#include "connection.h"
#include "read_pool_impl.h"
#include "sc/storage/storage.h"

namespace sc::storage {

namespace {

constexpr const char* kLogColumns =
    "SELECT at, channel, address, action, source, detail, ip, user_agent,"
    " COALESCE(consent_text_version, ''), COALESCE(message_sid, ''),"
    " COALESCE(text_received, ''), COALESCE(opt_out_type, '') FROM consent_log ";

ConsentLogView read_log_row(SQLite::Statement& e) {
  ConsentLogView r;
  r.at = e.getColumn(0).getInt64();
  r.channel = e.getColumn(1).getString();
  r.address = e.getColumn(2).getString();
  r.action = e.getColumn(3).getString();
  r.source = e.getColumn(4).getString();
  r.detail = e.getColumn(5).getString();
  r.ip = e.getColumn(6).getString();
  r.user_agent = e.getColumn(7).getString();
  r.consent_text_version = e.getColumn(8).getString();
  r.message_sid = e.getColumn(9).getString();
  r.text_received = e.getColumn(10).getString();
  r.opt_out_type = e.getColumn(11).getString();
  return r;
}

}  // namespace

ReadPool::ReadPool(const std::string& path, std::size_t size) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  for (std::size_t i = 0; i < size; ++i)
    impl_->idle.push_back(detail::open(path, detail::Mode::kReader));
}

ReadPool::~ReadPool() = default;

std::optional<SubscriberView> ReadPool::subscriber_by_channel(ChannelKind kind,
                                                              const std::string& address) {
  auto l = impl_->lease();
  auto& db = *l.db;
  SQLite::Statement q(db, "SELECT subscriber_id FROM channels WHERE kind = ? AND address = ?");
  q.bind(1, to_string(kind));
  q.bind(2, address);
  if (!q.executeStep()) return std::nullopt;
  auto sid = q.getColumn(0).getInt64();
  SubscriberView v;
  SQLite::Statement s(
      db, "SELECT id, first_name, postal_code, created_at FROM subscribers WHERE id = ?");
  s.bind(1, static_cast<int64_t>(sid));
  if (!s.executeStep()) return std::nullopt;
  v.subscriber = Subscriber{s.getColumn(0).getInt64(), s.getColumn(1).getString(),
                            s.getColumn(2).getString(), s.getColumn(3).getInt64()};
  SQLite::Statement c(db,
                      "SELECT kind, address, state, created_at, updated_at, id FROM channels WHERE "
                      "subscriber_id = ?"
                      " ORDER BY id");
  c.bind(1, static_cast<int64_t>(sid));
  while (c.executeStep()) {
    v.channels.push_back(ChannelView{
        channel_kind_from(c.getColumn(0).getString()).value_or(ChannelKind::kEmail),
        c.getColumn(1).getString(),
        consent_state_from(c.getColumn(2).getString()).value_or(ConsentState::kPending),
        c.getColumn(3).getInt64(), c.getColumn(4).getInt64(), c.getColumn(5).getInt64()});
  }
  SQLite::Statement t(db,
                      "SELECT topic FROM subscriber_topics WHERE subscriber_id = ? ORDER BY topic");
  t.bind(1, static_cast<int64_t>(sid));
  while (t.executeStep()) v.topics.push_back(t.getColumn(0).getString());
  SQLite::Statement e(db, std::string(kLogColumns) + "WHERE subscriber_id = ? ORDER BY id");
  e.bind(1, static_cast<int64_t>(sid));
  while (e.executeStep()) v.consent_log.push_back(read_log_row(e));
  return v;
}

std::vector<ConsentLogView> ReadPool::unknown_number_log(const std::string& address) {
  auto l = impl_->lease();
  // consent_log_unknown_number (0007): rows of numbers no subscriber holds.
  SQLite::Statement e(*l.db, std::string(kLogColumns) +
                                 "WHERE subscriber_id = 0 AND channel = 'sms' AND address = ?"
                                 " ORDER BY id");
  e.bind(1, address);
  std::vector<ConsentLogView> out;
  while (e.executeStep()) out.push_back(read_log_row(e));
  return out;
}

std::vector<StoredInboundText> ReadPool::inbound_for_review(int limit, std::int64_t before) {
  auto l = impl_->lease();
  SQLite::Statement q(
      *l.db,
      "SELECT id, message_sid, from_number, body, keyword, opt_out_type, outcome, received_at,"
      " COALESCE(reviewed_at, 0), COALESCE(reviewed_by, ''), COALESCE(review_action, '')"
      " FROM inbound_texts WHERE keyword = 'none' AND id < ? ORDER BY id DESC LIMIT ?");
  q.bind(1, static_cast<int64_t>(before > 0 ? before : INT64_MAX));
  q.bind(2, limit);
  std::vector<StoredInboundText> out;
  while (q.executeStep()) {
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
    out.push_back(std::move(t));
  }
  return out;
}

OutboxCounts ReadPool::outbox_counts() {
  auto l = impl_->lease();
  SQLite::Statement q(*l.db, "SELECT state, COUNT(*) FROM outbox GROUP BY state");
  OutboxCounts c;
  while (q.executeStep()) {
    auto s = q.getColumn(0).getString();
    auto n = q.getColumn(1).getInt64();
    if (s == "queued")
      c.queued = n;
    else if (s == "sending")
      c.sending = n;
    else if (s == "sent")
      c.sent = n;
    else if (s == "failed")
      c.failed = n;
    else if (s == "skipped")
      c.skipped = n;
  }
  return c;
}

OutboxDepth ReadPool::outbox_depth(std::int64_t now) {
  auto l = impl_->lease();
  OutboxDepth d;
  {
    // Over the partial indexes of unfinished rows only.
    SQLite::Statement q(
        *l.db,
        "SELECT lane, 'queued', COUNT(*) FROM outbox WHERE state = 'queued' GROUP BY lane"
        " UNION ALL SELECT lane, 'sending', COUNT(*) FROM outbox WHERE state = 'sending' GROUP BY "
        "lane");
    while (q.executeStep()) {
      OutboxDepth::Cell c;
      c.lane = q.getColumn(0).getInt() == 1 ? OutboxLane::kBulk : OutboxLane::kTransactional;
      c.state = q.getColumn(1).getString();
      c.count = q.getColumn(2).getInt64();
      d.cells.push_back(std::move(c));
    }
  }
  {
    // The first entry of the due index per lane and kind: one seek each.
    // A message never tried has next_attempt_at 0 and waits since it was queued.
    SQLite::Statement q(*l.db,
                        "SELECT next_attempt_at, created_at FROM outbox WHERE state = 'queued' AND "
                        "lane = ? AND kind = ?"
                        " ORDER BY next_attempt_at, id LIMIT 1");
    for (int lane : {0, 1}) {
      for (const char* kind : {"email", "sms"}) {
        q.reset();
        q.bind(1, lane);
        q.bind(2, kind);
        if (!q.executeStep()) continue;
        const auto next = q.getColumn(0).getInt64();
        if (next > now) continue;
        const auto since = std::max<std::int64_t>(next, q.getColumn(1).getInt64());
        if (d.oldest_due_since == 0 || since < d.oldest_due_since) d.oldest_due_since = since;
      }
    }
  }
  return d;
}

std::optional<AdminKey> ReadPool::admin_key_by_hash(const std::string& sha256_hex) {
  auto l = impl_->lease();
  return detail::admin_key_by_hash(*l.db, sha256_hex);
}

AuditPage ReadPool::audit_page(std::int64_t before, int limit) {
  auto l = impl_->lease();
  return detail::audit_page(*l.db, before, limit);
}

bool ReadPool::healthy() {
  try {
    auto l = impl_->lease();
    SQLite::Statement q(*l.db, "SELECT 1 FROM schema_migrations LIMIT 1");
    return q.executeStep();
  } catch (...) {
    return false;
  }
}

}  // namespace sc::storage
