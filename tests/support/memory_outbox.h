// An in-memory outbox behind the dispatcher's ports (OutboxTransactions,
// OutboxStore, OutboxTransaction), for dispatcher unit tests without SQLite. It
// stores what the SQLite store stores (leases claimed or handed over,
// attempts counted at lease and given back by requeue); which messages a
// claim takes is core's claim_due, over both.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sc/core/outbox.h"
#include "support/unit_fakes.h"

namespace sc::unit {

class MemoryOutbox final : public OutboxTransactions, private OutboxStore {
 public:
  struct Row {
    std::int64_t id = 0;
    OutboxKind kind = OutboxKind::kEmail;
    OutboxLane lane = OutboxLane::kTransactional;
    std::string purpose;
    std::int64_t broadcast_id = 0;
    std::int64_t channel_id = 0;
    std::string state = "queued";  // queued, sending, sent, failed, skipped, unknown
    int attempts = 0;
    std::int64_t next_attempt_at = 0;
    std::int64_t lease_until = 0;
    LeaseState lease = LeaseState::kClaimed;  // while leased (state "sending")
    bool handed_over() const { return state == "sending" && lease == LeaseState::kHandedOver; }
    std::string provider, provider_message_id, last_code, last_error;
    std::string wait_reason;  // set by hold, cleared by the next claim
    OutboundEmail email;
    OutboundSms sms;
    std::string payload;  // "corrupt" makes decode throw
  };

  // Queues a message due at `due` (lane from the entry, as enqueue does).
  std::int64_t add_email(std::int64_t channel_id, const OutboundEmail& m,
                         std::int64_t broadcast_id = 0, std::int64_t due = 0);
  std::int64_t add_sms(std::int64_t channel_id, const OutboundSms& m, std::int64_t due = 0,
                       std::int64_t broadcast_id = 0);
  // Queues `n` bulk emails at once (cheaper than n calls for big backlogs).
  void add_bulk_emails(int n, std::int64_t broadcast_id, std::int64_t due = 0);
  Row row(std::int64_t id) const;
  void set_payload(std::int64_t id, std::string payload);
  std::size_t count(const std::string& state) const;
  // Rows a crash would make unknown: handed over, outcome not yet written.
  std::size_t count_handed_over_unrecorded() const;
  // Channel states a lease reports (a channel not listed is confirmed).
  void set_channel_state(std::int64_t channel_id, ConsentState s);
  MemoryConsentStore& consent_store() { return consent_; }
  // Broadcasts paused by the dispatcher, with their reasons; a paused one's
  // messages are no longer claimed.
  std::map<std::int64_t, std::string> paused_broadcasts;
  // An operator's pause, committed while the dispatcher may be running.
  void pause(std::int64_t broadcast_id, const std::string& reason);
  std::size_t transactions() const { return transactions_; }
  void set_request_jobs(std::uint64_t n) { request_jobs_ = n; }

  // OutboxTransactions
  void run(const std::function<void(const OutboxTransaction&)>& fn) override;
  std::uint64_t request_jobs() const override { return request_jobs_; }
  void decode(ClaimedMessage& m) const override;
  OutboxDepth depth(std::int64_t now) override;

 private:
  // OutboxStore
  std::vector<LeasedMessage> lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                       std::int64_t now, std::int64_t lease_until,
                                       LeaseState state) override;
  void skip(const std::vector<std::int64_t>& ids, std::int64_t now) override;
  // One instance only: a mark always finds its own lease (sending() fails
  // the test otherwise), and returns true.
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

  Row& sending(std::int64_t id);  // fails the test unless the row is leased

  mutable std::recursive_mutex mu_;
  std::map<std::int64_t, Row> rows_;
  std::map<std::int64_t, ConsentState> channel_states_;
  MemoryConsentStore consent_;
  std::int64_t next_id_ = 1;
  std::size_t transactions_ = 0;
  std::uint64_t request_jobs_ = 0;
};

}  // namespace sc::unit
