#include "support/memory_storage.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>

#include "sc/core/subscriber_list.h"
#include "sc/core/text.h"

namespace sc::unit {

namespace {

// channels.address is COLLATE NOCASE in the schema (ASCII case folding).
bool same_address(std::string_view a, std::string_view b) {
  return text::to_lower_ascii(a) == text::to_lower_ascii(b);
}

constexpr std::int64_t kProviderEventsKeptSeconds = 7 * 86400;

}  // namespace

struct MemoryStorage::Data {
  struct ConsentRow {
    ConsentEvent event;
    std::string text_version;  // "" without a registered text
  };
  struct SmsConfirm {
    SmsConfirmKeys keys;
    std::int64_t at = 0;
  };
  struct KeyRow {
    AdminKey key;
    std::string secret;
  };
  std::map<std::int64_t, Subscriber> subscribers;
  std::map<std::int64_t, Channel> channels;
  std::map<std::int64_t, std::set<std::string>> topics;  // subscriber -> topics
  std::map<std::int64_t, std::map<std::string, std::int64_t>>
      topic_requests;                   // channel -> asked at
  std::set<std::string> consent_texts;  // sha256
  std::vector<ConsentRow> consent_log;
  std::map<std::int64_t, OutboxRow> outbox;
  std::map<std::int64_t, StoredInboundText> inbound;
  std::map<std::pair<std::string, std::string>, std::int64_t> provider_events;
  std::vector<SmsConfirm> sms_confirms;
  std::map<std::int64_t, Broadcast> broadcasts;
  struct Lease {
    std::string owner;
    std::int64_t term = 0, until = 0;
  };
  std::map<std::int64_t, Lease> broadcast_leases;
  std::map<std::string, std::string> instances;  // id -> name
  std::vector<KeyRow> keys;
  std::vector<AuditEntry> audit;
  std::map<std::pair<ChannelKind, std::string>, SuppressionView> suppressions;  // (kind, key)
  struct RateRow {
    std::int64_t slot = 0;
    int granted = 0;
  };
  std::map<std::string, RateRow> rate_grants;  // by provider
  struct Import {
    ImportJob job;
    std::string lease_owner;                        // "": nobody holds it
    std::int64_t lease_until = 0;                   // ms on the clock
    std::map<std::int64_t, ImportPart> parts;       // by seq
    std::map<std::int64_t, ImportRowVerdict> rows;  // by line
  };
  std::map<std::int64_t, Import> imports;
  std::int64_t next_subscriber = 1, next_channel = 1, next_outbox = 1, next_inbound = 1,
               next_broadcast = 1, next_audit = 1, next_import = 1;
  bool outbox_changed = false;
};

// Every store of a transaction, over the data.
struct MemoryStorage::Stores final : SubscriberStore,
                                     TopicStore,
                                     ConsentLog,
                                     MessageQueue,
                                     InboundTextStore,
                                     DeliveryStore,
                                     SmsConfirmLedger,
                                     SuppressionList,
                                     ErasureStore,
                                     AuditLog,
                                     OutboxStore,
                                     BroadcastDrafts,
                                     BroadcastLedger {
  Stores(Data& data, const Clock& c, const std::pair<std::string, std::string>& instance)
      : d(data), clock(c), me(instance.first), my_name(instance.second) {}
  Data& d;
  const Clock& clock;
  const std::string& me;
  const std::string& my_name;

  // ---- SubscriberStore
  std::optional<Channel> find_channel(ChannelKind kind, std::string_view address) override {
    for (const auto& [id, c] : d.channels) {
      if (c.kind == kind && same_address(c.address, address)) return c;
    }
    return std::nullopt;
  }
  std::optional<Channel> channel_by_id(std::int64_t id) override {
    auto it = d.channels.find(id);
    if (it == d.channels.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Subscriber> subscriber_by_id(std::int64_t id) override {
    auto it = d.subscribers.find(id);
    if (it == d.subscribers.end()) return std::nullopt;
    return it->second;
  }
  std::int64_t insert_subscriber(const Subscriber& s) override {
    const auto id = d.next_subscriber++;
    d.subscribers[id] = s;
    d.subscribers[id].id = id;
    return id;
  }
  std::int64_t insert_channel(const Channel& c) override {
    if (find_channel(c.kind, c.address))
      throw std::runtime_error("UNIQUE constraint failed: channels.kind, channels.address");
    if (!d.subscribers.contains(c.subscriber_id))
      throw std::runtime_error("FOREIGN KEY constraint failed: channels.subscriber_id");
    const auto id = d.next_channel++;
    Channel stored = c;
    stored.id = id;
    stored.state_version = 0;
    d.channels[id] = stored;
    return id;
  }
  void update_channel_state(std::int64_t channel_id, ConsentState state, std::int64_t at) override {
    auto it = d.channels.find(channel_id);
    if (it == d.channels.end()) return;
    it->second.state = state;
    it->second.updated_at = at;
    ++it->second.state_version;
  }
  void mark_confirm_sent(std::int64_t channel_id, std::int64_t at) override {
    auto it = d.channels.find(channel_id);
    if (it != d.channels.end()) it->second.confirm_sent_at = at;
  }

  std::vector<Channel> channels_of(std::int64_t subscriber_id) override {
    std::vector<Channel> out;
    for (auto kind : {ChannelKind::kEmail, ChannelKind::kSms})
      for (const auto& [id, c] : d.channels)
        if (c.subscriber_id == subscriber_id && c.kind == kind) out.push_back(c);
    return out;
  }
  void update_profile(std::int64_t subscriber_id, std::string_view first_name,
                      std::string_view postal_code) override {
    auto it = d.subscribers.find(subscriber_id);
    if (it == d.subscribers.end()) return;
    it->second.first_name = std::string(first_name);
    it->second.postal_code = std::string(postal_code);
  }

  // ---- SuppressionList, ErasureStore (as schema/queries/sqlite/erasure.sql)
  void suppress(ChannelKind kind, std::string_view key, std::string_view reason,
                std::int64_t at) override {
    d.suppressions.emplace(std::pair(kind, std::string(key)),
                           SuppressionView{std::string(reason), at});
  }
  bool is_suppressed(ChannelKind kind, std::string_view key) override {
    return d.suppressions.contains({kind, std::string(key)});
  }
  static bool holds(std::string_view text, std::string_view address) {
    return text::to_lower_ascii(text).find(text::to_lower_ascii(address)) != std::string::npos;
  }
  std::vector<std::int64_t> erase_channel(const Channel& ch, std::string_view pseudonym,
                                          std::int64_t at) override {
    std::vector<std::int64_t> ids;
    for (auto& [id, r] : d.outbox) {
      if (r.channel_id != ch.id) continue;
      ids.push_back(id);
      r.email = OutboundEmail{};
      r.sms = OutboundSms{};
      r.last_error.clear();
      if (r.state == "queued") {
        r.state = "skipped";
        r.last_code = "erased";
        r.finished_at = at;
        r.wait_reason.clear();
      }
    }
    const auto pseudo = std::string(pseudonym);
    for (auto& row : d.consent_log) {
      auto& e = row.event;
      const bool own = e.subscriber_id == ch.subscriber_id && e.channel_id == ch.id;
      const bool unknown = e.subscriber_id == 0 && ch.kind == ChannelKind::kSms &&
                           e.channel == ch.kind && e.address == ch.address;
      if (!own && !unknown) continue;
      if (holds(e.detail, ch.address)) e.detail.clear();
      e.address = pseudo;
      e.context = RequestContext{};
      e.text_received.clear();
    }
    for (auto& a : d.audit) {
      if (text::to_lower_ascii(a.target) == text::to_lower_ascii(ch.address)) a.target = pseudo;
      if (holds(a.detail, ch.address)) a.detail.clear();
    }
    if (ch.kind == ChannelKind::kSms) {
      for (auto& [id, t] : d.inbound) {
        if (t.from != ch.address) continue;
        t.from = pseudo;
        t.body.clear();
      }
      std::erase_if(d.sms_confirms, [&](const auto& s) { return s.keys.number == ch.address; });
    }
    d.topic_requests.erase(ch.id);
    d.channels.erase(ch.id);
    return ids;
  }
  void erase_subscriber(std::int64_t subscriber_id) override {
    d.topics.erase(subscriber_id);
    d.subscribers.erase(subscriber_id);
  }

  // ---- TopicStore
  void replace_topics(std::int64_t subscriber_id, const std::vector<std::string>& t) override {
    d.topics.erase(subscriber_id);
    if (!t.empty()) add_topics(subscriber_id, t);
  }
  void add_topics(std::int64_t subscriber_id, const std::vector<std::string>& t) override {
    d.topics[subscriber_id].insert(t.begin(), t.end());
  }
  std::vector<std::string> topics_of(std::int64_t subscriber_id) override {
    auto it = d.topics.find(subscriber_id);
    if (it == d.topics.end()) return {};
    return {it->second.begin(), it->second.end()};
  }
  void request_topics(std::int64_t channel_id, const std::vector<std::string>& t,
                      std::int64_t at) override {
    for (const auto& topic : t) d.topic_requests[channel_id][topic] = at;
  }
  std::vector<std::string> take_topic_requests(std::int64_t channel_id,
                                               std::int64_t requested_until) override {
    std::vector<std::string> out;
    auto held = d.topic_requests.find(channel_id);
    if (held == d.topic_requests.end()) return out;
    for (auto it = held->second.begin(); it != held->second.end();) {
      if (it->second <= requested_until) {
        out.push_back(it->first);
        it = held->second.erase(it);
      } else {
        ++it;
      }
    }
    if (held->second.empty()) d.topic_requests.erase(held);
    return out;  // sorted: the map is
  }
  std::vector<std::string> topic_requests_of(std::int64_t channel_id) override {
    std::vector<std::string> out;
    auto it = d.topic_requests.find(channel_id);
    if (it != d.topic_requests.end()) {
      for (const auto& [topic, at] : it->second) out.push_back(topic);
    }
    return out;
  }

  // ---- ConsentLog
  void append_consent(const ConsentEvent& e, const ConsentText* text) override {
    Data::ConsentRow row{e, ""};
    if (text != nullptr && !text->sha256_hex.empty()) {
      // consent_log.consent_text_sha256 references consent_texts.
      if (!d.consent_texts.contains(text->sha256_hex))
        throw std::runtime_error("FOREIGN KEY constraint failed: consent_text_sha256");
      row.text_version = text->version;
    }
    d.consent_log.push_back(std::move(row));
  }
  void store_consent_text(ChannelKind, const ConsentText& text, std::int64_t) override {
    d.consent_texts.insert(text.sha256_hex);
  }

  // ---- MessageQueue
  OutboxRow& enqueue(const OutboxEntry& entry) {
    if (entry.broadcast_id != 0) {
      for (const auto& [id, r] : d.outbox) {
        if (r.broadcast_id == entry.broadcast_id && r.channel_id == entry.channel_id)
          throw std::runtime_error("UNIQUE constraint failed: outbox.broadcast_id, channel_id");
      }
    }
    const auto id = d.next_outbox++;
    OutboxRow& r = d.outbox[id];
    r.id = id;
    r.kind = entry.kind;
    r.lane = lane_for(entry);
    r.purpose = entry.purpose;
    r.broadcast_id = entry.broadcast_id;
    r.channel_id = entry.channel_id;
    r.created_at = entry.queued_at;
    d.outbox_changed = true;
    return r;
  }
  std::int64_t enqueue_email(const OutboxEntry& entry, const OutboundEmail& email) override {
    auto& r = enqueue(entry);
    r.email = email;
    return r.id;
  }
  std::int64_t enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) override {
    auto& r = enqueue(entry);
    r.sms = sms;
    return r.id;
  }

  // ---- InboundTextStore
  bool inbound_text_seen(std::string_view message_sid) override {
    for (const auto& [id, t] : d.inbound) {
      if (t.message_sid == message_sid) return true;
    }
    return false;
  }
  std::int64_t insert_inbound_text(const StoredInboundText& t) override {
    if (inbound_text_seen(t.message_sid))
      throw std::runtime_error("UNIQUE constraint failed: inbound_texts.message_sid");
    const auto id = d.next_inbound++;
    StoredInboundText stored = t;
    stored.id = id;
    stored.reviewed_at = 0;
    stored.reviewed_by.clear();
    stored.review_action.clear();
    d.inbound[id] = stored;
    return id;
  }
  std::optional<StoredInboundText> inbound_text_by_id(std::int64_t id) override {
    auto it = d.inbound.find(id);
    if (it == d.inbound.end()) return std::nullopt;
    return it->second;
  }
  void mark_inbound_text_reviewed(std::int64_t id, std::string_view by, std::string_view action,
                                  std::int64_t at) override {
    auto it = d.inbound.find(id);
    if (it == d.inbound.end()) return;
    it->second.reviewed_at = at;
    it->second.reviewed_by = std::string(by);
    it->second.review_action = std::string(action);
  }

  // ---- DeliveryStore
  std::optional<SentMessageRef> sent_message(std::string_view provider,
                                             std::string_view provider_message_id) override {
    for (const auto& [id, r] : d.outbox) {  // lowest id first
      if (r.provider == provider && r.provider_message_id == provider_message_id)
        return SentMessageRef{r.id, r.channel_id, r.broadcast_id, r.delivery_state};
    }
    return std::nullopt;
  }
  static OutboxDelivery delivery_of(const OutboxRow& r) {
    return OutboxDelivery{r.id, r.channel_id, r.broadcast_id, r.delivery_state, r.delivery_at};
  }
  std::optional<OutboxDelivery> email_delivery(std::int64_t outbox_id) override {
    auto it = d.outbox.find(outbox_id);
    if (it == d.outbox.end() || it->second.kind != OutboxKind::kEmail) return std::nullopt;
    return delivery_of(it->second);
  }
  std::optional<OutboxDelivery> email_delivery_by_provider_id(
      std::string_view provider_message_id) override {
    for (auto it = d.outbox.rbegin(); it != d.outbox.rend(); ++it) {  // newest first
      const auto& r = it->second;
      if (r.kind == OutboxKind::kEmail && !r.provider_message_id.empty() &&
          r.provider_message_id == provider_message_id)
        return delivery_of(r);
    }
    return std::nullopt;
  }
  void set_delivery(std::int64_t outbox_id, std::string_view state, std::string_view code,
                    std::int64_t at) override {
    auto it = d.outbox.find(outbox_id);
    if (it == d.outbox.end()) return;
    it->second.delivery_state = std::string(state);
    it->second.delivery_code = std::string(code);
    it->second.delivery_at = at;
  }
  bool first_provider_event(std::string_view provider, std::string_view event_id,
                            std::int64_t at) override {
    std::erase_if(d.provider_events,
                  [&](const auto& kv) { return kv.second < at - kProviderEventsKeptSeconds; });
    return d.provider_events.emplace(std::pair{std::string(provider), std::string(event_id)}, at)
        .second;
  }

  // ---- SmsConfirmLedger
  std::int64_t count_sms_confirms(SmsLimit scope, std::string_view key,
                                  std::int64_t since) override {
    std::int64_t n = 0;
    for (const auto& s : d.sms_confirms) {
      if (s.at <= since) continue;
      const std::string* k = scope == SmsLimit::kClient   ? &s.keys.client
                             : scope == SmsLimit::kNumber ? &s.keys.number
                             : scope == SmsLimit::kPrefix ? &s.keys.prefix
                                                          : nullptr;
      if (k == nullptr || *k == key) ++n;
    }
    return n;
  }
  void record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                          std::int64_t forget_before) override {
    std::erase_if(d.sms_confirms, [&](const Data::SmsConfirm& s) { return s.at < forget_before; });
    d.sms_confirms.push_back({keys, at});
  }

  // ---- AuditLog
  void append(const AuditEntry& e) override {
    AuditEntry stored = e;
    stored.id = d.next_audit++;
    d.audit.push_back(std::move(stored));
  }

  // ---- OutboxStore (which messages a claim takes is core's claim_due)
  bool sending_broadcast(std::int64_t id) const {
    auto it = d.broadcasts.find(id);
    return it != d.broadcasts.end() && it->second.status == BroadcastStatus::kSending;
  }
  ClaimedMessage claimed(const OutboxRow& r) const {
    ClaimedMessage m;
    m.id = r.id;
    m.kind = r.kind;
    m.lane = r.lane;
    m.purpose = r.purpose;
    m.broadcast_id = r.broadcast_id;
    m.channel_id = r.channel_id;
    m.attempts = r.attempts;
    m.email = r.email;  // stored decoded: decode() has nothing to do
    m.sms = r.sms;
    m.email.outbox_id = r.id;
    m.sms.outbox_id = r.id;
    return m;
  }
  std::vector<LeasedMessage> lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                       std::int64_t now, std::int64_t lease_until,
                                       LeaseState state) override {
    std::vector<OutboxRow*> due;
    for (auto& [id, r] : d.outbox) {
      if (r.state == "queued" && r.lane == lane && r.kind == kind && r.next_attempt_at <= now &&
          (lane == OutboxLane::kTransactional || sending_broadcast(r.broadcast_id)))
        due.push_back(&r);
    }
    std::stable_sort(due.begin(), due.end(), [](const OutboxRow* a, const OutboxRow* b) {
      return a->next_attempt_at < b->next_attempt_at;
    });
    if (static_cast<int>(due.size()) > limit) due.resize(static_cast<std::size_t>(limit));
    std::vector<LeasedMessage> out;
    for (OutboxRow* r : due) {
      r->state = "sending";
      r->attempts += 1;
      r->lease_until = lease_until;
      r->lease_owner = me;
      r->handed_over = state == LeaseState::kHandedOver;
      r->wait_reason.clear();
      LeasedMessage m;
      m.message = claimed(*r);
      m.due = r->next_attempt_at;
      if (auto c = d.channels.find(r->channel_id); c != d.channels.end())
        m.channel_state = c->second.state;
      out.push_back(std::move(m));
    }
    return out;
  }
  void skip(const std::vector<std::int64_t>& ids, std::int64_t now) override {
    for (auto id : ids) {
      auto* r = leased(id);
      if (r == nullptr) continue;
      r->state = "skipped";
      r->attempts -= 1;
      r->lease_until = 0;
      r->lease_owner.clear();
      r->handed_over = false;
      r->finished_at = now;
      r->last_error = "recipient no longer consents";
    }
  }
  bool finish(std::int64_t id, Finish how, const std::string& provider, const SendResult& res,
              std::int64_t now) override {
    auto* r = leased(id);
    if (r == nullptr) return false;
    r->lease_owner.clear();
    r->state = how == Finish::kSent ? "sent" : how == Finish::kFailed ? "failed" : "unknown";
    r->finished_at = now;
    r->provider = provider;
    r->last_code = res.provider_code;
    if (how == Finish::kSent) {
      r->provider_message_id = res.provider_message_id;
      r->last_error.clear();
    } else {
      r->last_error = res.provider_message;
    }
    return true;
  }
  // A row this instance holds the lease of (fenced on its owner).
  OutboxRow* leased(std::int64_t id) {
    auto it = d.outbox.find(id);
    return it != d.outbox.end() && it->second.state == "sending" && it->second.lease_owner == me
               ? &it->second
               : nullptr;
  }
  bool mark_retry(std::int64_t id, const SendResult& res, std::int64_t next_attempt_at) override {
    auto* r = leased(id);
    if (r == nullptr) return false;
    r->state = "queued";
    r->next_attempt_at = next_attempt_at;
    r->lease_until = 0;
    r->lease_owner.clear();
    r->handed_over = false;
    r->last_code = res.provider_code;
    r->last_error = res.provider_message;
    return true;
  }
  std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                             std::int64_t lease_until) override {
    const std::set<std::int64_t> asked(ids.begin(), ids.end());
    std::vector<std::int64_t> out;
    for (auto id : asked) {
      auto* r = leased(id);
      // Only rows still leased as claimed (bulk, not yet handed over).
      if (r == nullptr || r->lane != OutboxLane::kBulk || r->handed_over) continue;
      if (sending_broadcast(r->broadcast_id)) {
        r->handed_over = true;
        r->lease_until = lease_until;
        out.push_back(id);
      } else {  // paused or cancelled since the claim: back to the queue unsent
        r->state = "queued";
        r->attempts -= 1;
        r->lease_until = 0;
        r->lease_owner.clear();
      }
    }
    return out;
  }
  bool requeue(std::int64_t id, std::int64_t due, const std::string& reason) override {
    auto* r = leased(id);
    if (r == nullptr) return false;
    r->state = "queued";
    r->attempts -= 1;
    r->next_attempt_at = due;
    r->lease_until = 0;
    r->lease_owner.clear();
    r->handed_over = false;
    r->wait_reason = reason;
    return true;
  }
  void pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                       std::int64_t now) override {
    auto it = d.broadcasts.find(broadcast_id);
    if (it == d.broadcasts.end() || it->second.status != BroadcastStatus::kSending) return;
    it->second.status = BroadcastStatus::kPaused;
    it->second.pause_reason = reason;
    it->second.updated_at = now;
  }
  // A lapsed transactional lease is queued again; a bulk one becomes unknown
  // once handed over, and is queued again (attempt given back) before.
  static void release(OutboxRow& r, std::int64_t now, const char* why) {
    if (r.lane == OutboxLane::kTransactional) {
      r.state = "queued";
    } else if (r.handed_over) {
      r.state = "unknown";
      r.finished_at = now;
      r.last_error = why;
    } else {
      r.state = "queued";
      r.attempts -= 1;
    }
    r.lease_until = 0;
    r.lease_owner.clear();
    r.handed_over = false;
  }
  int release_expired(std::int64_t now) override {
    int n = 0;
    for (auto& [id, r] : d.outbox) {
      if (r.state == "sending" && r.lease_until < now) {
        release(r, now, "in flight when its lease ran out (the process stopped or the send hung)");
        ++n;
      }
    }
    return n;
  }
  int release_own(std::int64_t now) override {
    d.instances[me] = my_name;
    // This name's earlier runs and this one (and rows leased without an owner).
    auto own = [&](const std::string& owner) {
      if (owner.empty()) return true;
      auto it = d.instances.find(owner);
      return it != d.instances.end() && it->second == my_name;
    };
    int n = 0;
    for (auto& [id, r] : d.outbox) {
      if (r.state == "sending" && own(r.lease_owner)) {
        release(r, now, "in flight when the process stopped");
        ++n;
      }
    }
    for (auto& [id, l] : d.broadcast_leases) {
      if (own(l.owner)) l.until = 0;  // run out: taken by anyone, under the next term
    }
    n += release_expired(now);
    std::erase_if(d.instances,
                  [&](const auto& kv) { return kv.second == my_name && kv.first != me; });
    return n;
  }

  // ---- BroadcastDrafts and BroadcastLedger
  std::int64_t insert(const Broadcast& b) override {
    if (!b.idempotency_key.empty() && find_by_idempotency_key(b.created_by, b.idempotency_key))
      throw std::runtime_error("UNIQUE constraint failed: broadcasts.created_by, idem_key");
    const auto id = d.next_broadcast++;
    Broadcast stored = b;
    stored.id = id;
    stored.status = BroadcastStatus::kDraft;
    stored.updated_at = b.created_at;
    stored.started_at = stored.finished_at = 0;
    stored.pause_reason.clear();
    stored.snapshot_done = false;
    stored.snapshot_cursor = 0;
    d.broadcasts[id] = stored;
    return id;
  }
  std::optional<Broadcast> find(std::int64_t id) override {
    auto it = d.broadcasts.find(id);
    if (it == d.broadcasts.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Broadcast> find_by_idempotency_key(const std::string& key_name,
                                                   const std::string& key) override {
    for (const auto& [id, b] : d.broadcasts) {
      if (b.created_by == key_name && !b.idempotency_key.empty() && b.idempotency_key == key)
        return b;
    }
    return std::nullopt;
  }
  void update_content(const Broadcast& b) override {
    auto it = d.broadcasts.find(b.id);
    if (it == d.broadcasts.end() || it->second.status != BroadcastStatus::kDraft) return;
    auto& s = it->second;
    s.channel = b.channel;
    s.subject = b.subject;
    s.text = b.text;
    s.html = b.html;
    s.topics = b.topics;
    s.send_at = b.send_at;
    s.updated_at = b.updated_at;
  }
  void set_status(std::int64_t id, BroadcastStatus st, const std::string& reason,
                  std::int64_t now) override {
    auto it = d.broadcasts.find(id);
    if (it == d.broadcasts.end()) return;
    auto& b = it->second;
    b.status = st;
    b.pause_reason = reason;
    b.updated_at = now;
    if (st == BroadcastStatus::kSending && b.started_at == 0) b.started_at = now;
    b.finished_at =
        st == BroadcastStatus::kCompleted || st == BroadcastStatus::kCancelled ? now : 0;
  }
  // The snapshot's condition: a confirmed channel of the kind, in a topic when it names any.
  bool in_audience(const Broadcast& b, const Channel& c) const {
    if (c.kind != b.channel || c.state != ConsentState::kConfirmed) return false;
    if (b.topics.empty()) return true;
    auto t = d.topics.find(c.subscriber_id);
    if (t == d.topics.end()) return false;
    return std::any_of(b.topics.begin(), b.topics.end(),
                       [&](const std::string& topic) { return t->second.contains(topic); });
  }
  bool has_audience(const Broadcast& b) override {
    return std::any_of(d.channels.begin(), d.channels.end(),
                       [&](const auto& kv) { return in_audience(b, kv.second); });
  }
  std::vector<std::string> unknown_topics(const std::vector<std::string>& topics) override {
    std::vector<std::string> out;
    for (const auto& t : topics) {
      const bool known = std::any_of(d.topics.begin(), d.topics.end(),
                                     [&](const auto& kv) { return kv.second.contains(t); });
      if (!known) out.push_back(t);
    }
    return out;
  }
  bool has_rows(std::int64_t id, std::initializer_list<const char*> states) const {
    for (const auto& [oid, r] : d.outbox) {
      if (r.broadcast_id != id || id == 0) continue;
      for (const char* s : states) {
        if (r.state == s) return true;
      }
    }
    return false;
  }
  std::vector<Broadcast> active() override {
    std::vector<Broadcast> out;
    for (const auto& [id, b] : d.broadcasts) {
      if (b.status == BroadcastStatus::kScheduled || b.status == BroadcastStatus::kSending ||
          (b.status == BroadcastStatus::kCancelled && has_rows(id, {"queued"})))
        out.push_back(b);
    }
    return out;
  }
  std::optional<std::int64_t> take_run_lease(std::int64_t id, std::int64_t now,
                                             std::int64_t until) override {
    auto [it, fresh] = d.broadcast_leases.try_emplace(id, Data::Lease{me, 1, until});
    if (fresh) return 1;
    auto& l = it->second;
    if (l.owner != me) {
      if (l.until >= now) return std::nullopt;
      l.owner = me;
      ++l.term;
    }
    l.until = until;
    return l.term;
  }
  // The first max_rows qualifying channels after `after`.
  std::vector<const Channel*> snapshot_next(const Broadcast& b, std::int64_t after, int max_rows) {
    std::vector<const Channel*> chunk;
    for (const auto& [id, c] : d.channels) {
      if (static_cast<int>(chunk.size()) >= max_rows) break;
      if (id > after && in_audience(b, c)) chunk.push_back(&c);
    }
    return chunk;
  }
  // Queues those of `chunk` not in the ledger yet, while the broadcast is sending.
  int snapshot_add(const Broadcast& b, const std::vector<const Channel*>& chunk, std::int64_t now) {
    auto bit = d.broadcasts.find(b.id);
    if (bit == d.broadcasts.end() || bit->second.status != BroadcastStatus::kSending) return 0;
    int added = 0;
    for (const Channel* c : chunk) {
      const bool in_ledger = std::any_of(d.outbox.begin(), d.outbox.end(), [&](const auto& kv) {
        return kv.second.broadcast_id == b.id && kv.second.channel_id == c->id;
      });
      if (in_ledger) continue;
      OutboxEntry e;
      e.kind = c->kind == ChannelKind::kEmail ? OutboxKind::kEmail : OutboxKind::kSms;
      e.channel_id = c->id;
      e.broadcast_id = b.id;
      e.purpose = "broadcast";
      auto& r = enqueue(e);
      r.next_attempt_at = now;
      r.created_at = now;
      // A ledger row holds only its recipient (as decode_payload gives it).
      const auto first_name = d.subscribers.at(c->subscriber_id).first_name;
      if (e.kind == OutboxKind::kEmail) {
        r.email.to = Mailbox{c->address, ""};
        r.email.template_vars["first_name"] = first_name;
      } else {
        r.sms.to = c->address;
        r.sms.template_vars["first_name"] = first_name;
      }
      ++added;
    }
    return added;
  }
  int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) override {
    const auto chunk = snapshot_next(b, b.snapshot_cursor, max_rows);
    const int added = snapshot_add(b, chunk, now);
    const std::int64_t last = chunk.empty() ? 0 : chunk.back()->id;
    auto it = d.broadcasts.find(b.id);
    if (it != d.broadcasts.end()) {
      it->second.snapshot_cursor = std::max(it->second.snapshot_cursor, last);
      it->second.snapshot_done = static_cast<int>(chunk.size()) < max_rows;
      it->second.updated_at = now;
    }
    return added;
  }
  SnapshotAhead snapshot_ahead(const Broadcast& b, int max_rows, int after_chunks,
                               std::int64_t now) override {
    SnapshotAhead ahead;
    std::int64_t from = b.snapshot_cursor;
    for (int i = 0; i < after_chunks; ++i) {
      const auto next = snapshot_next(b, from, max_rows);
      if (static_cast<int>(next.size()) < max_rows) return ahead;
      from = next.back()->id;
    }
    ahead.from = ahead.to = from;
    const auto chunk = snapshot_next(b, from, max_rows);
    if (chunk.empty()) return ahead;
    ahead.added = snapshot_add(b, chunk, now);
    ahead.to = chunk.back()->id;
    return ahead;
  }
  int skip_queued(std::int64_t id, int max_rows, std::int64_t now) override {
    int n = 0;
    for (auto& [oid, r] : d.outbox) {
      if (n >= max_rows) break;
      if (id == 0 || r.broadcast_id != id || r.state != "queued") continue;
      r.state = "skipped";
      r.finished_at = now;
      r.last_error = "broadcast cancelled";
      ++n;
    }
    return n;
  }
  bool has_unfinished(std::int64_t id) override { return has_rows(id, {"queued", "sending"}); }
  int requeue(std::int64_t id, const std::string& state, std::int64_t now) override {
    int n = 0;
    for (auto& [oid, r] : d.outbox) {
      if (id == 0 || r.broadcast_id != id || r.state != state) continue;
      r.state = "queued";
      r.attempts = 0;
      r.next_attempt_at = now;
      r.lease_until = 0;
      r.handed_over = false;
      r.finished_at = 0;
      ++n;
    }
    if (n > 0) d.outbox_changed = true;
    return n;
  }
};

