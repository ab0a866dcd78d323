// Ports of the outbox as its worker (dispatch) needs it: claim due messages
// with a lease, record each outcome, hand messages back; all inside
// background transactions that storage runs on its single writer.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sc/core/message.h"
#include "sc/core/model.h"
#include "sc/core/ports/stores.h"

namespace sc {

// Transactional messages (confirmations, welcome, test sends) are always
// claimed ahead of bulk ones (broadcasts), so a backlog never holds them.
enum class OutboxLane { kTransactional = 0, kBulk = 1 };
const char* to_string(OutboxLane lane);
// The lane a message is queued in: bulk for anything of a broadcast.
inline OutboxLane lane_for(const OutboxEntry& e) {
  return e.broadcast_id != 0 ? OutboxLane::kBulk : OutboxLane::kTransactional;
}

// A message claimed for sending: the dispatcher owns it until it records an
// outcome, hands it back, or the lease expires.
struct ClaimedMessage {
  std::int64_t id = 0;
  OutboxKind kind = OutboxKind::kEmail;
  OutboxLane lane = OutboxLane::kTransactional;
  std::string purpose;
  std::int64_t broadcast_id = 0;
  std::int64_t channel_id = 0;
  int attempts = 0;     // including this one
  OutboundEmail email;  // filled by OutboxTransactions::decode
  OutboundSms sms;
  std::string payload;  // as stored; cleared by decode
};

// How many messages one claim may take, in all and of each kind (a paused
// or rate-limited provider gets fewer, down to none).
struct ClaimLimits {
  int total = 0;
  int email = 0;
  int sms = 0;
};

// Why a held message waits (OutboxStore::hold): outside SC_SMS_SEND_WINDOW
// where its recipient is.
inline constexpr const char* kWaitQuietHours = "quiet-hours";

// Where a leased message stands. A claimed one is not yet with its provider:
// a crash (or a lease running out) queues it again with the attempt given
// back. A handed-over one may have reached the provider: a broadcast message
// then ends unknown, never sent twice without an operator asking.
enum class LeaseState { kClaimed, kHandedOver };

// A message just leased (OutboxStore::lease_due), with what the claim policy
// (claim_due) decides on.
struct LeasedMessage {
  ClaimedMessage message;
  std::int64_t due = 0;  // when it became due (its next attempt)
  // Its channel's consent as it is now; nullopt when the channel is gone.
  std::optional<ConsentState> channel_state;
};

// How a message ended (OutboxStore::finish).
enum class Finish {
  kSent,     // the provider took it
  kFailed,   // the provider refused it for good
  kUnknown,  // a broadcast message whose answer never came (SendResult::ambiguous): it
             // may have gone, so it is never sent again without an operator asking
};

// Outbox storage, used by the dispatcher inside its transactions. It stores;
// the rules of which messages go out (claim_due) are core's.
//
// Each store speaks for one instance: a random id its storage took when it
// opened, under a stable name (SC_INSTANCE_NAME). A lease records the
// instance that holds it, and every mark below changes a row only while
// that instance still holds it: once its lease ran out and another instance
// took it over (release_expired), the old holder's mark changes nothing and
// returns false, so its outcome is neither written over the new holder's nor
// counted twice. Lease times are on the database's clock (the dispatcher's
// `now`, see docs/architecture.md).
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // Leases up to `limit` due messages (queued, next attempt at or before
  // `now`) of one lane and kind, oldest due first, until `lease_until` in
  // `state`; bulk ones only of broadcasts that are sending. Each lease counts
  // an attempt and clears a wait reason. Returns them in any order, with
  // their channel's consent as it is now.
  virtual std::vector<LeasedMessage> lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                               std::int64_t now, std::int64_t lease_until,
                                               LeaseState state) = 0;
  // Leased messages that are not to be sent (the recipient no longer
  // consents): skipped, their attempt not counted.
  virtual void skip(const std::vector<std::int64_t>& ids, std::int64_t now) = 0;
  // Records how a leased message ended; false (nothing changed) when this
  // instance no longer holds its lease.
  virtual bool finish(std::int64_t id, Finish how, const std::string& provider, const SendResult& r,
                      std::int64_t now) = 0;
  bool mark_sent(std::int64_t id, const std::string& provider, const SendResult& r,
                 std::int64_t now) {
    return finish(id, Finish::kSent, provider, r, now);
  }
  bool mark_failed(std::int64_t id, const std::string& provider, const SendResult& r,
                   std::int64_t now) {
    return finish(id, Finish::kFailed, provider, r, now);
  }
  bool mark_unknown(std::int64_t id, const std::string& provider, const SendResult& r,
                    std::int64_t now) {
    return finish(id, Finish::kUnknown, provider, r, now);
  }
  // Many sent messages recorded at once, each as mark_sent would (one
  // statement instead of one a message: on PostgreSQL each is a round
  // trip). Returns the ids recorded: those this instance still held.
  struct Sent {
    std::int64_t id = 0;
    const std::string* provider = nullptr;
    const SendResult* result = nullptr;
  };
  virtual std::vector<std::int64_t> mark_sent_many(const std::vector<Sent>& sent,
                                                   std::int64_t now) {
    std::vector<std::int64_t> out;
    for (const auto& s : sent)
      if (mark_sent(s.id, *s.provider, *s.result, now)) out.push_back(s.id);
    return out;
  }
  // Queued again for `next_attempt_at`; false when no longer this instance's.
  virtual bool mark_retry(std::int64_t id, const SendResult& r, std::int64_t next_attempt_at) = 0;
  // The claimed broadcast messages `ids` go to the provider now: handed over
  // until `lease_until`. The dispatcher claims the next batch while the
  // previous one is with the provider, and marks a few at a time, just
  // ahead of their requests, so a crash leaves unknown only what was in
  // flight. Only messages still claimed and of a broadcast still sending are
  // marked: those of one paused or cancelled since the claim are handed back
  // here (queued, the attempt not counted), so a pause stops the sending at
  // once. Only this instance's claims are marked (or handed back).
  // Returns the ids marked; the dispatcher sends only those.
  virtual std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                                     std::int64_t lease_until) = 0;
  // Puts a leased message back unsent: queued again from `due`, this attempt
  // not counted. With a reason an operator is shown (kWaitQuietHours) it
  // reads as "waiting" (not "queued") until then; the next lease clears it.
  // False when no longer this instance's.
  virtual bool requeue(std::int64_t id, std::int64_t due, const std::string& wait_reason) = 0;
  // Hands a claimed message back unsent (its provider is paused or out of rate).
  bool hand_back(std::int64_t id, std::int64_t next_attempt_at) {
    return requeue(id, next_attempt_at, "");
  }
  // Hands a claimed broadcast message back to wait until `until` for `reason`.
  bool hold(std::int64_t id, std::int64_t until, const std::string& reason) {
    return requeue(id, until, reason);
  }
  // Pauses a sending broadcast (its messages are no longer claimed), with the reason shown.
  virtual void pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                               std::int64_t now) = 0;
  // Leases that ran out before `now`, whichever instance held them (it died
  // mid-send, or a send hung): a transactional message is queued again (at
  // least once); a broadcast message handed over becomes unknown (it may
  // have gone: never twice), one only claimed is queued again with its
  // attempt given back. Also this instance's heartbeat.
  virtual int release_expired(std::int64_t now) = 0;
  // At start-up: records this instance (id, name), and releases as above,
  // whatever their lease, the messages leased by this instance's name (its
  // earlier runs are gone; so are rows leased before instances had ids), and
  // their broadcast runner leases; then those of any instance that ran out.
  // Another live instance's leases are left alone.
  virtual int release_own(std::int64_t now) = 0;
};

