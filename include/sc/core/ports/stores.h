// The stores a write transaction sees, one port per concern, and the
// Transaction that hands them to core. Storage implements them inside one
// transaction that it opens and commits (or rolls back) around a call
// (UnitOfWork, sc/core/ports/unit_of_work.h); each consumer takes only the stores
// it uses.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/message.h"
#include "sc/core/model.h"
#include "sc/core/sms_limits.h"

namespace sc {

// People and their channels (an email address or a mobile number each).
class SubscriberStore {
 public:
  virtual ~SubscriberStore() = default;
  // Addresses match without regard to case; the stored spelling is kept.
  virtual std::optional<Channel> find_channel(ChannelKind kind, std::string_view address) = 0;
  virtual std::optional<Channel> channel_by_id(std::int64_t id) = 0;
  virtual std::optional<Subscriber> subscriber_by_id(std::int64_t id) = 0;
  virtual std::int64_t insert_subscriber(const Subscriber& s) = 0;
  // Throws for an address the kind already has (in any case).
  virtual std::int64_t insert_channel(const Channel& c) = 0;
  // Every change of state bumps the channel's state_version.
  virtual void update_channel_state(std::int64_t channel_id, ConsentState state,
                                    std::int64_t at) = 0;
  virtual void mark_confirm_sent(std::int64_t channel_id, std::int64_t at) = 0;
  // The subscriber's channels, email before sms; none for an unknown id.
  virtual std::vector<Channel> channels_of(std::int64_t subscriber_id) = 0;
  // An operator's change of the profile; nothing for an unknown id.
  virtual void update_profile(std::int64_t subscriber_id, std::string_view first_name,
                              std::string_view postal_code) = 0;
};

// The topics a subscriber follows, and those asked for on a channel and held
// until its owner confirms through it.
class TopicStore {
 public:
  virtual ~TopicStore() = default;
  virtual void add_topics(std::int64_t subscriber_id, const std::vector<std::string>& topics) = 0;
  virtual std::vector<std::string> topics_of(std::int64_t subscriber_id) = 0;
  // Afterwards the subscriber follows exactly `topics` (an operator's change).
  virtual void replace_topics(std::int64_t subscriber_id,
                              const std::vector<std::string>& topics) = 0;
  virtual void request_topics(std::int64_t channel_id, const std::vector<std::string>& topics,
                              std::int64_t at) = 0;
  // Returns and forgets the topics held on a channel that were asked for
  // no later than `requested_until` (a link approves only what came before it).
  virtual std::vector<std::string> take_topic_requests(std::int64_t channel_id,
                                                       std::int64_t requested_until) = 0;
  // The topics held on a channel, sorted.
  virtual std::vector<std::string> topic_requests_of(std::int64_t channel_id) = 0;
};

// The append-only consent log: the proof of every grant and withdrawal.
class ConsentLog {
 public:
  virtual ~ConsentLog() = default;
  // `text`: the consent wording shown (stored once under its hash, see
  // store_consent_text), or null.
  virtual void append_consent(const ConsentEvent& e, const ConsentText* text) = 0;
  // Stores a wording under its hash once (a repeat changes nothing); the
  // service's own are stored at start, an import's as it cites them.
  virtual void store_consent_text(ChannelKind channel, const ConsentText& text,
                                  std::int64_t at) = 0;
};

// The outbox as the consent flows fill it: a message is queued in the same
// transaction as the state change that causes it.
class MessageQueue {
 public:
  virtual ~MessageQueue() = default;
  virtual std::int64_t enqueue_email(const OutboxEntry& entry, const OutboundEmail& email) = 0;
  virtual std::int64_t enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) = 0;
};

// Inbound texts, by MessageSid (replay protection and the review list).
class InboundTextStore {
 public:
  virtual ~InboundTextStore() = default;
  virtual bool inbound_text_seen(std::string_view message_sid) = 0;
  virtual std::int64_t insert_inbound_text(const StoredInboundText& t) = 0;
  virtual std::optional<StoredInboundText> inbound_text_by_id(std::int64_t id) = 0;
  virtual void mark_inbound_text_reviewed(std::int64_t id, std::string_view by,
                                          std::string_view action, std::int64_t at) = 0;
};