namespace {

// Imports as schema/queries/*/imports.sql keep them: leases in milliseconds
// on the clock, held by an instance id; marks fenced on the holder.
class MemoryImportStore final : public ImportStore {
 public:
  MemoryImportStore(MemoryStorage::Data& d, const Clock& clock, const std::string& me,
                    const std::string& name)
      : d_(d), clock_(clock), me_(me), name_(name) {
    d_.instances[me_] = name_;  // as the writer registers itself at open
  }

  std::int64_t create(const ImportJob& job, std::int64_t lease_ms) override {
    const auto id = d_.next_import++;
    auto& i = d_.imports[id];
    i.job.id = id;
    i.job.mode = job.mode;
    i.job.dry_run = job.dry_run;
    i.job.status = ImportStatus::kReceiving;
    i.job.key_name = job.key_name;
    i.job.header = job.header;
    i.job.created_at = job.created_at;
    hold(i, lease_ms);
    return id;
  }
  void add_part(std::int64_t id, const ImportPart& part) override {
    if (!existing(id, "import_parts.import_id").parts.emplace(part.seq, part).second)
      throw std::runtime_error("UNIQUE constraint failed: import_parts.import_id, seq");
  }
  bool renew(std::int64_t id, std::int64_t lease_ms) override {
    auto* i = find(id);
    if (i == nullptr || i->lease_owner != me_) return false;
    hold(*i, lease_ms);
    return true;
  }
  bool start(std::int64_t id, std::int64_t parts) override {
    auto* i = find(id);
    if (i == nullptr || i->job.status != ImportStatus::kReceiving) return false;
    i->job.status = ImportStatus::kRunning;
    i->job.parts = parts;
    let_go(*i);
    return true;
  }
  void drop(std::int64_t id) override { d_.imports.erase(id); }
  void release_own(std::int64_t) override {
    for (auto& [id, i] : d_.imports) {
      const auto owner = d_.instances.find(i.lease_owner);
      const bool own =
          !i.lease_owner.empty() && (owner == d_.instances.end() || owner->second == name_);
      if (own &&
          (i.job.status == ImportStatus::kReceiving || i.job.status == ImportStatus::kRunning))
        let_go(i);
    }
  }
  std::vector<std::int64_t> stale_uploads() override {
    std::vector<std::int64_t> out;
    for (const auto& [id, i] : d_.imports) {
      if (out.size() == kStaleUploadsMax) break;
      if (i.job.status == ImportStatus::kReceiving && lapsed(i)) out.push_back(id);
    }
    return out;
  }
  std::optional<ImportJob> claim(std::int64_t lease_ms) override {
    for (auto& [id, i] : d_.imports) {  // oldest first
      if (i.job.status != ImportStatus::kRunning || !lapsed(i)) continue;
      i.lease_owner = me_;
      hold(i, lease_ms);
      return i.job;
    }
    return std::nullopt;
  }
  std::optional<ImportJob> job(std::int64_t id) override {
    auto* i = find(id);
    if (i == nullptr) return std::nullopt;
    return i->job;
  }
  bool progress(std::int64_t id, std::int64_t seq, const ImportCounts& counts,
                std::int64_t confirms_email, std::int64_t confirms_sms,
                std::int64_t lease_ms) override {
    auto* i = held_running(id);
    if (i == nullptr || i->job.next_part != seq) return false;
    i->job.next_part += 1;
    i->job.counts += counts;
    i->job.confirms_email += confirms_email;
    i->job.confirms_sms += confirms_sms;
    hold(*i, lease_ms);
    return true;
  }
  void add_rows(std::int64_t id, const std::vector<ImportRowVerdict>& rows) override {
    if (rows.empty()) return;
    auto& i = existing(id, "import_rows.import_id");
    for (const auto& r : rows) i.rows.emplace(r.line, r);  // a line already kept stays
  }
  bool finish(std::int64_t id, ImportStatus status, std::int64_t at,
              std::string_view error) override {
    auto* i = held_running(id);
    if (i == nullptr) return false;
    i->job.status = status;
    i->job.finished_at = at;
    i->job.error = std::string(error);
    let_go(*i);
    i->parts.clear();
    return true;
  }

