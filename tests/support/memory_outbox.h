// An in-memory outbox behind the dispatcher's ports (OutboxTransactions,
// OutboxStore, OutboxTransaction), for dispatcher unit tests without SQLite. It
// keeps the rules the SQLite store keeps: leases, attempts counted at claim
// and given back by hand_back, transactional ahead of bulk, consent checked
// at claim time.
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
    bool handed_over = false;  // a leased bulk row: with the provider (mark_handed_over)
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
  // Channel states the claim checks (a channel not listed consents).
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
  std::vector<ClaimedMessage> claim(std::int64_t now, ClaimLimits limits,
                                    std::int64_t lease_until) override;
  void mark_sent(std::int64_t id, const std::string& provider, const SendResult& r,
                 std::int64_t now) override;
  void mark_retry(std::int64_t id, const SendResult& r, std::int64_t next_attempt_at) override;
  void mark_failed(std::int64_t id, const std::string& provider, const SendResult& r,
                   std::int64_t now) override;
  std::vector<std::int64_t> mark_handed_over(const std::vector<std::int64_t>& ids,
                                             std::int64_t lease_until) override;
  void hand_back(std::int64_t id, std::int64_t next_attempt_at) override;
  void hold(std::int64_t id, std::int64_t until, const std::string& reason) override;
  void mark_unknown(std::int64_t id, const std::string& provider, const SendResult& r,
                    std::int64_t now) override;
  void pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                       std::int64_t now) override;
  int release_expired(std::int64_t now) override;
  int release_all() override;

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
