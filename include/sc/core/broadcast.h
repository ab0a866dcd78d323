// Broadcasts: an operator's message to everyone who consented on a channel
// (and chose one of its topics, when it names topics), sent through the bulk
// lane exactly once per recipient. The recipients are a per-broadcast ledger:
// one outbox row per (broadcast, channel), written set-based in chunks when
// the broadcast starts, each row carrying its own outcome.
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/consent_service.h"
#include "sc/core/message.h"
#include "sc/core/model.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/services.h"
#include "sc/core/result.h"
#include "sc/core/sms_segments.h"
#include "sc/core/template_check.h"

namespace sc {

// draft → (scheduled →) sending ⇄ paused → completed; any but completed →
// cancelled. A completed broadcast goes back to sending when an operator
// re-queues its failed or unknown recipients.
enum class BroadcastStatus { kDraft, kScheduled, kSending, kPaused, kCompleted, kCancelled };
const char* to_string(BroadcastStatus s);
std::optional<BroadcastStatus> broadcast_status_from(std::string_view s);

struct Broadcast {
  std::int64_t id = 0;
  ChannelKind channel = ChannelKind::kEmail;
  std::string subject;  // email only
  std::string text;     // Mustache source
  std::string html;     // email only, optional, Mustache source
  std::vector<std::string> topics;
  BroadcastStatus status = BroadcastStatus::kDraft;
  std::int64_t send_at = 0;  // unix seconds; 0: as soon as it is sent
  // Idempotency-Key, scoped to the key that made it (created_by), and a
  // digest of the request body it came with ("" for rows made before 0011).
  std::string idempotency_key;
  std::string idempotency_body_digest;
  std::string created_by;  // the admin key's name
  std::int64_t created_at = 0, updated_at = 0, started_at = 0, finished_at = 0;
  std::string pause_reason;  // why it paused itself (or "paused by <key>")
  bool snapshot_done = false;
  std::int64_t snapshot_cursor = 0;  // the last channel id taken into the ledger
};

// Recipients of a broadcast by state. total = queued + sending + sent +
// failed + skipped + unknown.
struct BroadcastCounts {
  std::int64_t total = 0, queued = 0, sending = 0, sent = 0, failed = 0, skipped = 0, unknown = 0;
  std::int64_t delivered = 0, undelivered = 0;  // as providers report afterwards
  // Of `queued`: held by quiet hours (outside SC_SMS_SEND_WINDOW where the
  // recipient is) and not yet due, and the earliest time one of them may go
  // (unix seconds; 0 when none waits).
  std::int64_t waiting = 0, waiting_until = 0;
};

// One recipient as the ledger holds it.
struct BroadcastRecipient {
  std::int64_t outbox_id = 0;
  std::int64_t channel_id = 0;
  std::string address;
  // queued, waiting (held by quiet hours until waiting_until), sending,
  // sent, failed, skipped, unknown
  std::string state;
  int attempts = 0;
  std::string provider, provider_message_id, code, error, delivery_state;
  std::int64_t finished_at = 0;
  std::int64_t waiting_until = 0;  // unix seconds, while waiting
};

// Write-side ports, inside one transaction on the single writer: the
// broadcasts themselves (BroadcastDrafts) and each one's recipients
// (BroadcastLedger). One adapter may implement both. Which status may follow
// which is decided in core (sc/core/broadcast_lifecycle.h), not here.
class BroadcastDrafts {
 public:
  virtual ~BroadcastDrafts() = default;
  virtual std::int64_t insert(const Broadcast& b) = 0;
  virtual std::optional<Broadcast> find(std::int64_t id) = 0;
  // The broadcast this admin key (by name) made with this Idempotency-Key.
  virtual std::optional<Broadcast> find_by_idempotency_key(const std::string& key_name,
                                                           const std::string& key) = 0;
  virtual void update_content(
      const Broadcast& b) = 0;  // channel, subject, text, html, topics, send_at
  // Stores the status as given, with its reason; started_at is set the first
  // time it becomes sending, finished_at when it becomes completed or
  // cancelled (and cleared otherwise).
  virtual void set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                          std::int64_t now) = 0;
  // Topics that no subscriber has chosen (a typo would reach nobody).
  virtual std::vector<std::string> unknown_topics(const std::vector<std::string>& topics) = 0;
  // Broadcasts the runner has work for: scheduled, sending (snapshot not
  // done, or maybe finished) and cancelled with queued rows.
  virtual std::vector<Broadcast> active() = 0;
  // The runner's lease on broadcast `id` (one instance at a time advances
  // it): taken when free or run out before `now`, renewed when this
  // instance's, until `until`. Returns its term (which grows each time
  // another instance takes it), or nullopt while another instance holds it.
  // Until the transaction ends no other instance can take it, so what the
  // same transaction writes next is the term holder's alone.
  virtual std::optional<std::int64_t> take_run_lease(std::int64_t id, std::int64_t now,
                                                     std::int64_t until) = 0;
};

// What BroadcastLedger::snapshot_ahead wrote: every recipient among the
// channels in (from, to] is in the ledger once it returns.
struct SnapshotAhead {
  std::int64_t from = 0, to = 0;
  int added = 0;
};