 private:
  static constexpr std::size_t kStaleUploadsMax = 100;  // as the query's LIMIT

  MemoryStorage::Data::Import* find(std::int64_t id) {
    auto it = d_.imports.find(id);
    return it == d_.imports.end() ? nullptr : &it->second;
  }
  // The import a part or a verdict belongs to (a foreign key in SQL).
  MemoryStorage::Data::Import& existing(std::int64_t id, const char* column) {
    auto* i = find(id);
    if (i == nullptr)
      throw std::runtime_error(std::string("FOREIGN KEY constraint failed: ") + column);
    return *i;
  }
  MemoryStorage::Data::Import* held_running(std::int64_t id) {
    auto* i = find(id);
    return i != nullptr && i->lease_owner == me_ && i->job.status == ImportStatus::kRunning
               ? i
               : nullptr;
  }
  void hold(MemoryStorage::Data::Import& i, std::int64_t lease_ms) {
    i.lease_owner = me_;
    i.lease_until = clock_.now_ms() + lease_ms;
  }
  static void let_go(MemoryStorage::Data::Import& i) {
    i.lease_owner.clear();
    i.lease_until = 0;
  }
  bool lapsed(const MemoryStorage::Data::Import& i) const {
    return i.lease_until < clock_.now_ms();
  }

