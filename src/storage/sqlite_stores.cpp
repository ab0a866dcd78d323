#include "sqlite_stores.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "payload.h"

using nlohmann::json;

namespace sc::storage::detail {

namespace {

// The columns of subscribers.channel_by_* (schema/queries/sqlite/subscribers.sql).
Channel read_channel(const Row& r) {
  Channel c;
  c.id = r.get<std::int64_t>(0);
  c.subscriber_id = r.get<std::int64_t>(1);
  c.kind = channel_kind_from(r.get<std::string>(2)).value_or(ChannelKind::kEmail);
  c.address = r.get<std::string>(3);
  c.state = consent_state_from(r.get<std::string>(4)).value_or(ConsentState::kPending);
  c.created_at = r.get<std::int64_t>(5);
  c.updated_at = r.get<std::int64_t>(6);
  c.confirm_sent_at = r.get<std::int64_t>(7);
  c.state_version = r.get<std::int64_t>(8);
  return c;
}

// The columns of deliveries.email_by_* (schema/queries/sqlite/deliveries.sql).
OutboxDelivery read_delivery(const Row& r) {
  OutboxDelivery d;
  d.id = r.get<std::int64_t>(0);
  d.channel_id = r.get<std::int64_t>(1);
  d.broadcast_id = r.get<std::int64_t>(2);
  d.delivery_state = r.get<std::string>(3);
  d.delivery_at = r.get<std::int64_t>(4);
  return d;
}

// NULL for an empty text (columns that are about something only sometimes).
std::optional<std::string> or_null(const std::string& v) {
  return v.empty() ? std::nullopt : std::optional<std::string>(v);
}
std::optional<std::string_view> or_null(std::string_view v) {
  return v.empty() ? std::nullopt : std::optional<std::string_view>(v);
}

const char* kind_name(OutboxKind kind) { return kind == OutboxKind::kEmail ? "email" : "sms"; }

std::vector<std::string> strings(Query q) {
  return q.all([](const Row& r) { return r.get<std::string>(0); });
}

}  // namespace

Subscriber read_subscriber(const Row& r) {
  return Subscriber{r.get<std::int64_t>(0), r.get<std::string>(1), r.get<std::string>(2),
                    r.get<std::int64_t>(3)};
}

StoredInboundText read_inbound_text(const Row& r) {
  StoredInboundText t;
  t.id = r.get<std::int64_t>(0);
  t.message_sid = r.get<std::string>(1);
  t.from = r.get<std::string>(2);
  t.body = r.get<std::string>(3);
  t.keyword = r.get<std::string>(4);
  t.opt_out_type = r.get<std::string>(5);
  t.outcome = r.get<std::string>(6);
  t.received_at = r.get<std::int64_t>(7);
  t.reviewed_at = r.get<std::int64_t>(8);
  t.reviewed_by = r.get<std::string>(9);
  t.review_action = r.get<std::string>(10);
  return t;
}

std::optional<Channel> SqliteConsentStore::find_channel(ChannelKind kind,
                                                        std::string_view address) {
  return st_("subscribers.channel_by_address").bind(to_string(kind), address).one(read_channel);
}

std::optional<Channel> SqliteConsentStore::channel_by_id(std::int64_t id) {
  return st_("subscribers.channel_by_id").bind(id).one(read_channel);
}

std::optional<Subscriber> SqliteConsentStore::subscriber_by_id(std::int64_t id) {
  return st_("subscribers.by_id").bind(id).one(read_subscriber);
}

std::int64_t SqliteConsentStore::insert_subscriber(const Subscriber& s) {
  return *st_("subscribers.insert")
              .bind(s.first_name, s.postal_code, s.created_at)
              .value<std::int64_t>();
}

std::int64_t SqliteConsentStore::insert_channel(const Channel& c) {
  return *st_("subscribers.insert_channel")
              .bind(c.subscriber_id, to_string(c.kind), c.address, to_string(c.state), c.created_at,
                    c.updated_at, c.confirm_sent_at)
              .value<std::int64_t>();
}

void SqliteConsentStore::update_channel_state(std::int64_t channel_id, ConsentState state,
                                              std::int64_t at) {
  st_("subscribers.set_channel_state").bind(to_string(state), at, channel_id).exec();
}

void SqliteConsentStore::mark_confirm_sent(std::int64_t channel_id, std::int64_t at) {
  st_("subscribers.mark_confirm_sent").bind(at, channel_id).exec();
}

std::vector<Channel> SqliteConsentStore::channels_of(std::int64_t subscriber_id) {
  return st_("subscribers.channels_of").bind(subscriber_id).all(read_channel);
}

void SqliteConsentStore::update_profile(std::int64_t subscriber_id, std::string_view first_name,
                                        std::string_view postal_code) {
  st_("subscribers.update_profile").bind(first_name, postal_code, subscriber_id).exec();
}

void SqliteConsentStore::replace_topics(std::int64_t subscriber_id,
                                        const std::vector<std::string>& topics) {
  st_("topics.clear").bind(subscriber_id).exec();
  add_topics(subscriber_id, topics);
}

void SqliteConsentStore::add_topics(std::int64_t subscriber_id,
                                    const std::vector<std::string>& topics) {
  for (const auto& t : topics) st_("topics.add").bind(subscriber_id, t).exec();
}

std::vector<std::string> SqliteConsentStore::topics_of(std::int64_t subscriber_id) {
  return strings(st_("topics.of_subscriber").bind(subscriber_id));
}

void SqliteConsentStore::request_topics(std::int64_t channel_id,
                                        const std::vector<std::string>& topics, std::int64_t at) {
  for (const auto& t : topics) st_("topics.request").bind(channel_id, t, at).exec();
}

std::vector<std::string> SqliteConsentStore::take_topic_requests(std::int64_t channel_id,
                                                                 std::int64_t requested_until) {
  auto out = strings(st_("topics.take_requests").bind(channel_id, requested_until));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SqliteConsentStore::topic_requests_of(std::int64_t channel_id) {
  return strings(st_("topics.requests_of").bind(channel_id));
}

void SqliteConsentStore::append_consent(const ConsentEvent& e, const ConsentText* text) {
  const bool cited = text != nullptr && !text->sha256_hex.empty();
  st_("consent.append")
      .bind(e.at, e.subscriber_id, e.channel_id, to_string(e.channel), e.address,
            to_string(e.action), to_string(e.source), e.detail, e.context.ip, e.context.user_agent,
            cited ? or_null(text->sha256_hex) : std::nullopt,
            cited ? or_null(text->version) : std::nullopt,
            // NULL unless the row is about an inbound text.
            or_null(e.message_sid), or_null(e.text_received), or_null(e.opt_out_type))
      .exec();
}

void SqliteConsentStore::store_consent_text(ChannelKind channel, const ConsentText& text,
                                            std::int64_t at) {
  st_("consent.register_text")
      .bind(text.sha256_hex, to_string(channel), text.version, text.text, at)
      .exec();
}

bool SqliteConsentStore::inbound_text_seen(std::string_view message_sid) {
  return st_("inbound.seen").bind(message_sid).value<int>().has_value();
}

std::int64_t SqliteConsentStore::insert_inbound_text(const StoredInboundText& t) {
  return *st_("inbound.insert")
              .bind(t.message_sid, t.from, t.body, t.keyword, t.opt_out_type, t.outcome,
                    t.received_at)
              .value<std::int64_t>();
}

std::optional<StoredInboundText> SqliteConsentStore::inbound_text_by_id(std::int64_t id) {
  return st_("inbound.by_id").bind(id).one(read_inbound_text);
}

void SqliteConsentStore::mark_inbound_text_reviewed(std::int64_t id, std::string_view by,
                                                    std::string_view action, std::int64_t at) {
  st_("inbound.mark_reviewed").bind(at, by, action, id).exec();
}

std::optional<SentMessageRef> SqliteConsentStore::sent_message(
    std::string_view provider, std::string_view provider_message_id) {
  return st_("deliveries.sent_message").bind(provider_message_id, provider).one([](const Row& r) {
    return SentMessageRef{r.get<std::int64_t>(0), r.get<std::int64_t>(1), r.get<std::int64_t>(2),
                          r.get<std::string>(3)};
  });
}

void SqliteConsentStore::set_delivery(std::int64_t outbox_id, std::string_view state,
                                      std::string_view code, std::int64_t at) {
  st_("deliveries.set").bind(state, or_null(code), at, outbox_id).exec();
}

std::int64_t SqliteConsentStore::enqueue(const OutboxEntry& entry, const std::string& payload) {
  const auto id =
      *st_("outbox.enqueue")
           .bind(kind_name(entry.kind), entry.channel_id, entry.broadcast_id, entry.purpose,
                 payload, static_cast<int>(lane_for(entry)), entry.queued_at, entry.due_at)
           .value<std::int64_t>();
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
  // A count and the record after it must not interleave with another
  // instance's: both would count below a limit and both record. The lock
  // (PostgreSQL: an advisory lock held to the end of the transaction, per
  // scope and key; SQLite: nothing, its single writer already serialises)
  // makes the other instance's count wait for this one's commit. The checks
  // take their locks in one order (client, number, prefix, all).
  std::string lock = "sms_confirms:" + std::to_string(static_cast<int>(scope)) + ":";
  if (scope != SmsLimit::kDaily) lock.append(key);
  st_("sms_confirms.lock").bind(lock).value<int>();
  switch (scope) {
    case SmsLimit::kClient:
      return *st_("sms_confirms.count_client").bind(key, since).value<std::int64_t>();
    case SmsLimit::kNumber:
      return *st_("sms_confirms.count_number").bind(key, since).value<std::int64_t>();
    case SmsLimit::kPrefix:
      return *st_("sms_confirms.count_prefix").bind(key, since).value<std::int64_t>();
    case SmsLimit::kDaily:
    case SmsLimit::kNone:
      break;
  }
  return *st_("sms_confirms.count_all").bind(since).value<std::int64_t>();
}

void SqliteConsentStore::record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                                            std::int64_t forget_before) {
  st_("sms_confirms.forget").bind(forget_before).exec();
  st_("sms_confirms.record").bind(at, keys.client, keys.number, keys.prefix).exec();
}

std::optional<OutboxDelivery> SqliteConsentStore::email_delivery(std::int64_t outbox_id) {
  return st_("deliveries.email_by_id").bind(outbox_id).one(read_delivery);
}

std::optional<OutboxDelivery> SqliteConsentStore::email_delivery_by_provider_id(
    std::string_view provider_message_id) {
  return st_("deliveries.email_by_provider_id").bind(provider_message_id).one(read_delivery);
}

bool SqliteConsentStore::first_provider_event(std::string_view provider, std::string_view event_id,
                                              std::int64_t at) {
  constexpr std::int64_t kKeepSeconds = 7 * 86400;
  st_("deliveries.forget_events").bind(at - kKeepSeconds).exec();
  return st_("deliveries.first_event").bind(provider, event_id, at).exec() == 1;
}

std::vector<LeasedMessage> SqliteOutboxStore::lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                                        std::int64_t now, std::int64_t lease_until,
                                                        LeaseState state) {
  return st_("outbox.lease_due")
      .bind(lease_until, static_cast<int>(lane), kind_name(kind), now, limit,
            state == LeaseState::kClaimed, me_.id)
      .all([&](const Row& r) {
        LeasedMessage l;
        auto& m = l.message;
        m.id = r.get<std::int64_t>(0);
        m.kind = kind;
        m.lane = lane;
        m.purpose = r.get<std::string>(1);
        m.broadcast_id = r.get<std::int64_t>(2);
        m.attempts = r.get<int>(3);
        // Decoded later by the dispatcher (decode_payload), off the writer.
        m.payload = r.get<std::string>(4);
        l.channel_state = consent_state_from(r.get<std::string>(5));
        m.channel_id = r.get<std::int64_t>(6);
        l.due = r.get<std::int64_t>(7);
        return l;
      });
}

