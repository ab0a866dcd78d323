// Internal to storage: the ports over one writer connection, running named
// queries through its Statements (sql.h).
#pragma once
#include <string>
#include <utility>

#include "sc/core/ports/stores.h"
#include "sc/core/rate_grants.h"
#include "sc/storage/storage.h"
#include "sql.h"

namespace sc::storage::detail {

// Who this writer's leases belong to (WriteQueue::instance_id, _name).
struct Instance {
  std::string id;
  std::string name;
};

// The columns of subscribers.by_id, in their order.
Subscriber read_subscriber(const Row& r);
ConsentLogView read_log_row(const Row& r);    // reads.*_log
ChannelView read_channel_view(const Row& r);  // reads.channels_of_subscriber
// The columns of inbound.by_id and reads.inbound_for_review, in their order.
StoredInboundText read_inbound_text(const Row& r);

// The stores of the request path over the writer's connection: one object
// serves every narrow port of a Transaction (sc/core/ports/stores.h).
class SqliteConsentStore final : public SubscriberStore,
                                 public TopicStore,
                                 public ConsentLog,
                                 public MessageQueue,
                                 public InboundTextStore,
                                 public DeliveryStore,
                                 public SmsConfirmLedger,
                                 public SuppressionList,
                                 public ErasureStore {
 public:
  // `outbox_changed` is set when a job queued messages; `erased` when one
  // erased someone (WriteQueue then drops old row versions: driver.h).
  SqliteConsentStore(Statements& st, bool& outbox_changed, bool& erased)
      : st_(st), outbox_changed_(outbox_changed), erased_(erased) {}
  std::optional<Channel> find_channel(ChannelKind kind, std::string_view address) override;
  std::optional<Channel> channel_by_id(std::int64_t id) override;
  std::optional<Subscriber> subscriber_by_id(std::int64_t id) override;
  std::int64_t insert_subscriber(const Subscriber& s) override;
  std::int64_t insert_channel(const Channel& c) override;
  void update_channel_state(std::int64_t channel_id, ConsentState state, std::int64_t at) override;
  void mark_confirm_sent(std::int64_t channel_id, std::int64_t at) override;
  std::vector<Channel> channels_of(std::int64_t subscriber_id) override;
  void update_profile(std::int64_t subscriber_id, std::string_view first_name,
                      std::string_view postal_code) override;
  void replace_topics(std::int64_t subscriber_id, const std::vector<std::string>& topics) override;
  void add_topics(std::int64_t subscriber_id, const std::vector<std::string>& topics) override;
  std::vector<std::string> topics_of(std::int64_t subscriber_id) override;
  void request_topics(std::int64_t channel_id, const std::vector<std::string>& topics,
                      std::int64_t at) override;
  std::vector<std::string> take_topic_requests(std::int64_t channel_id,
                                               std::int64_t requested_until) override;
  std::vector<std::string> topic_requests_of(std::int64_t channel_id) override;
  void append_consent(const ConsentEvent& e, const ConsentText* text) override;
  void store_consent_text(ChannelKind channel, const ConsentText& text, std::int64_t at) override;
  std::int64_t enqueue_email(const OutboxEntry& entry, const OutboundEmail& email) override;
  std::int64_t enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) override;
  bool inbound_text_seen(std::string_view message_sid) override;
  std::int64_t insert_inbound_text(const StoredInboundText& t) override;
  std::optional<StoredInboundText> inbound_text_by_id(std::int64_t id) override;
  void mark_inbound_text_reviewed(std::int64_t id, std::string_view by, std::string_view action,
                                  std::int64_t at) override;
  std::optional<SentMessageRef> sent_message(std::string_view provider,
                                             std::string_view provider_message_id) override;
  void set_delivery(std::int64_t outbox_id, std::string_view state, std::string_view code,
                    std::int64_t at) override;
  std::int64_t count_sms_confirms(SmsLimit scope, std::string_view key,
                                  std::int64_t since) override;
  void record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                          std::int64_t forget_before) override;
  std::optional<OutboxDelivery> email_delivery(std::int64_t outbox_id) override;
  std::optional<OutboxDelivery> email_delivery_by_provider_id(
      std::string_view provider_message_id) override;
  bool first_provider_event(std::string_view provider, std::string_view event_id,
                            std::int64_t at) override;
  void suppress(ChannelKind kind, std::string_view key, std::string_view reason,
                std::int64_t at) override;
  bool is_suppressed(ChannelKind kind, std::string_view key) override;
  std::vector<std::int64_t> erase_channel(const Channel& ch, std::string_view pseudonym,
                                          std::int64_t at) override;
  void erase_subscriber(std::int64_t subscriber_id) override;

 private:
  std::int64_t enqueue(const OutboxEntry& entry, const std::string& payload);
  Statements& st_;
  bool& outbox_changed_;
  bool& erased_;
};