  MemoryStorage::Data& d_;
  const Clock& clock_;
  const std::string& me_;
  const std::string& name_;
};

}  // namespace

// The port objects, each a view of the one storage.
class MemoryStorage::Ports final : public UnitOfWork,
                                   public OutboxTransactions,
                                   public ReadStore,
                                   public SubscriberReads,
                                   public AdminStore {
 public:
  explicit Ports(MemoryStorage& m) : m_(m), broadcasts_(m) {}

  // UnitOfWork
  void run(const std::function<void(const Transaction&)>& fn) override {
    m_.transact([&](Stores& s) { fn(Transaction{s, s, s, s, s, s, s, s, s, s}); }, true);
  }
  // OutboxTransactions
  void run(const std::function<void(const OutboxTransaction&)>& fn) override {
    m_.transact([&](Stores& s) { fn(OutboxTransaction{s, s, s}); }, false);
  }
  std::uint64_t request_jobs() const override { return request_jobs_.load(); }
  void decode(ClaimedMessage&) const override {}  // stored decoded
  OutboxDepth depth(std::int64_t now) override {
    std::lock_guard lk(m_.mu_);
    OutboxDepth out;
    for (auto lane : {OutboxLane::kTransactional, OutboxLane::kBulk}) {
      for (const char* state : {"queued", "sending"}) {
        OutboxDepth::Cell c{lane, state, 0};
        for (const auto& [id, r] : m_.data_->outbox) c.count += r.lane == lane && r.state == state;
        if (c.count > 0) out.cells.push_back(c);
      }
    }
    for (const auto& [id, r] : m_.data_->outbox) {
      if (r.state != "queued" || r.next_attempt_at > now) continue;
      const auto since = std::max(r.next_attempt_at, r.created_at);
      if (out.oldest_due_since == 0 || since < out.oldest_due_since) out.oldest_due_since = since;
    }
    return out;
  }

  // ReadStore
  static ConsentLogView view_of(const Data::ConsentRow& row) {
    const auto& e = row.event;
    ConsentLogView v;
    v.at = e.at;
    v.channel = to_string(e.channel);
    v.address = e.address;
    v.action = to_string(e.action);
    v.source = to_string(e.source);
    v.detail = e.detail;
    v.ip = e.context.ip;
    v.user_agent = e.context.user_agent;
    v.consent_text_version = row.text_version;
    v.message_sid = e.message_sid;
    v.text_received = e.text_received;
    v.opt_out_type = e.opt_out_type;
    return v;
  }
  std::optional<SubscriberView> subscriber_by_channel(ChannelKind kind,
                                                      const std::string& address) override {
    std::lock_guard lk(m_.mu_);
    const Data& d = *m_.data_;
    std::int64_t sid = 0;
    for (const auto& [id, c] : d.channels) {
      if (c.kind == kind && same_address(c.address, address)) sid = c.subscriber_id;
    }
    auto sub = d.subscribers.find(sid);
    if (sid == 0 || sub == d.subscribers.end()) return std::nullopt;
    SubscriberView v;
    v.subscriber = sub->second;
    for (const auto& [id, c] : d.channels) {
      if (c.subscriber_id == sid)
        v.channels.push_back(
            ChannelView{c.kind, c.address, c.state, c.created_at, c.updated_at, id});
    }
    if (auto t = d.topics.find(sid); t != d.topics.end())
      v.topics.assign(t->second.begin(), t->second.end());
    for (const auto& row : d.consent_log) {
      if (row.event.subscriber_id == sid) v.consent_log.push_back(view_of(row));
    }
    return v;
  }
  // SubscriberReads: every subscriber read as the list shows them, then
  // core's rule (matches) for which are in.
  SubscriberSummary summary_of(const Data& d, const Subscriber& sub) const {
    SubscriberSummary s;
    s.subscriber = sub;
    for (const auto& [id, c] : d.channels) {
      if (c.subscriber_id == sub.id)
        s.channels.push_back(
            ChannelView{c.kind, c.address, c.state, c.created_at, c.updated_at, id});
    }
    if (auto t = d.topics.find(sub.id); t != d.topics.end())
      s.topics.assign(t->second.begin(), t->second.end());
    return s;
  }
  std::vector<SubscriberSummary> list(const SubscriberQuery& q) override {
    std::lock_guard lk(m_.mu_);
    const Data& d = *m_.data_;
    std::vector<SubscriberSummary> out;
    for (auto it = d.subscribers.rbegin(); it != d.subscribers.rend(); ++it) {
      if (static_cast<int>(out.size()) >= q.limit) break;
      if (q.before_id != 0 && it->first >= q.before_id) continue;
      auto s = summary_of(d, it->second);
      if (matches(q, s)) out.push_back(std::move(s));
    }
    return out;
  }
  std::optional<std::int64_t> subscriber_of_channel(std::int64_t channel_id) override {
    std::lock_guard lk(m_.mu_);
    auto it = m_.data_->channels.find(channel_id);
    if (it == m_.data_->channels.end()) return std::nullopt;
    return it->second.subscriber_id;
  }
  std::optional<SubscriberDetail> find(std::int64_t id, int max_messages) override {
    std::lock_guard lk(m_.mu_);
    const Data& d = *m_.data_;
    auto sub = d.subscribers.find(id);
    if (sub == d.subscribers.end()) return std::nullopt;
    SubscriberDetail out;
    out.summary = summary_of(d, sub->second);
    for (const auto& row : d.consent_log) {
      if (row.event.subscriber_id == id) out.consent.push_back(view_of(row));
    }
    for (auto it = d.outbox.rbegin(); it != d.outbox.rend(); ++it) {
      const auto& r = it->second;
      auto c = d.channels.find(r.channel_id);
      if (c == d.channels.end() || c->second.subscriber_id != id) continue;
      if (r.broadcast_id != 0 && !d.broadcasts.contains(r.broadcast_id)) continue;
      if (max_messages >= 0 && static_cast<int>(out.messages.size()) >= max_messages) break;
      MessageView m;
      m.id = r.id;
      m.kind = r.kind == OutboxKind::kEmail ? ChannelKind::kEmail : ChannelKind::kSms;
      m.purpose = r.purpose;
      m.broadcast_id = r.broadcast_id;
      m.state = r.state;
      m.delivery_state = r.delivery_state;
      m.provider = r.provider;
      m.created_at = r.created_at;
      m.finished_at = r.finished_at;
      out.messages.push_back(std::move(m));
    }
    return out;
  }
  std::optional<SuppressionView> suppression(ChannelKind kind, const std::string& key) override {
    std::lock_guard lk(m_.mu_);
    auto it = m_.data_->suppressions.find({kind, key});
    if (it == m_.data_->suppressions.end()) return std::nullopt;
    return it->second;
  }
  std::vector<ConsentLogView> erased_consent(const std::string& pseudonym) override {
    std::lock_guard lk(m_.mu_);
    std::vector<ConsentLogView> out;
    for (const auto& row : m_.data_->consent_log)
      if (row.event.address == pseudonym) out.push_back(view_of(row));
    return out;
  }
  std::vector<ExportedSubscriber> export_page(std::int64_t after_id, int limit) override {
    std::lock_guard lk(m_.mu_);
    const Data& d = *m_.data_;
    std::vector<ExportedSubscriber> out;
    for (auto it = d.subscribers.upper_bound(after_id);
         it != d.subscribers.end() && static_cast<int>(out.size()) < limit; ++it) {
      auto sum = summary_of(d, it->second);
      ExportedSubscriber e{sum.subscriber, sum.topics, {}};
      for (auto kind : {ChannelKind::kEmail, ChannelKind::kSms}) {
        for (const auto& c : sum.channels) {
          if (c.kind != kind) continue;
          ExportedChannel ec{c, {}};
          for (const auto& row : d.consent_log) {
            if (row.event.channel_id != c.channel_id) continue;
            add_evidence(ec.evidence, to_string(row.event.action), row.event.at,
                         to_string(row.event.source), row.event.context.ip, row.text_version);
          }
          e.channels.push_back(std::move(ec));
        }
      }
      out.push_back(std::move(e));
    }
    return out;
  }
  std::vector<ChannelCount> channel_counts() override {
    std::lock_guard lk(m_.mu_);
    std::map<std::pair<ChannelKind, ConsentState>, std::int64_t> n;
    for (const auto& [id, c] : m_.data_->channels) ++n[{c.kind, c.state}];
    std::vector<ChannelCount> out;
    for (const auto& [k, count] : n) out.push_back(ChannelCount{k.first, k.second, count});
    return out;
  }
  SubscriberStats stats(std::int64_t now) override {
    SubscriberStats s;
    s.channels = channel_counts();
    std::lock_guard lk(m_.mu_);
    const Data& d = *m_.data_;
    s.subscribers = static_cast<std::int64_t>(d.subscribers.size());
    std::map<std::string, std::int64_t> topics;
    for (const auto& [sid, t] : d.topics)
      for (const auto& name : t) ++topics[name];
    s.topics.assign(topics.begin(), topics.end());
    const auto first = stats_first_day(now);
    s.days.resize(kStatsDays);
    for (int i = 0; i < kStatsDays; ++i)
      s.days[static_cast<std::size_t>(i)].start = first + i * std::int64_t{86400};
    auto day = [&](std::int64_t at) -> SubscriberStats::Day* {
      const auto i = at < first ? -1 : (at - first) / 86400;
      return i >= 0 && i < kStatsDays ? &s.days[static_cast<std::size_t>(i)] : nullptr;
    };
    for (const auto& [id, sub] : d.subscribers)
      if (auto* x = day(sub.created_at)) ++x->signups;
    for (const auto& row : d.consent_log) {
      auto* x = day(row.event.at);
      if (x == nullptr) continue;
      if (row.event.action == ConsentAction::kConfirm) ++x->confirmations;
      if (row.event.action == ConsentAction::kWithdraw) ++x->unsubscribes;
    }
    return s;
  }
  std::vector<ConsentLogView> unknown_number_log(const std::string& address) override {
    std::lock_guard lk(m_.mu_);
    std::vector<ConsentLogView> out;
    for (const auto& row : m_.data_->consent_log) {
      if (row.event.subscriber_id == 0 && row.event.channel == ChannelKind::kSms &&
          row.event.address == address)
        out.push_back(view_of(row));
    }
    return out;
  }
  std::vector<StoredInboundText> inbound_for_review(int limit, std::int64_t before) override {
    std::lock_guard lk(m_.mu_);
    std::vector<StoredInboundText> out;
    const auto& in = m_.data_->inbound;
    for (auto it = in.rbegin(); it != in.rend() && static_cast<int>(out.size()) < limit; ++it) {
      if ((before <= 0 || it->first < before) && it->second.keyword == "none")
        out.push_back(it->second);
    }
    return out;
  }
  bool healthy() override { return true; }

  // AdminStore
  std::optional<AdminIdentity> identify(std::string_view key) override {
    std::lock_guard lk(m_.mu_);
    if (key.empty()) return std::nullopt;
    for (const auto& k : m_.data_->keys) {
      if (k.secret == key && k.key.revoked_at == 0) return AdminIdentity{k.key.name, k.key.scope};
    }
    return std::nullopt;
  }
  void append_audit(const AuditEntry& e) override {
    m_.transact([&](Stores& s) { s.append(e); }, true);
  }
  AuditPage audit_page(std::int64_t before, int limit) override {
    std::lock_guard lk(m_.mu_);
    AuditPage page;
    const auto& log = m_.data_->audit;
    for (auto it = log.rbegin(); it != log.rend(); ++it) {
      if (before > 0 && it->id >= before) continue;
      if (static_cast<int>(page.entries.size()) == limit) {
        page.next = page.entries.back().id;
        break;
      }
      page.entries.push_back(*it);
    }
    return page;
  }

  class Broadcasts final : public BroadcastTransactions, public BroadcastReads {
   public:
    explicit Broadcasts(MemoryStorage& m) : m_(m) {}
    void run(const std::function<void(const BroadcastTransaction&)>& fn) override {
      m_.transact([&](Stores& s) { fn(BroadcastTransaction{s, s, s}); }, true);
    }
    void run_background(
        const std::function<void(BroadcastDrafts&, BroadcastLedger&)>& fn) override {
      m_.transact([&](Stores& s) { fn(s, s); }, false);
    }
    std::optional<Broadcast> get(std::int64_t id) override {
      std::lock_guard lk(m_.mu_);
      auto it = m_.data_->broadcasts.find(id);
      if (it == m_.data_->broadcasts.end()) return std::nullopt;
      return it->second;
    }
    std::vector<Broadcast> list(int limit, std::int64_t before) override {
      std::lock_guard lk(m_.mu_);
      std::vector<Broadcast> out;
      const auto& all = m_.data_->broadcasts;
      for (auto it = all.rbegin(); it != all.rend() && static_cast<int>(out.size()) < limit; ++it)
        if (before <= 0 || it->first < before) out.push_back(it->second);
      return out;
    }
    static bool held(const OutboxRow& r, std::int64_t now) {
      return r.state == "queued" && !r.wait_reason.empty() && r.next_attempt_at > now;
    }
    BroadcastCounts counts(std::int64_t id, std::int64_t now) override {
      std::lock_guard lk(m_.mu_);
      BroadcastCounts c;
      for (const auto& [oid, r] : m_.data_->outbox) {
        if (id == 0 || r.broadcast_id != id) continue;
        ++c.total;
        const auto& s = r.state;
        c.queued += s == "queued";
        c.sending += s == "sending";
        c.sent += s == "sent";
        c.failed += s == "failed";
        c.skipped += s == "skipped";
        c.unknown += s == "unknown";
        if (s == "sent" && !r.delivery_state.empty()) {
          const auto& ds = r.delivery_state;
          if (ds == "delivered") ++c.delivered;
          if (ds == "undelivered" || ds == "failed" || ds == "bounced" || ds == "blocked" ||
              ds == "dropped")
            ++c.undelivered;
        }
        if (held(r, now)) {
          ++c.waiting;
          if (c.waiting_until == 0 || r.next_attempt_at < c.waiting_until)
            c.waiting_until = r.next_attempt_at;
        }
      }
      return c;
    }
    std::vector<BroadcastRecipient> recipients(std::int64_t id, const std::string& state, int limit,
                                               std::int64_t after, std::int64_t now) override {
      static const std::set<std::string> kFilters = {"",       "queued",  "sending", "sent",
                                                     "failed", "skipped", "unknown", "waiting"};
      if (!kFilters.contains(state)) return {};
      std::lock_guard lk(m_.mu_);
      std::vector<BroadcastRecipient> out;
      for (const auto& [oid, r] : m_.data_->outbox) {
        if (static_cast<int>(out.size()) >= limit) break;
        if (id == 0 || r.broadcast_id != id || oid <= after) continue;
        const std::string shown = held(r, now) ? "waiting" : r.state;
        if (!state.empty() && shown != state) continue;
        BroadcastRecipient p;
        p.outbox_id = oid;
        p.channel_id = r.channel_id;
        if (auto c = m_.data_->channels.find(r.channel_id); c != m_.data_->channels.end())
          p.address = c->second.address;
        p.state = shown;
        p.attempts = r.attempts;
        p.provider = r.provider;
        p.provider_message_id = r.provider_message_id;
        p.code = r.last_code;
        p.error = r.last_error;
        p.delivery_state = r.delivery_state;
        p.finished_at = r.finished_at;
        p.waiting_until = shown == "waiting" ? r.next_attempt_at : 0;
        out.push_back(std::move(p));
      }
      return out;
    }

   private:
    MemoryStorage& m_;
  };

  class Imports final : public ImportTransactions, public ImportReads {
   public:
    explicit Imports(MemoryStorage& m) : m_(m) {}
    void run(const std::function<void(const ImportTransaction&)>& fn) override {
      in_transaction(fn, true);
    }
    void run_background(const std::function<void(const ImportTransaction&)>& fn) override {
      in_transaction(fn, false);
    }
    std::optional<ImportJob> get(std::int64_t id) override {
      std::lock_guard lk(m_.mu_);
      auto it = m_.data_->imports.find(id);
      if (it == m_.data_->imports.end()) return std::nullopt;
      return it->second.job;
    }
    std::optional<ImportPart> part(std::int64_t id, std::int64_t seq) override {
      std::lock_guard lk(m_.mu_);
      auto it = m_.data_->imports.find(id);
      if (it == m_.data_->imports.end()) return std::nullopt;
      auto p = it->second.parts.find(seq);
      if (p == it->second.parts.end()) return std::nullopt;
      return p->second;
    }
    std::vector<ImportRowVerdict> rows(std::int64_t id, std::int64_t after, int limit) override {
      std::lock_guard lk(m_.mu_);
      std::vector<ImportRowVerdict> out;
      auto it = m_.data_->imports.find(id);
      if (it == m_.data_->imports.end()) return out;
      const auto& kept = it->second.rows;
      for (auto r = kept.upper_bound(after);
           r != kept.end() && static_cast<int>(out.size()) < limit; ++r)
        out.push_back(r->second);
      return out;
    }

   private:
    void in_transaction(const std::function<void(const ImportTransaction&)>& fn, bool request) {
      m_.transact(
          [&](Stores& s) {
            const Transaction tx{s, s, s, s, s, s, s, s, s, s};
            MemoryImportStore imports(s.d, s.clock, s.me, s.my_name);
            fn(ImportTransaction{tx, imports});
          },
          request);
    }
    MemoryStorage& m_;
  };

  std::atomic<std::uint64_t> request_jobs_{0};
  MemoryStorage& m_;
  Broadcasts broadcasts_;
  Imports imports_{m_};
};