class BroadcastLedger {
 public:
  virtual ~BroadcastLedger() = default;
  // Whether any confirmed channel of the broadcast's kind (in one of its
  // topics, when it names topics) would enter its ledger now.
  virtual bool has_audience(const Broadcast& b) = 0;
  // Adds up to max_rows recipients after the cursor to the ledger with one
  // INSERT … SELECT (confirmed channels of the broadcast's kind, in its
  // topics), advances the cursor, and marks the snapshot done when fewer
  // than max_rows were left. Returns the rows added.
  virtual int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) = 0;
  // A chunk written ahead, in a transaction of its own (on another writer
  // connection) while the runner's locked transaction writes the next one
  // (snapshot_chunk from b.snapshot_cursor): the max_rows qualifying
  // channels that follow the first after_chunks * max_rows after the cursor
  // enter the ledger (those already in it are left as they are), and the
  // cursor does not move. Nothing is written unless the broadcast is
  // sending. Returns the range written, (from, to]: from == to when the
  // snapshot ends before it.
  virtual SnapshotAhead snapshot_ahead(const Broadcast& b, int max_rows, int after_chunks,
                                       std::int64_t now) = 0;
  // Marks up to max_rows still-queued recipients of a cancelled broadcast
  // skipped; returns how many.
  virtual int skip_queued(std::int64_t id, int max_rows, std::int64_t now) = 0;
  // Recipients not yet finished (queued or sending).
  virtual bool has_unfinished(std::int64_t id) = 0;
  // Queues recipients in `state` ("failed" or "unknown") again; returns how many.
  virtual int requeue(std::int64_t id, const std::string& state, std::int64_t now) = 0;
};

// What a request's broadcast transaction sees (BroadcastTransactions::run).
struct BroadcastTransaction {
  BroadcastDrafts& drafts;
  BroadcastLedger& ledger;
  AuditLog& audit;
};

// Read-side port (read connections; never waits for the writer).
class BroadcastReads {
 public:
  virtual ~BroadcastReads() = default;
  virtual std::optional<Broadcast> get(std::int64_t id) = 0;
  // Newest first, ids below `before` (0: from the newest).
  virtual std::vector<Broadcast> list(int limit, std::int64_t before) = 0;
  // As they are at `now` (a held recipient waits until its due time).
  virtual BroadcastCounts counts(std::int64_t id, std::int64_t now) = 0;
  // Recipients in `state` ("" for all; "queued" and "waiting" as at `now`)
  // with outbox id above `after`, in id order.
  virtual std::vector<BroadcastRecipient> recipients(std::int64_t id, const std::string& state,
                                                     int limit, std::int64_t after,
                                                     std::int64_t now) = 0;
};

// Port: runs fn in one transaction on the single writer: run() for a
// request, run_background() for the runner's chunks (requests go first).
// A request's action and its audit-log row are written in the same
// transaction: when the audit row cannot be stored, the action is undone.
class BroadcastTransactions {
 public:
  virtual ~BroadcastTransactions() = default;
  virtual void run(const std::function<void(const BroadcastTransaction&)>& fn) = 0;
  // The runner writes no audit row.
  virtual void run_background(
      const std::function<void(BroadcastDrafts&, BroadcastLedger&)>& fn) = 0;
  // How many run_background() calls from as many threads commit in parallel
  // (writer connections): with more than one, the runner writes a
  // snapshot's later chunks ahead (BroadcastLedger::snapshot_ahead) beside
  // the locked one.
  virtual int parallel_writers() const { return 1; }
};

struct BroadcastSettings {
  int sms_max_segments = 4;
  std::int64_t max_text_bytes = static_cast<std::int64_t>(kMaxTemplateBytes);
  int max_template_depth = kMaxTemplateDepth;
  int max_template_sections = kMaxTemplateSections;
};

// The variables a broadcast's templates may use, sorted: first_name,
// org_name, postal_address, unsubscribe_url.
const std::vector<std::string>& broadcast_variables();

// What an operator asks for at create (or edit), raw.
struct BroadcastDraft {
  std::string channel;
  std::optional<std::string> subject, text, html, send_at;
  std::vector<std::string> topics;
  bool topics_given = false;
};

// Checks a draft: channel, subject, text, each template's size, depth,
// sections and variables (check_template, before any parser sees it), its
// syntax (through the Composer), SMS segments, topics syntax, send_at
// (RFC 3339). Unknown topics are checked by the caller against the store.
class BroadcastComposer;
Result<Broadcast> validate_draft(const BroadcastDraft& d, const BroadcastComposer& composer,
                                 const BroadcastSettings& settings);

// Parses an RFC 3339 date-time ("2026-12-01T09:00:00Z", "…+01:00", with
// optional fractional seconds) to unix seconds.
std::optional<std::int64_t> parse_rfc3339(std::string_view s);
std::string format_rfc3339(std::int64_t unix_seconds);

