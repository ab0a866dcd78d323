#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

#include "admin_sql.h"
#include "read_pool_impl.h"
#include "sc/storage/storage.h"
#include "sqlite_stores.h"

namespace sc::storage {

using detail::Row;

namespace detail {

// The columns of reads.*_log (schema/queries/sqlite/reads.sql), in their order.
ConsentLogView read_log_row(const Row& r) {
  ConsentLogView v;
  v.at = r.get<std::int64_t>(0);
  v.channel = r.get<std::string>(1);
  v.address = r.get<std::string>(2);
  v.action = r.get<std::string>(3);
  v.source = r.get<std::string>(4);
  v.detail = r.get<std::string>(5);
  v.ip = r.get<std::string>(6);
  v.user_agent = r.get<std::string>(7);
  v.consent_text_version = r.get<std::string>(8);
  v.message_sid = r.get<std::string>(9);
  v.text_received = r.get<std::string>(10);
  v.opt_out_type = r.get<std::string>(11);
  return v;
}

// The columns of reads.channels_of_subscriber, in their order.
ChannelView read_channel_view(const Row& r) {
  return ChannelView{channel_kind_from(r.get<std::string>(0)).value_or(ChannelKind::kEmail),
                     r.get<std::string>(1),
                     consent_state_from(r.get<std::string>(2)).value_or(ConsentState::kPending),
                     r.get<std::int64_t>(3),
                     r.get<std::int64_t>(4),
                     r.get<std::int64_t>(5)};
}

}  // namespace detail

using detail::read_log_row;

ReadPool::ReadPool(const std::string& path, std::size_t size) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  for (std::size_t i = 0; i < size; ++i)
    impl_->idle.push_back(
        std::make_unique<Impl::Connection>(detail::connect(path, detail::Mode::kReader)));
}

ReadPool::~ReadPool() = default;

std::optional<SubscriberView> ReadPool::subscriber_by_channel(ChannelKind kind,
                                                              const std::string& address) {
  auto l = impl_->lease();
  const auto sid =
      l("reads.subscriber_of_channel").bind(to_string(kind), address).value<std::int64_t>();
  if (!sid) return std::nullopt;
  const auto sub = l("subscribers.by_id").bind(*sid).one(detail::read_subscriber);
  if (!sub) return std::nullopt;
  SubscriberView v;
  v.subscriber = *sub;
  v.channels = l("reads.channels_of_subscriber").bind(*sid).all(detail::read_channel_view);
  v.topics =
      l("topics.of_subscriber").bind(*sid).all([](const Row& r) { return r.get<std::string>(0); });
  v.consent_log = l("reads.consent_log_of_subscriber").bind(*sid).all(read_log_row);
  return v;
}

std::vector<ConsentLogView> ReadPool::unknown_number_log(const std::string& address) {
  auto l = impl_->lease();
  return l("reads.unknown_number_log").bind(address).all(read_log_row);
}

std::vector<StoredInboundText> ReadPool::inbound_for_review(int limit, std::int64_t before) {
  auto l = impl_->lease();
  return l("reads.inbound_for_review")
      .bind(before > 0 ? before : INT64_MAX, limit)
      .all(detail::read_inbound_text);
}

OutboxDepth ReadPool::outbox_depth(std::int64_t now) {
  auto l = impl_->lease();
  OutboxDepth d;
  d.cells = l("reads.outbox_depth").all([](const Row& r) {
    OutboxDepth::Cell c;
    c.lane = r.get<int>(0) == 1 ? OutboxLane::kBulk : OutboxLane::kTransactional;
    c.state = r.get<std::string>(1);
    c.count = r.get<std::int64_t>(2);
    return c;
  });
  // A message never tried has next_attempt_at 0 and waits since it was queued.
  for (int lane : {0, 1}) {
    for (const char* kind : {"email", "sms"}) {
      const auto first =
          l("reads.outbox_first_due").bind(lane, kind).one<std::int64_t, std::int64_t>();
      if (!first) continue;
      const auto [next, created] = *first;
      if (next > now) continue;
      const auto since = std::max<std::int64_t>(next, created);
      if (d.oldest_due_since == 0 || since < d.oldest_due_since) d.oldest_due_since = since;
    }
  }
  return d;
}

std::optional<AdminKey> ReadPool::admin_key_by_hash(const std::string& sha256_hex) {
  auto l = impl_->lease();
  return detail::admin_key_by_hash(l.c->st, sha256_hex);
}

AuditPage ReadPool::audit_page(std::int64_t before, int limit) {
  auto l = impl_->lease();
  return detail::audit_page(l.c->st, before, limit);
}

bool ReadPool::healthy() {
  try {
    auto l = impl_->lease();
    return l("reads.healthy").value<int>().has_value();
  } catch (...) {
    return false;
  }
}

std::int64_t ReadPool::now_ms() {
  auto l = impl_->lease();
  return l("reads.now_ms").value<std::int64_t>().value_or(0);
}

}  // namespace sc::storage