// The rate grants, as the SQL upsert (schema/queries/*/rate_grants.sql)
// keeps them: one row per provider, the slot of the clock it last granted from.
class MemoryStorage::Grants final : public RateGrants {
 public:
  explicit Grants(MemoryStorage& m) : m_(m) {}
  RateGrant grant(const std::string& provider, int rate_per_second, int want) override {
    if (rate_per_second <= 0 || want <= 0) return {};
    std::lock_guard lk(m_.mu_);
    const auto ms = m_.clock_.now_ms();
    const auto slot = ms / kRateSlotMs;
    const int budget =
        rate_slot_budget(rate_per_second, static_cast<int>(slot % kRateSlotsPerSecond));
    auto& row = m_.data_->rate_grants[provider];
    RateGrant g;
    g.valid_ms = kRateSlotMs - ms % kRateSlotMs;
    g.slot = slot;
    if (row.slot > slot) return g;  // a newer slot is granting: nothing from this one
    if (row.slot < slot) row = {slot, 0};
    g.tokens = std::clamp(budget - row.granted, 0, want);
    row.granted += g.tokens;
    return g;
  }

 private:
  MemoryStorage& m_;
};

namespace {
std::string next_memory_instance_id() {
  static std::atomic<int> n{0};
  return "memory-instance-" + std::to_string(++n);
}
}  // namespace

