// The storage entry point: opens the database, applies its migrations once,
// and hands app the core ports it wires, so app names no storage class.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/broadcast.h"
#include "sc/core/metrics.h"
#include "sc/core/model.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/reads.h"
#include "sc/core/ports/unit_of_work.h"
#include "sc/core/rate_grants.h"
#include "sc/core/subscriber_list.h"
#include "sc/storage/storage.h"

namespace sc::storage {

struct OpenOptions {
  bool synchronous_full = true;          // SC_SQLITE_SYNCHRONOUS
  metrics::Registry* metrics = nullptr;  // group-commit sizes and times go here when set
  std::size_t read_connections = 4;
  // PostgreSQL only: writer connections, each group-committing its own
  // batches (SQLite has one writer). The service opens SC_DB_WRITE_CONNECTIONS
  // (4 by default: sign-ups went from 0.36 to 0.97 x the raw baseline); the
  // CLI's one-off commands one.
  std::size_t write_connections = 1;
  // Consent texts stored under their hash (once, idempotent) after the
  // migrations and before the writer opens, so every consent-log row can
  // cite its text.
  std::vector<std::pair<ChannelKind, ConsentText>> consent_texts;
  // SC_INSTANCE_NAME (WriteQueue::Options::instance_name), and the name
  // used on PostgreSQL when it is empty (host name:listen port; empty when
  // there is no stable one). SQLite ignores the default: one process per file.
  std::string instance_name;
  std::string default_instance_name;
};

// The writer connection's settings as the database reports them after open
// (read back, not what was asked for); the service logs them at start.
struct DatabaseSettings {
  std::string journal_mode;  // "wal"
  std::string synchronous;   // "OFF", "NORMAL", "FULL" or "EXTRA"
  bool foreign_keys = false;
};

// An open database: its ports, over one single writer and a pool of read
// connections. The ports live as long as this object.
class Database {
 public:
  virtual ~Database() = default;

  // Migrations applied by this open (empty when the database was up to date).
  virtual const std::vector<AppliedMigration>& applied() const = 0;
  virtual const DatabaseSettings& settings() const = 0;
  // Whether writes go through (/healthz): not after a failed commit, until
  // the next one succeeds.
  virtual DatabaseHealth write_health() const = 0;

  virtual UnitOfWork& writes() = 0;          // request writes, one transaction each
  virtual ReadStore& reads() = 0;            // lookups and the health check
  virtual OutboxTransactions& outbox() = 0;  // the dispatcher's port
  virtual BroadcastTransactions& broadcast_tx() = 0;
  virtual BroadcastReads& broadcast_reads() = 0;
  virtual ImportTransactions& import_tx() = 0;  // imports (sc/core/import.h)
  virtual ImportReads& import_reads() = 0;
  virtual SubscriberReads& subscriber_reads() = 0;  // the operators' list
  virtual AdminStore& admin() = 0;        // keys made by `stayconnected keys` and the audit log
  virtual RateGrants& rate_grants() = 0;  // providers' rate limits across instances

  // For /metrics at scrape time: broadcasts by status, and those sending,
  // paused or scheduled plus the ones finished since `finished_since`,
  // newest first, at most `limit`.
  virtual std::vector<std::pair<std::string, std::int64_t>> broadcast_status_counts() = 0;
  virtual std::vector<Broadcast> broadcasts_in_progress(std::int64_t finished_since, int limit) = 0;

  // Called on the writer thread after a commit that queued outbox messages
  // (the dispatcher wakes on it).
  virtual void set_on_outbox_commit(std::function<void()> fn) = 0;
  // Finishes the writes queued so far, then stops the writer; idempotent.
  virtual void stop() = 0;
  // The database's clock in Unix milliseconds (a read): the clock every
  // instance keeps leases on.
  virtual std::int64_t database_time_ms() = 0;
  // The random id this instance's leases carry (32 hex digits).
  virtual const std::string& instance_id() const = 0;
};

// Opens (creating if needed) the database at `path`, applies every
// migration not yet recorded and registers the consent texts, all before
// the writer and the read connections open. `now` dates the consent texts.
// Throws StorageError (a path that cannot be opened, a failed migration).
std::unique_ptr<Database> open(const std::string& path, const OpenOptions& options,
                               std::int64_t now = 0);

// Broadcasts read-only, through one read connection, for the CLI beside a
// running service (never waits for its writer). Neither creates nor migrates.
std::unique_ptr<BroadcastReads> open_broadcast_reads(const std::string& path);

}  // namespace sc::storage
