// The broadcasts table and its recipients' ledger (outbox rows with
// broadcast_id <> 0), on the writer and on read connections.
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "driver.h"
#include "read_pool_impl.h"
#include "sc/storage/storage.h"
#include "sqlite_stores.h"

namespace sc::storage {

namespace {

using detail::Row;
using nlohmann::json;

// The columns of broadcasts.by_id, reads.broadcast_by_id and the other broadcast rows
// (schema/queries/sqlite/broadcasts.sql), in their order.
Broadcast read_broadcast(const Row& r) {
  Broadcast b;
  b.id = r.get<std::int64_t>(0);
  b.channel = channel_kind_from(r.get<std::string>(1)).value_or(ChannelKind::kEmail);
  b.subject = r.get<std::string>(2);
  b.text = r.get<std::string>(3);
  b.html = r.get<std::string>(4);
  b.topics = json::parse(r.get<std::string>(5)).get<std::vector<std::string>>();
  b.status = broadcast_status_from(r.get<std::string>(6)).value_or(BroadcastStatus::kDraft);
  b.send_at = r.get<std::int64_t>(7);
  b.idempotency_key = r.get<std::string>(8);
  b.created_by = r.get<std::string>(9);
  b.created_at = r.get<std::int64_t>(10);
  b.updated_at = r.get<std::int64_t>(11);
  b.started_at = r.get<std::int64_t>(12);
  b.finished_at = r.get<std::int64_t>(13);
  b.pause_reason = r.get<std::string>(14);
  b.snapshot_cursor = r.get<std::int64_t>(15);
  b.snapshot_done = r.get<bool>(16);
  b.idempotency_body_digest = r.get<std::string>(17);
  return b;
}

// The columns of reads.recipients*, in their order.
BroadcastRecipient read_recipient(const Row& r) {
  BroadcastRecipient b;
  b.outbox_id = r.get<std::int64_t>(0);
  b.channel_id = r.get<std::int64_t>(1);
  b.address = r.get<std::string>(2);
  b.state = r.get<std::string>(3);
  b.attempts = r.get<int>(4);
  b.provider = r.get<std::string>(5);
  b.provider_message_id = r.get<std::string>(6);
  b.code = r.get<std::string>(7);
  b.error = r.get<std::string>(8);
  b.delivery_state = r.get<std::string>(9);
  b.finished_at = r.get<std::int64_t>(10);
  b.waiting_until = r.get<std::int64_t>(11);
  return b;
}

}  // namespace

namespace detail {

std::int64_t SqliteBroadcastStore::insert(const Broadcast& b) {
  return *st_("broadcasts.insert")
              .bind(to_string(b.channel), b.subject, b.text, b.html, json(b.topics).dump(),
                    b.send_at, b.idempotency_key, b.created_by, b.created_at,
                    b.idempotency_body_digest)
              .value<std::int64_t>();
}

std::optional<Broadcast> SqliteBroadcastStore::find(std::int64_t id) {
  return st_("broadcasts.by_id").bind(id).one(read_broadcast);
}

std::optional<Broadcast> SqliteBroadcastStore::find_by_idempotency_key(const std::string& key_name,
                                                                       const std::string& key) {
  return st_("broadcasts.by_idempotency_key").bind(key_name, key).one(read_broadcast);
}

void SqliteBroadcastStore::update_content(const Broadcast& b) {
  st_("broadcasts.update_content")
      .bind(to_string(b.channel), b.subject, b.text, b.html, json(b.topics).dump(), b.send_at,
            b.updated_at, b.id)
      .exec();
}

void SqliteBroadcastStore::set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                                      std::int64_t now) {
  st_("broadcasts.set_status").bind(to_string(s), reason, now, id).exec();
}

bool SqliteBroadcastStore::has_audience(const Broadcast& b) {
  auto q = b.topics.empty() ? st_("broadcasts.has_audience").bind(to_string(b.channel))
                            : st_("broadcasts.has_audience_in_topics")
                                  .bind(to_string(b.channel), json(b.topics).dump());
  return q.value<int>().has_value();
}

std::vector<std::string> SqliteBroadcastStore::unknown_topics(
    const std::vector<std::string>& topics) {
  std::vector<std::string> out;
  for (const auto& t : topics) {
    if (!st_("topics.known").bind(t).value<int>()) out.push_back(t);
  }
  return out;
}

std::vector<Broadcast> SqliteBroadcastStore::active() {
  return st_("broadcasts.active").all(read_broadcast);
}

std::optional<std::int64_t> SqliteBroadcastStore::take_run_lease(std::int64_t id, std::int64_t now,
                                                                 std::int64_t until) {
  // Looked at first without a lock: another instance's live lease is passed
  // by at once, instead of waiting behind that instance's transaction (and
  // holding this instance's writer, and its sign-ups, meanwhile).
  if (auto held = st_("broadcasts.lease_holder").bind(id).one<std::string, std::int64_t>()) {
    const auto& [owner, lease_until] = *held;
    if (owner != me_.id && lease_until >= now) return std::nullopt;
  }
  return st_("broadcasts.take_lease").bind(id, me_.id, now, until).value<std::int64_t>();
}

std::pair<std::int64_t, int> SqliteBroadcastStore::snapshot_end(const Broadcast& b,
                                                                std::int64_t after, int max_rows) {
  const auto channel = to_string(b.channel);
  auto end = b.topics.empty() ? st_("broadcasts.snapshot_end").bind(channel, after, max_rows)
                              : st_("broadcasts.snapshot_end_in_topics")
                                    .bind(channel, after, json(b.topics).dump(), max_rows);
  const auto [last, found] = *end.one<std::int64_t, int>();  // MAX(id) is NULL (0) for none
  return {last, found};
}

int SqliteBroadcastStore::snapshot_range(const Broadcast& b, std::int64_t after, std::int64_t last,
                                         std::int64_t now) {
  const auto channel = to_string(b.channel);
  const int added = b.topics.empty()
                        ? st_("broadcasts.snapshot").bind(channel, after, last, b.id, now).exec()
                        : st_("broadcasts.snapshot_in_topics")
                              .bind(channel, after, json(b.topics).dump(), last, b.id, now)
                              .exec();
  if (added > 0) outbox_changed_ = true;
  return added;
}

int SqliteBroadcastStore::snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) {
  // Where this chunk ends: the max_rows-th qualifying channel after the cursor.
  const auto [last, found] = snapshot_end(b, b.snapshot_cursor, max_rows);
  const int added = found > 0 ? snapshot_range(b, b.snapshot_cursor, last, now) : 0;
  st_("broadcasts.advance_snapshot").bind(last, found < max_rows, now, b.id).exec();
  // After the first chunk, and after the last of a snapshot of several.
  const bool first = b.snapshot_cursor == 0;
  if ((first && added > 0) || (!first && found < max_rows))
    st_("broadcasts.refresh_statistics").exec();
  return added;
}