MemoryStorage::MemoryStorage(const Clock& clock, std::string instance_name)
    : clock_(clock),
      mu_owner_(std::make_shared<std::recursive_mutex>()),
      mu_(*mu_owner_),
      data_(std::make_shared<Data>()),
      ports_(std::make_unique<Ports>(*this)),
      grants_(std::make_unique<Grants>(*this)) {
  instance_.first = next_memory_instance_id();
  instance_.second = instance_name.empty() ? instance_.first : std::move(instance_name);
}

MemoryStorage::MemoryStorage(MemoryStorage& same_database, const Clock& clock,
                             std::string instance_name)
    : clock_(clock),
      mu_owner_(same_database.mu_owner_),
      mu_(*mu_owner_),
      data_(same_database.data_),
      ports_(std::make_unique<Ports>(*this)),
      grants_(std::make_unique<Grants>(*this)) {
  instance_.first = next_memory_instance_id();
  instance_.second = instance_name.empty() ? instance_.first : std::move(instance_name);
}

MemoryStorage::~MemoryStorage() = default;

UnitOfWork& MemoryStorage::unit_of_work() { return *ports_; }
OutboxTransactions& MemoryStorage::outbox() { return *ports_; }
BroadcastTransactions& MemoryStorage::broadcast_transactions() { return ports_->broadcasts_; }
BroadcastReads& MemoryStorage::broadcast_reads() { return ports_->broadcasts_; }
ImportTransactions& MemoryStorage::import_transactions() { return ports_->imports_; }
ImportReads& MemoryStorage::import_reads() { return ports_->imports_; }
ReadStore& MemoryStorage::reads() { return *ports_; }
SubscriberReads& MemoryStorage::subscriber_reads() { return *ports_; }
AdminStore& MemoryStorage::admin() { return *ports_; }
RateGrants& MemoryStorage::rate_grants() { return *grants_; }