class SqliteOutboxStore final : public OutboxStore {
 public:
  SqliteOutboxStore(Statements& st, const Instance& me) : st_(st), me_(me) {}
  std::vector<LeasedMessage> lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                       std::int64_t now, std::int64_t lease_until,
                                       LeaseState state) override;
  void skip(const std::vector<std::int64_t>& ids, std::int64_t now) override;
  std::vector<std::int64_t> mark_sent_many(const std::vector<Sent>& sent,
                                           std::int64_t now) override;
  bool finish(std::int64_t id, Finish how, const std::string& provider, const SendResult& r,
              std::int64_t now) override;
  bool mark_retry(std::int64_t id, const SendResult& r, std::int64_t next_attempt_at) override;
  std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                             std::int64_t lease_until) override;
  bool requeue(std::int64_t id, std::int64_t due, const std::string& wait_reason) override;
  void pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                       std::int64_t now) override;
  int release_expired(std::int64_t now) override;
  int release_own(std::int64_t now) override;

 private:
  Statements& st_;
  const Instance& me_;
};

// Both write-side broadcast ports over one connection.
class SqliteBroadcastStore final : public BroadcastDrafts, public BroadcastLedger {
 public:
  SqliteBroadcastStore(Statements& st, bool& outbox_changed, const Instance& me)
      : st_(st), outbox_changed_(outbox_changed), me_(me) {}
  // BroadcastDrafts
  std::int64_t insert(const Broadcast& b) override;
  std::optional<Broadcast> find(std::int64_t id) override;
  std::optional<Broadcast> find_by_idempotency_key(const std::string& key_name,
                                                   const std::string& key) override;
  void update_content(const Broadcast& b) override;
  void set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                  std::int64_t now) override;
  std::vector<std::string> unknown_topics(const std::vector<std::string>& topics) override;
  std::vector<Broadcast> active() override;
  std::optional<std::int64_t> take_run_lease(std::int64_t id, std::int64_t now,
                                             std::int64_t until) override;
  // BroadcastLedger
  bool has_audience(const Broadcast& b) override;
  int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) override;
  SnapshotAhead snapshot_ahead(const Broadcast& b, int max_rows, int after_chunks,
                               std::int64_t now) override;
  int skip_queued(std::int64_t id, int max_rows, std::int64_t now) override;
  bool has_unfinished(std::int64_t id) override;
  int requeue(std::int64_t id, const std::string& state, std::int64_t now) override;

 private:
  // The max_rows-th qualifying channel after `after`, and how many there are.
  std::pair<std::int64_t, int> snapshot_end(const Broadcast& b, std::int64_t after, int max_rows);
  // Queues the qualifying channels in (after, last]; returns the rows added.
  int snapshot_range(const Broadcast& b, std::int64_t after, std::int64_t last, std::int64_t now);
  Statements& st_;
  bool& outbox_changed_;
  const Instance& me_;
};

// The rate grants over the writer's connection: one upsert per grant.
// Imports (sc/core/import.h; src/storage/import_store.cpp).
class SqlImportStore final : public ImportStore {
 public:
  SqlImportStore(Statements& st, const Instance& me) : st_(st), me_(me) {}
  std::int64_t create(const ImportJob& job, std::int64_t lease_ms) override;
  void add_part(std::int64_t id, const ImportPart& part) override;
  bool renew(std::int64_t id, std::int64_t lease_ms) override;
  bool start(std::int64_t id, std::int64_t parts) override;
  void drop(std::int64_t id) override;
  std::vector<std::int64_t> stale_uploads() override;
  void release_own(std::int64_t now) override;
  std::optional<ImportJob> claim(std::int64_t lease_ms) override;
  std::optional<ImportJob> job(std::int64_t id) override;
  bool progress(std::int64_t id, std::int64_t seq, const ImportCounts& counts,
                std::int64_t confirms_email, std::int64_t confirms_sms,
                std::int64_t lease_ms) override;
  void add_rows(std::int64_t id, const std::vector<ImportRowVerdict>& rows) override;
  bool finish(std::int64_t id, ImportStatus status, std::int64_t at,
              std::string_view error) override;

 private:
  Statements& st_;
  const Instance& me_;
};

class SqlRateGrants final : public RateGrants {
 public:
  explicit SqlRateGrants(Statements& st) : st_(st) {}
  RateGrant grant(const std::string& provider, int rate_per_second, int want) override;

 private:
  Statements& st_;
};

}  // namespace sc::storage::detail