void SqliteOutboxStore::skip(const std::vector<std::int64_t>& ids, std::int64_t now) {
  for (auto id : ids) st_("outbox.skip").bind(now, id, me_.id).exec();
}

bool SqliteOutboxStore::finish(std::int64_t id, Finish how, const std::string& provider,
                               const SendResult& r, std::int64_t now) {
  switch (how) {
    case Finish::kSent:
      return st_("outbox.mark_sent")
                 .bind(now, provider, r.provider_message_id, r.provider_code, id, me_.id)
                 .exec() > 0;
    case Finish::kFailed:
      return st_("outbox.mark_failed")
                 .bind(now, provider, r.provider_code, r.provider_message, id, me_.id)
                 .exec() > 0;
    case Finish::kUnknown:
      return st_("outbox.mark_unknown")
                 .bind(now, provider, r.provider_code, r.provider_message, id, me_.id)
                 .exec() > 0;
  }
  return false;
}

std::vector<std::int64_t> SqliteOutboxStore::mark_sent_many(const std::vector<Sent>& sent,
                                                            std::int64_t now) {
  if (sent.empty()) return {};
  // SQLite runs in process: a statement a message costs no round trip, and
  // measured faster than building and parsing the JSON.
  if (st_.db().dialect() == Dialect::kSqlite) return OutboxStore::mark_sent_many(sent, now);
  json rows = json::array();
  for (const auto& s : sent)
    rows.push_back({s.id, *s.provider, s.result->provider_message_id, s.result->provider_code});
  return st_("outbox.mark_sent_many").bind(now, rows.dump(), me_.id).all([](const Row& r) {
    return r.get<std::int64_t>(0);
  });
}

