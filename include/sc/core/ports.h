// Ports: the interfaces core declares and the outer modules implement.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/message.h"
#include "sc/core/model.h"
#include "sc/core/result.h"
#include "sc/core/sms_limits.h"

namespace sc {

class DeliveryStore;  // sc/core/email_events.h

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_unix() const = 0;  // seconds since epoch, UTC
  // Milliseconds since epoch, for rates and deadlines finer than a second.
  virtual std::int64_t now_ms() const { return now_unix() * 1000; }
};

// A keyed MAC (HMAC-SHA256 in production). verify is constant-time.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual std::string sign(std::string_view data) const = 0;
  virtual bool verify(std::string_view data, std::string_view mac) const = 0;
};

// Parses a phone number as a person typed it into E.164 (libphonenumber).
class PhoneNormalizer {
 public:
  virtual ~PhoneNormalizer() = default;
  // Fails with field "phone" for numbers that are invalid, not mobile-capable
  // or in a country the deployment does not text.
  virtual Result<std::string> normalize(std::string_view raw) const = 0;
};

struct ComposedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

// An operator-written template, parsed once to render many times, from any
// thread. It must not outlive the Composer that prepared it.
class InlineTemplate {
 public:
  virtual ~InlineTemplate() = default;
  virtual std::string render(const std::map<std::string, std::string>& vars) const = 0;
  // About the memory the parsed form holds, for bounding a cache of them.
  virtual std::size_t memory_bytes() const = 0;
};

// Renders message templates; vars are plain strings, escaped by the renderer.
// An empty value counts as false in a section: {{#x}}…{{/x}} is left out
// and {{^x}}…{{/x}} shown.
class Composer {
 public:
  virtual ~Composer() = default;
  virtual ComposedEmail email(std::string_view template_name,
                              const std::map<std::string, std::string>& vars) const = 0;
  virtual std::string sms(std::string_view template_name,
                          const std::map<std::string, std::string>& vars) const = 0;
  // An operator-written template (a broadcast's text): rendered with vars,
  // HTML-escaping them when html. Throws std::runtime_error when it does not
  // parse; inline_error() tells that beforehand ("" when it parses).
  virtual std::string inline_template(std::string_view source,
                                      const std::map<std::string, std::string>& vars,
                                      bool html) const;
  virtual std::string inline_error(std::string_view source) const;
  // inline_template's source parsed once; throws std::runtime_error when it
  // does not parse. The default renders through inline_template each time.
  virtual std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view source,
                                                               bool html) const;
};

// Port: everything the consent flows read and write, inside one transaction
// that the storage layer opens and commits (or rolls back) around a call.
class ConsentStore {
 public:
  virtual ~ConsentStore() = default;
  virtual std::optional<Channel> find_channel(ChannelKind kind, std::string_view address) = 0;
  virtual std::optional<Channel> channel_by_id(std::int64_t id) = 0;
  virtual std::optional<Subscriber> subscriber_by_id(std::int64_t id) = 0;
  virtual std::int64_t insert_subscriber(const Subscriber& s) = 0;
  virtual std::int64_t insert_channel(const Channel& c) = 0;
  virtual void update_channel_state(std::int64_t channel_id, ConsentState state,
                                    std::int64_t at) = 0;
  virtual void mark_confirm_sent(std::int64_t channel_id, std::int64_t at) = 0;
  virtual void add_topics(std::int64_t subscriber_id, const std::vector<std::string>& topics) = 0;
  virtual std::vector<std::string> topics_of(std::int64_t subscriber_id) = 0;
  // Topics held on a channel until its owner confirms through it.
  virtual void request_topics(std::int64_t channel_id, const std::vector<std::string>& topics,
                              std::int64_t at) = 0;
  // Returns and forgets the topics held on a channel that were asked for
  // no later than `requested_until` (a link approves only what came before it).
  virtual std::vector<std::string> take_topic_requests(std::int64_t channel_id,
                                                       std::int64_t requested_until) = 0;
  // The topics held on a channel, sorted.
  virtual std::vector<std::string> topic_requests_of(std::int64_t channel_id) = 0;
  virtual void append_consent(const ConsentEvent& e, const ConsentText* text) = 0;
  virtual std::int64_t enqueue_email(const OutboxEntry& entry, const OutboundEmail& email) = 0;
  virtual std::int64_t enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) = 0;

  // Inbound texts, by MessageSid (replay protection and the review list).
  virtual bool inbound_text_seen(std::string_view message_sid) = 0;
  virtual std::int64_t insert_inbound_text(const StoredInboundText& t) = 0;
  virtual std::optional<StoredInboundText> inbound_text_by_id(std::int64_t id) = 0;
  virtual void mark_inbound_text_reviewed(std::int64_t id, std::string_view by,
                                          std::string_view action, std::int64_t at) = 0;
  // Delivery reports (Twilio's status callback): the sent message a
  // provider's id names, and its delivery state as reported.
  virtual std::optional<SentMessageRef> sent_message(std::string_view provider,
                                                     std::string_view provider_message_id) = 0;
  virtual void set_delivery(std::int64_t outbox_id, std::string_view state, std::string_view code,
                            std::int64_t at) = 0;
  // Confirmation texts queued after `since` under `scope`'s key (kDaily: all
  // of them, the key is ignored), for the pumping limits (sms_limits.h).
  virtual std::int64_t count_sms_confirms(SmsLimit scope, std::string_view key,
                                          std::int64_t since) = 0;
  // Counts one confirmation text queued at `at` under its keys, and forgets
  // those queued before `forget_before` (past every window).
  virtual void record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                                  std::int64_t forget_before) = 0;
  // Delivery reports about sent messages, in this same transaction
  // (sc/core/email_events.h). Null: this store does not keep them.
  virtual DeliveryStore* deliveries() { return nullptr; }
};

}  // namespace sc

namespace sc {
// Fills subject/text/html (or the SMS body) of a message queued with a
// template reference, then drops the reference; no-op for rendered ones.
void render_queued(const Composer& composer, OutboundEmail& m);
void render_queued(const Composer& composer, OutboundSms& m);
}  // namespace sc
