// One coherent in-memory database behind every storage port: the stores of
// a write transaction (UnitOfWork), the dispatcher's (OutboxTransactions),
// the broadcasts' (BroadcastTransactions, BroadcastReads), the imports'
// (ImportTransactions, ImportReads), the read side (ReadStore) and the
// admin keys and audit log (AdminStore), all over the same rows, so the
// outbox claim sees the channels a sign-up wrote and a broadcast's snapshot
// the topics. It keeps the rules the SQLite storage
// keeps; tests/contract runs the same cases against both.
//
// A transaction that throws is rolled back (nothing it wrote is kept). Safe
// to use from several threads: one transaction at a time.
//
// Several instances on one database: a MemoryStorage made from another
// shares its data (and its lock) and has an instance id of its own, under
// its own name, as each process has over one PostgreSQL database.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/broadcast.h"
#include "sc/core/import.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/reads.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/stores.h"
#include "sc/core/ports/unit_of_work.h"
#include "sc/core/rate_grants.h"
#include "sc/core/subscriber_list.h"

namespace sc::unit {

class MemoryStorage {
 public:
  // One outbox row, as a test inspects it.
  struct OutboxRow {
    std::int64_t id = 0;
    OutboxKind kind = OutboxKind::kEmail;
    OutboxLane lane = OutboxLane::kTransactional;
    std::string purpose;
    std::int64_t broadcast_id = 0;
    std::int64_t channel_id = 0;
    std::string state = "queued";  // queued, sending, sent, failed, skipped, unknown
    int attempts = 0;
    std::int64_t next_attempt_at = 0;
    std::int64_t created_at = 0;
    std::int64_t lease_until = 0;
    std::string lease_owner;   // the instance holding it while leased
    bool handed_over = false;  // a leased bulk row: with the provider (mark_handed_over)
    std::string provider, provider_message_id, last_code, last_error;
    std::string wait_reason;  // set by hold, cleared by hand_back and the next claim
    std::int64_t finished_at = 0;
    std::string delivery_state, delivery_code;
    std::int64_t delivery_at = 0;
    OutboundEmail email;  // as queued (a ledger row: only its recipient)
    OutboundSms sms;
  };

  // `clock` stamps what the database would stamp itself (a message's queue time).
  explicit MemoryStorage(const Clock& clock, std::string instance_name = "");
  // Another instance on the same data as `same_database`.
  MemoryStorage(MemoryStorage& same_database, const Clock& clock, std::string instance_name);
  ~MemoryStorage();
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

  // The ports.
  UnitOfWork& unit_of_work();
  OutboxTransactions& outbox();
  BroadcastTransactions& broadcast_transactions();
  BroadcastReads& broadcast_reads();
  // The imports, their leases held by this instance in milliseconds on `clock`.
  ImportTransactions& import_transactions();
  ImportReads& import_reads();
  ReadStore& reads();
  SubscriberReads& subscriber_reads();
  AdminStore& admin();
  // The rate grants, on `clock` as the database's clock.
  RateGrants& rate_grants();

  // What the CLI and deployment do beside the ports (SQLite:
  // register_consent_text, create_admin_key, revoke_admin_key).
  void register_consent_text(const ConsentText& text);
  enum class KeyChange { kDone, kNameTaken, kUnknownName, kAlreadyRevoked };
  KeyChange create_admin_key(const std::string& name, Scope scope, const std::string& key,
                             const std::string& by, std::int64_t now);
  KeyChange revoke_admin_key(const std::string& name, const std::string& by, std::int64_t now);
  std::vector<AdminKey> admin_keys();

  // Test inspection.
  std::optional<OutboxRow> outbox_row(std::int64_t id);
  std::size_t outbox_count(const std::string& state);
  std::size_t consent_log_size();
  std::size_t audit_log_size();
  // Request transactions run so far (UnitOfWork, BroadcastTransactions::run, append_audit).
  void set_request_jobs(std::uint64_t n);
  const std::string& instance_id() const { return instance_.first; }

  struct Data;
  struct Stores;

 private:
  class Ports;
  class Grants;
  // Runs fn on the data under the lock; restores the data when fn throws.
  void transact(const std::function<void(Stores&)>& fn, bool request);

  const Clock& clock_;
  std::shared_ptr<std::recursive_mutex> mu_owner_;
  std::recursive_mutex& mu_;
  std::shared_ptr<Data> data_;
  std::pair<std::string, std::string> instance_;  // id, name
  std::unique_ptr<Ports> ports_;
  std::unique_ptr<Grants> grants_;
};

}  // namespace sc::unit