bool SqliteOutboxStore::mark_retry(std::int64_t id, const SendResult& r,
                                   std::int64_t next_attempt_at) {
  return st_("outbox.mark_retry")
             .bind(next_attempt_at, r.provider_code, r.provider_message, id, me_.id)
             .exec() > 0;
}

std::vector<std::int64_t> SqliteOutboxStore::mark_handed_over(const std::vector<std::int64_t>& ids,
                                                              std::int64_t lease_until) {
  if (ids.empty()) return {};
  std::string list = "[";
  for (auto id : ids) list += (list.size() > 1 ? "," : "") + std::to_string(id);
  list += "]";
  auto out = st_("outbox.mark_handed_over").bind(lease_until, list, me_.id).all([](const Row& r) {
    return r.get<std::int64_t>(0);
  });
  st_("outbox.hand_back_not_sending").bind(list, me_.id).exec();
  return out;
}

bool SqliteOutboxStore::requeue(std::int64_t id, std::int64_t due, const std::string& wait_reason) {
  return st_("outbox.requeue").bind(due, or_null(wait_reason), id, me_.id).exec() > 0;
}

void SqliteOutboxStore::pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                                        std::int64_t now) {
  st_("outbox.pause_broadcast").bind(reason, now, broadcast_id).exec();
}

