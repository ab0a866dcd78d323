// Ports of the outbox as its worker (dispatch) needs it: claim due messages
// with a lease, record each outcome, hand messages back; all inside
// background transactions that storage runs on its single writer.
#pragma once
#include <cstdint>
#include <functional>
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

// Outbox operations, used by the dispatcher inside its transactions.
class OutboxStore {
 public:
  virtual ~OutboxStore() = default;
  // Leases up to the limits of due messages, every due transactional one
  // ahead of any bulk one, each lane oldest due first, and returns them in
  // that order; bulk messages only of broadcasts that are sending. Messages
  // to channels that have unsubscribed or are undeliverable (or, for
  // broadcasts, are no longer confirmed) are marked skipped instead.
  virtual std::vector<ClaimedMessage> claim(std::int64_t now, ClaimLimits limits,
                                            std::int64_t lease_until) = 0;
  // Up to `limit` of either kind.
  std::vector<ClaimedMessage> claim(std::int64_t now, int limit, std::int64_t lease_until) {
    return claim(now, ClaimLimits{limit, limit, limit}, lease_until);
  }
  virtual void mark_sent(std::int64_t id, const std::string& provider, const SendResult& r,
                         std::int64_t now) = 0;
  virtual void mark_retry(std::int64_t id, const SendResult& r, std::int64_t next_attempt_at) = 0;
  virtual void mark_failed(std::int64_t id, const std::string& provider, const SendResult& r,
                           std::int64_t now) = 0;
  // The claimed broadcast messages `ids` go to the provider now. Until this
  // is written a bulk lease means "claimed, not handed over": the dispatcher
  // claims the next batch while the previous one is with the provider, and
  // a message that never left is queued again after a crash instead of
  // ending unknown. The dispatcher marks a few at a time, just ahead of
  // their requests, so a crash leaves unknown only what was in flight.
  // Only messages of a broadcast still sending are marked: those of one
  // paused or cancelled since the claim are handed back here (queued, the
  // attempt not counted), so a pause stops the sending at once. Returns the
  // ids still leased and marked; the dispatcher sends only those. A store
  // that treats every bulk lease as handed over needs nothing here.
  virtual std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                                     std::int64_t lease_until) {
    (void)lease_until;
    return ids;
  }
  // Hands a claimed message back unsent (its provider is paused or out of
  // rate): queued again from `next_attempt_at`, and this attempt not counted.
  virtual void hand_back(std::int64_t id, std::int64_t next_attempt_at) = 0;
  // Hands a claimed broadcast message back to wait until `until` for a
  // reason an operator is shown (kWaitQuietHours): queued again, this
  // attempt not counted, and read as "waiting" (not "queued") until then.
  // The next claim clears the reason.
  virtual void hold(std::int64_t id, std::int64_t until, const std::string& reason) = 0;
  // A broadcast message whose answer never came (SendResult::ambiguous): it
  // may have gone, so it is never sent again without an operator asking.
  virtual void mark_unknown(std::int64_t id, const std::string& provider, const SendResult& r,
                            std::int64_t now) = 0;
  // Pauses a sending broadcast (its messages are no longer claimed), with the reason shown.
  virtual void pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                               std::int64_t now) = 0;
  // Leases that ran out (the process died mid-send, or a send hung): a
  // transactional message is queued again (at least once); a broadcast
  // message handed over becomes unknown (it may have gone: never twice),
  // one never handed over is queued again.
  virtual int release_expired(std::int64_t now) = 0;
  // The same for every leased message (at start-up: whatever is leased
  // belongs to a process that is gone).
  virtual int release_all() = 0;
};

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