// The segments a broadcast text takes for its longest recipient who keeps it
// GSM-7: rendered with the longest first name a subscriber may have
// (kMaxPersonNameLength characters) and with none (a {{^first_name}}
// fallback may be the longer), the real org name, postal address and an
// unsubscribe link of the given length, plus the STOP line; the larger of
// the two. A name outside GSM-7 that would push a text over the cap is left
// out at send time (BroadcastComposer::sms). Create, GET, preview and the
// CLI all count with this one estimate.
SmsSegments estimate_sms_segments(const Composer& composer, std::string_view text,
                                  std::string_view org_name, std::string_view postal_address,
                                  std::string_view unsubscribe_url);

// Builds each recipient's message from the broadcast: Mustache per recipient
// (first_name, unsubscribe_url, org_name, postal_address), the foundation's
// footer, List-Unsubscribe (+ One-Click), List-Id and Feedback-ID for email;
// the STOP line for texts. compose() keeps each sending broadcast's content
// parsed once (it cannot change once sent), for every thread, in a cache
// bounded by count and by memory (least recently used goes first).
// Thread-safe.
class BroadcastComposer {
 public:
  struct Settings {
    std::string org_name;
    std::string postal_address;
    Mailbox from;
    std::string envelope_from;
    std::string list_unsubscribe_mailto;
    std::string list_id;           // "Org <broadcasts.example.org>"
    std::string feedback_id_tail;  // ":stayconnected:example.org" (after "<broadcast id>:")
    int sms_max_segments = 0;      // no text goes out longer (0: no cap)
    std::size_t cache_broadcasts = 8;
    std::size_t cache_bytes = 64u << 20;  // parsed templates; the newest is kept regardless
  };
  using Loader = std::function<std::optional<Broadcast>(std::int64_t id)>;
  BroadcastComposer(const Composer& composer, const ConsentService& service, Settings settings,
                    Loader loader);

  // Renders an admin-written template for one recipient; html escapes values.
  std::string render(std::string_view tmpl, const std::map<std::string, std::string>& vars,
                     bool html) const;
  // The parse error of a template, or "" when it parses.
  std::string template_error(std::string_view tmpl) const;
  // estimate_sms_segments with this deployment's org name, address and links.
  SmsSegments sms_segments(std::string_view text) const;

  struct Recipient {
    std::int64_t channel_id = 0;
    std::string address;
    std::string first_name;
  };
  OutboundEmail email(const Broadcast& b, const Recipient& r, std::int64_t outbox_id,
                      std::int64_t now) const;
  // Throws when the text would take more than sms_max_segments even without
  // the recipient's name (only when settings changed since create).
  OutboundSms sms(const Broadcast& b, const Recipient& r, std::int64_t outbox_id) const;
  // A preview or test copy as that recipient would see it, except that its
  // unsubscribe link (body and List-Unsubscribe) is a visible sample that
  // the token routes refuse, of the same length as a real one: nothing a
  // preview shows or a test copy carries can change anyone's consent.
  OutboundEmail sample_email(const Broadcast& b, const Recipient& r, std::int64_t now) const;
  OutboundSms sample_sms(const Broadcast& b, const Recipient& r) const;
  // Fills a claimed bulk message (decoded: to/address and first_name in the
  // template vars) with its broadcast's content. Throws when the broadcast is gone.
  void compose(ClaimedMessage& m, std::int64_t now) const;
  // Broadcasts in compose()'s cache now, and the memory their templates hold.
  std::size_t cached_broadcasts() const;
  std::size_t cached_bytes() const;

 private:
  // A broadcast with its templates parsed.
  struct Prepared {
    std::shared_ptr<const Broadcast> broadcast;
    std::shared_ptr<const InlineTemplate> subject, text, html;  // html: null when none
    std::size_t bytes = 0;
  };
  Prepared prepare(Broadcast b) const;
  std::shared_ptr<const Prepared> cached(std::int64_t id) const;
  // `sample`: a preview or test copy (see sample_email).
  OutboundEmail email(const Prepared& p, const Recipient& r, std::int64_t outbox_id,
                      std::int64_t now, bool sample) const;
  OutboundSms sms(const Prepared& p, const Recipient& r, std::int64_t outbox_id, bool sample) const;
  std::map<std::string, std::string> vars_for(const Recipient& r, bool sample) const;
  const Composer& composer_;
  const ConsentService& service_;
  Settings settings_;
  Loader loader_;
  mutable std::mutex mu_;
  // Most recently used first.
  mutable std::list<std::pair<std::int64_t, std::shared_ptr<const Prepared>>> lru_;
  mutable std::map<std::int64_t, decltype(lru_)::iterator> cache_;
  mutable std::size_t cache_bytes_ = 0;
};

// List-Id (RFC 2919) of every broadcast email: the organisation's name as
// its phrase, without the characters that would end or split it (<, >, ",
// CR, LF), and "broadcasts." + the domain of the From address as its id.
std::string broadcast_list_id(std::string_view org_name, std::string_view from_address);
// What Feedback-ID carries after "<broadcast id>:broadcast": the sender's
// domain (the From address's), so a provider's reports group by sender.
std::string broadcast_feedback_id_tail(std::string_view from_address);

}  // namespace sc
