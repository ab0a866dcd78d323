// In-memory fakes of the core ports for unit tests: a keyed signer, a
// settable clock, counting Message-ID source, a recording composer and an
// in-memory ConsentStore.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/core/email_events.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/stores.h"

namespace sc::unit {

// Deterministic 32-byte keyed MAC (not cryptographic; a different key gives
// a different MAC, and any change to the data changes it).
class FakeSigner final : public Signer {
 public:
  explicit FakeSigner(std::string key) : key_(std::move(key)) {}
  std::string sign(std::string_view data) const override;
  bool verify(std::string_view data, std::string_view mac) const override;

 private:
  std::string key_;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t now = 1'700'000'000) : now_ms_(now * 1000) {}
  std::int64_t now_unix() const override { return now_ms_.load() / 1000; }
  std::int64_t now_ms() const override { return now_ms_.load(); }
  void set(std::int64_t t) { now_ms_.store(t * 1000); }
  void advance(std::int64_t s) { now_ms_.fetch_add(s * 1000); }
  void advance_ms(std::int64_t ms) { now_ms_.fetch_add(ms); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

class CountingIds final : public IdSource {
 public:
  std::string next_id() override { return "id" + std::to_string(++n_); }

 private:
  int n_ = 0;
};

// Returns content that names the template and every variable, and records
// each call, so tests can see what the service asked to be rendered.
class RecordingComposer final : public Composer {
 public:
  struct Call {
    std::string name;
    std::map<std::string, std::string> vars;
  };
  ComposedEmail email(std::string_view name,
                      const std::map<std::string, std::string>& vars) const override;
  std::string sms(std::string_view name,
                  const std::map<std::string, std::string>& vars) const override;
  // Broadcast templates: {{name}} is replaced by its value (HTML-escaped
  // when html), nothing else is read; "{{" without "}}" does not parse.
  std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view source,
                                                       bool html) const override;
  std::string inline_error(std::string_view source) const override;
  mutable std::vector<Call> email_calls, sms_calls;
};

// Holds everything the stores of a Transaction write; tests inspect the
// members and pass tx() where core takes a Transaction.
class MemoryConsentStore final : public SubscriberStore,
                                 public TopicStore,
                                 public ConsentLog,
                                 public MessageQueue,
                                 public InboundTextStore,
                                 public DeliveryStore,
                                 public SmsConfirmLedger,
                                 public AuditLog,
                                 public SuppressionList,
                                 public ErasureStore {
 public:
  struct QueuedEmail {
    std::int64_t id;
    OutboxEntry entry;
    OutboundEmail email;
  };
  struct QueuedSms {
    std::int64_t id;
    OutboxEntry entry;
    OutboundSms sms;
  };

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
  void store_consent_text(ChannelKind, const ConsentText& text, std::int64_t) override {
    ++writes_;
    stored_texts.push_back(text);
  }
  std::vector<ConsentText> stored_texts;
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
  void append(const AuditEntry& e) override { audit.push_back(e); }
  void suppress(ChannelKind kind, std::string_view key, std::string_view reason,
                std::int64_t at) override;
  bool is_suppressed(ChannelKind kind, std::string_view key) override;
  std::vector<std::int64_t> erase_channel(const Channel& ch, std::string_view pseudonym,
                                          std::int64_t at) override;
  void erase_subscriber(std::int64_t subscriber_id) override;

  // Every store of one transaction, all of them this one.
  Transaction tx() {
    return {*this, *this, *this, *this, *this, *this, *this, *this, *this, *this};
  }
  ConsentWrites consent() { return {*this, *this}; }

  // Test conveniences.
  Channel& channel(ChannelKind kind, std::string_view address);
  std::size_t writes() const { return writes_; }  // every mutating call

  std::map<std::int64_t, Subscriber> subscribers;
  std::map<std::int64_t, Channel> channels;
  std::map<std::int64_t, std::set<std::string>> topics;
  std::map<std::int64_t, std::map<std::string, std::int64_t>>
      topic_requests;  // channel -> topic -> asked at
  std::vector<ConsentEvent> events;
  std::vector<std::optional<ConsentText>> event_texts;  // parallel to events
  std::vector<QueuedEmail> emails;
  std::vector<QueuedSms> texts;
  std::map<std::int64_t, StoredInboundText> inbound;  // by id
  // Sent messages as delivery reports find them: (provider, provider id) -> row.
  struct SentRow {
    SentMessageRef ref;
    std::string delivery_code;
    std::int64_t delivery_at = 0;
  };
  std::map<std::pair<std::string, std::string>, SentRow> sent;
  struct SmsConfirm {
    SmsConfirmKeys keys;
    std::int64_t at;
  };
  std::vector<SmsConfirm> sms_confirms;  // the pumping limits' counts
  // Sent emails by outbox id (queued ones count as sent here once a test
  // gives them a provider id), and what was reported about them.
  std::map<std::int64_t, std::string> provider_ids;  // outbox id -> X-Message-Id
  std::map<std::int64_t, OutboxDelivery> delivery;   // outbox id -> latest report
  std::map<std::int64_t, std::string> delivery_codes;
  std::set<std::string> provider_events;  // "provider/event id"
  std::vector<AuditEntry> audit;
  std::set<std::pair<ChannelKind, std::string>> suppressions;  // (kind, key)

 private:
  std::int64_t next_id_ = 1;
  std::size_t writes_ = 0;
};

// A keyword texted from `from` with MessageSid `sid`, as the inbound-text
// webhook hands it to the service.
SmsKeywordOutcome text_keyword(ConsentService& svc, MemoryConsentStore& store,
                               std::string_view from, SmsKeyword keyword, std::string_view sid,
                               const RequestContext& ctx, std::int64_t now);

}  // namespace sc::unit