void MemoryStorage::transact(const std::function<void(Stores&)>& fn, bool request) {
  std::lock_guard lk(mu_);
  if (request) ports_->request_jobs_.fetch_add(1);
  Data saved = *data_;
  try {
    Stores s(*data_, clock_, instance_);
    fn(s);
  } catch (...) {
    *data_ = std::move(saved);
    throw;
  }
}

void MemoryStorage::set_request_jobs(std::uint64_t n) { ports_->request_jobs_.store(n); }

void MemoryStorage::register_consent_text(const ConsentText& text) {
  std::lock_guard lk(mu_);
  data_->consent_texts.insert(text.sha256_hex);
}

MemoryStorage::KeyChange MemoryStorage::create_admin_key(const std::string& name, Scope scope,
                                                         const std::string& key,
                                                         const std::string& by, std::int64_t now) {
  KeyChange out = KeyChange::kDone;
  transact(
      [&](Stores& s) {
        for (const auto& k : s.d.keys) {
          if (k.key.name == name) {
            out = KeyChange::kNameTaken;
            return;
          }
        }
        AdminKey k;
        k.name = name;
        k.scope = scope;
        k.prefix = key.substr(0, 11);
        k.created_at = now;
        s.d.keys.push_back({k, key});
        s.append(AuditEntry{0, now, by, "key.create", name, "",
                            std::string("scope ") + to_string(scope)});
      },
      false);
  return out;
}