// A sent outbox row, as email events need it.
struct OutboxDelivery {
  std::int64_t id = 0;
  std::int64_t channel_id = 0;
  std::int64_t broadcast_id = 0;
  std::string delivery_state;  // empty: nothing reported yet
  std::int64_t delivery_at = 0;
};

// What providers report about sent messages (Twilio's status callbacks,
// SendGrid's events): the row a provider's id names, its delivery state, and
// the provider events already applied.
class DeliveryStore {
 public:
  virtual ~DeliveryStore() = default;
  virtual std::optional<SentMessageRef> sent_message(std::string_view provider,
                                                     std::string_view provider_message_id) = 0;
  virtual std::optional<OutboxDelivery> email_delivery(std::int64_t outbox_id) = 0;
  virtual std::optional<OutboxDelivery> email_delivery_by_provider_id(
      std::string_view provider_message_id) = 0;
  virtual void set_delivery(std::int64_t outbox_id, std::string_view state, std::string_view code,
                            std::int64_t at) = 0;
  // Remembers a provider's event id; false when it was seen before.
  virtual bool first_provider_event(std::string_view provider, std::string_view event_id,
                                    std::int64_t at) = 0;
};

// The confirmation texts queued, by key, for the pumping limits (sms_limits.h).
class SmsConfirmLedger {
 public:
  virtual ~SmsConfirmLedger() = default;
  // Confirmation texts queued after `since` under `scope`'s key (kDaily: all
  // of them, the key is ignored).
  virtual std::int64_t count_sms_confirms(SmsLimit scope, std::string_view key,
                                          std::int64_t since) = 0;
  // Counts one confirmation text queued at `at` under its keys, and forgets
  // those queued before `forget_before` (past every window).
  virtual void record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                                  std::int64_t forget_before) = 0;
};

// The suppression list: keyed hashes (sc/core/erasure.h) of the addresses
// and numbers of erased people, which an import or an operator may never
// add again.
class SuppressionList {
 public:
  virtual ~SuppressionList() = default;
  // A repeat keeps the first entry.
  virtual void suppress(ChannelKind kind, std::string_view key, std::string_view reason,
                        std::int64_t at) = 0;
  virtual bool is_suppressed(ChannelKind kind, std::string_view key) = 0;
};

// Erasure: what names a person goes from every table; what proves their
// consent and opt-outs stays under a pseudonym.
class ErasureStore {
 public:
  virtual ~ErasureStore() = default;
  // Erases one channel's address everywhere: the channel and the topics
  // held on it, its messages' bodies and errors (one not sent yet is
  // skipped), the texting limits' rows of its number, the inbound texts from
  // it (number and body), and in the consent-log rows and audit entries that
  // name it the address (replaced by `pseudonym`), IPs, User-Agents, texts
  // received and any detail that holds it. Returns its messages' ids.
  virtual std::vector<std::int64_t> erase_channel(const Channel& ch, std::string_view pseudonym,
                                                  std::int64_t at) = 0;
  // Removes the subscriber's row and topics (once its channels are erased).
  virtual void erase_subscriber(std::int64_t subscriber_id) = 0;
};

// What changing a channel's consent writes: its state and the log row, together.
struct ConsentWrites {
  SubscriberStore& subscribers;
  ConsentLog& log;
};

// Every store of one write transaction (UnitOfWork::run). Copied by value
// into narrower views; the stores live as long as the transaction.
struct Transaction {
  SubscriberStore& subscribers;
  TopicStore& topics;
  ConsentLog& consent_log;
  MessageQueue& messages;
  InboundTextStore& inbound_texts;
  DeliveryStore& deliveries;
  SmsConfirmLedger& sms_confirms;
  AuditLog& audit;
  SuppressionList& suppressions;
  ErasureStore& erasure;

  ConsentWrites consent() const { return {subscribers, consent_log}; }
};

}  // namespace sc