SnapshotAhead SqliteBroadcastStore::snapshot_ahead(const Broadcast& b, int max_rows,
                                                   int after_chunks, std::int64_t now) {
  SnapshotAhead ahead;
  std::int64_t from = b.snapshot_cursor;
  for (int i = 0; i < after_chunks; ++i) {
    const auto [end, found] = snapshot_end(b, from, max_rows);
    if (found < max_rows) return ahead;  // the snapshot ends before
    from = end;
  }
  ahead.from = ahead.to = from;
  const auto [last, found] = snapshot_end(b, from, max_rows);
  if (found == 0) return ahead;
  ahead.added = snapshot_range(b, from, last, now);
  ahead.to = last;
  return ahead;
}

int SqliteBroadcastStore::skip_queued(std::int64_t id, int max_rows, std::int64_t now) {
  return st_("broadcasts.skip_queued").bind(now, id, max_rows).exec();
}

bool SqliteBroadcastStore::has_unfinished(std::int64_t id) {
  return st_("broadcasts.has_unfinished").bind(id).value<int>().has_value();
}

int SqliteBroadcastStore::requeue(std::int64_t id, const std::string& state, std::int64_t now) {
  const int n = st_("broadcasts.requeue").bind(now, id, state).exec();
  if (n > 0) outbox_changed_ = true;
  return n;
}

}  // namespace detail

std::optional<Broadcast> ReadPool::broadcast(std::int64_t id) {
  auto l = impl_->lease();
  return l("reads.broadcast_by_id").bind(id).one(read_broadcast);
}

std::vector<Broadcast> ReadPool::broadcasts(int limit, std::int64_t before) {
  auto l = impl_->lease();
  return l("reads.broadcasts_before")
      .bind(before > 0 ? before : INT64_MAX, limit)
      .all(read_broadcast);
}

std::vector<std::pair<std::string, std::int64_t>> ReadPool::broadcast_status_counts() {
  auto l = impl_->lease();
  return l("reads.broadcast_status_counts").all([](const Row& r) {
    return std::pair(r.get<std::string>(0), r.get<std::int64_t>(1));
  });
}

std::vector<Broadcast> ReadPool::broadcasts_in_progress(std::int64_t finished_since, int limit) {
  auto l = impl_->lease();
  return l("reads.broadcasts_in_progress").bind(finished_since, limit).all(read_broadcast);
}

BroadcastCounts ReadPool::broadcast_counts(std::int64_t id, std::int64_t now) {
  auto l = impl_->lease();
  BroadcastCounts c;
  l("reads.broadcast_states").bind(id).each([&](const Row& r) {
    const auto s = r.get<std::string>(0);
    const auto n = r.get<std::int64_t>(1);
    c.total += n;
    if (s == "queued") c.queued = n;
    if (s == "sending") c.sending = n;
    if (s == "sent") c.sent = n;
    if (s == "failed") c.failed = n;
    if (s == "skipped") c.skipped = n;
    if (s == "unknown") c.unknown = n;
  });
  l("reads.broadcast_deliveries").bind(id).each([&](const Row& r) {
    const auto s = r.get<std::string>(0);
    const auto n = r.get<std::int64_t>(1);
    if (s == "delivered") c.delivered += n;
    if (s == "undelivered" || s == "failed" || s == "bounced" || s == "blocked" || s == "dropped")
      c.undelivered += n;
  });
  if (auto w = l("reads.broadcast_waiting").bind(id, now).one<std::int64_t, std::int64_t>())
    std::tie(c.waiting, c.waiting_until) = *w;
  return c;
}

std::vector<BroadcastRecipient> ReadPool::broadcast_recipients(std::int64_t id,
                                                               const std::string& state, int limit,
                                                               std::int64_t after,
                                                               std::int64_t now) {
  // A page per state is an index range (reads.recipients* in
  // schema/queries/sqlite/reads.sql); an unknown state has no recipients.
  static const std::set<std::string> kOneState = {"sending", "sent", "failed", "skipped",
                                                  "unknown"};
  auto l = impl_->lease();
  if (state.empty()) return l("reads.recipients").bind(id, now, after, limit).all(read_recipient);
  if (state == "queued")
    return l("reads.recipients_queued").bind(id, now, after, limit).all(read_recipient);
  if (state == "waiting")
    return l("reads.recipients_waiting").bind(id, now, after, limit).all(read_recipient);
  if (!kOneState.contains(state)) return {};
  return l("reads.recipients_in_state").bind(id, now, after, limit, state).all(read_recipient);
}

}  // namespace sc::storage