// Consent is checked at send time, not only at queue time: someone who left
// after a message was queued must not receive it, and a broadcast goes only
// to channels still confirmed.
bool may_send(const LeasedMessage& m);

// The claim: leases due messages up to the limits and returns them in the
// order to send them. Every due transactional message goes ahead of any bulk
// one; within a lane each kind first gets up to half of what is left, then
// either takes what the other left (a backlog of emails never holds the
// texts); each lease is oldest due first. A message its recipient no longer
// consents to (may_send) is skipped instead, and counts against `total`
// (the limit bounds the writer's work) but not against its kind's limit.
// Transactional messages are handed over at once; bulk ones are claimed
// until OutboxStore::mark_handed_over.
std::vector<ClaimedMessage> claim_due(OutboxStore& store, std::int64_t now, ClaimLimits limits,
                                      std::int64_t lease_until);
// Up to `limit` of either kind.
inline std::vector<ClaimedMessage> claim_due(OutboxStore& store, std::int64_t now, int limit,
                                             std::int64_t lease_until) {
  return claim_due(store, now, ClaimLimits{limit, limit, limit}, lease_until);
}

// What one dispatcher transaction sees: the outbox, and the channels and
// consent log (a provider-reported opt-out is recorded with the outcome).
struct OutboxTransaction {
  OutboxStore& outbox;
  SubscriberStore& subscribers;
  ConsentLog& consent_log;

  ConsentWrites consent() const { return {subscribers, consent_log}; }
};

// Messages not yet finished, by lane and state, for metrics.
struct OutboxDepth {
  struct Cell {
    OutboxLane lane = OutboxLane::kTransactional;
    std::string state;  // "queued" or "sending"
    std::int64_t count = 0;
  };
  std::vector<Cell> cells;
  // Unix seconds since which the longest-waiting due message has waited
  // (queued, or due again after a retry); 0 when nothing is due.
  std::int64_t oldest_due_since = 0;
};

// Port: runs the dispatcher's transactions and tells it how busy the request
// path is. storage implements it over its single writer.
class OutboxTransactions {
 public:
  virtual ~OutboxTransactions() = default;
  // Runs fn in one transaction at background priority (requests first);
  // commits when it returns, rolls back and rethrows when it throws.
  virtual void run(const std::function<void(const OutboxTransaction&)>& fn) = 0;
  // Request transactions started so far; the dispatcher yields while it grows.
  virtual std::uint64_t request_jobs() const = 0;
  // Parses a claimed message's stored payload into email or sms. Called on
  // the dispatcher's thread (never on the writer's); throws for a payload
  // that does not parse.
  virtual void decode(ClaimedMessage& m) const = 0;
  // Unfinished messages by lane and state (a read; not on the writer).
  virtual OutboxDepth depth(std::int64_t now) = 0;
};

}  // namespace sc