int SqliteOutboxStore::release_expired(std::int64_t now) {
  st_("outbox.heartbeat").bind(me_.id, now).exec();
  int n = st_("outbox.expire_handed_over").bind(now).exec();
  n += st_("outbox.expire_claimed").bind(now).exec();
  return n + st_("outbox.expire_transactional").bind(now).exec();
}

int SqliteOutboxStore::release_own(std::int64_t now) {
  // An instance silent this long has no lease left that has not run out.
  constexpr std::int64_t kForgetAfterSeconds = 7 * 86400;
  st_("outbox.register_instance").bind(me_.id, me_.name, now).exec();
  int n = st_("outbox.release_own_handed_over").bind(now, me_.name).exec();
  n += st_("outbox.release_own_claimed").bind(me_.name).exec();
  n += st_("outbox.release_own_transactional").bind(me_.name).exec();
  st_("outbox.release_own_broadcasts").bind(me_.name).exec();
  n += release_expired(now);
  st_("outbox.forget_instances").bind(me_.id, me_.name, now - kForgetAfterSeconds).exec();
  return n;
}

RateGrant SqlRateGrants::grant(const std::string& provider, int rate_per_second, int want) {
  if (rate_per_second <= 0 || want <= 0) return {};
  auto row = st_("rate_grants.grant")
                 .bind(provider, rate_per_second, want)
                 .one<int, std::int64_t, std::int64_t>();
  if (!row) return {};
  return {std::get<0>(*row), std::get<1>(*row), std::get<2>(*row)};
}

void SqliteConsentStore::suppress(ChannelKind kind, std::string_view key, std::string_view reason,
                                  std::int64_t at) {
  st_("suppressions.add").bind(to_string(kind), key, reason, at).exec();
}

bool SqliteConsentStore::is_suppressed(ChannelKind kind, std::string_view key) {
  return st_("suppressions.has").bind(to_string(kind), key).value<std::int64_t>().has_value();
}

std::vector<std::int64_t> SqliteConsentStore::erase_channel(const Channel& ch,
                                                            std::string_view pseudonym,
                                                            std::int64_t at) {
  auto ids = st_("erasure.outbox_ids").bind(ch.id).all([](const Row& r) {
    return r.get<std::int64_t>(0);
  });
  st_("erasure.outbox").bind(ch.id, at).exec();
  st_("erasure.consent_log").bind(ch.subscriber_id, ch.id, ch.address, pseudonym).exec();
  if (ch.kind == ChannelKind::kSms) {
    st_("erasure.consent_log_unknown").bind(to_string(ch.kind), ch.address, pseudonym).exec();
    st_("erasure.inbound_texts").bind(ch.address, pseudonym).exec();
    st_("erasure.sms_confirm_sends").bind(ch.address).exec();
  }
  st_("erasure.audit_log").bind(ch.address, pseudonym).exec();
  st_("erasure.topic_requests").bind(ch.id).exec();
  st_("erasure.channel").bind(ch.id).exec();
  erased_ = true;
  return ids;
}

void SqliteConsentStore::erase_subscriber(std::int64_t subscriber_id) {
  st_("erasure.subscriber_topics").bind(subscriber_id).exec();
  st_("erasure.subscriber").bind(subscriber_id).exec();
  erased_ = true;
}

}  // namespace sc::storage::detail