MemoryStorage::KeyChange MemoryStorage::revoke_admin_key(const std::string& name,
                                                         const std::string& by, std::int64_t now) {
  KeyChange out = KeyChange::kUnknownName;
  transact(
      [&](Stores& s) {
        for (auto& k : s.d.keys) {
          if (k.key.name != name) continue;
          if (k.key.revoked_at != 0) {
            out = KeyChange::kAlreadyRevoked;
            return;
          }
          k.key.revoked_at = now;
          s.append(AuditEntry{0, now, by, "key.revoke", name, "", ""});
          out = KeyChange::kDone;
          return;
        }
      },
      false);
  return out;
}

std::vector<AdminKey> MemoryStorage::admin_keys() {
  std::lock_guard lk(mu_);
  std::vector<AdminKey> out;
  for (const auto& k : data_->keys) out.push_back(k.key);
  return out;
}

std::optional<MemoryStorage::OutboxRow> MemoryStorage::outbox_row(std::int64_t id) {
  std::lock_guard lk(mu_);
  auto it = data_->outbox.find(id);
  if (it == data_->outbox.end()) return std::nullopt;
  return it->second;
}

std::size_t MemoryStorage::outbox_count(const std::string& state) {
  std::lock_guard lk(mu_);
  return static_cast<std::size_t>(
      std::count_if(data_->outbox.begin(), data_->outbox.end(),
                    [&](const auto& kv) { return kv.second.state == state; }));
}

std::size_t MemoryStorage::consent_log_size() {
  std::lock_guard lk(mu_);
  return data_->consent_log.size();
}

std::size_t MemoryStorage::audit_log_size() {
  std::lock_guard lk(mu_);
  return data_->audit.size();
}

}  // namespace sc::unit
