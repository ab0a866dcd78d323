// SQLite storage: migrations, the group-committing writer, read connections.
// SQLiteCpp stays behind these headers; no other module sees SQL.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/broadcast.h"
#include "sc/core/health.h"
#include "sc/core/import.h"
#include "sc/core/message.h"
#include "sc/core/metrics.h"
#include "sc/core/model.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/reads.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/stores.h"
#include "sc/core/rate_grants.h"
#include "sc/core/subscriber_list.h"

namespace sc::storage {

// An infrastructure failure (disk, corrupt file, locked database): the HTTP
// layer turns it into a 503, never a partial write.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AppliedMigration {
  int version;
  std::string name;
};

// Opens (creating if needed) the database and applies every migration in
// schema/migrations/sqlite/ not yet recorded, each in its own transaction.
// Returns the ones applied now, recorded as applied at `now` (Unix
// seconds; the overload without it takes the system clock's). Idempotent.
// Throws StorageError.
std::vector<AppliedMigration> migrate(const std::string& path, std::int64_t now);
std::vector<AppliedMigration> migrate(const std::string& path);

// Stores a consent text under its hash once (idempotent).
void register_consent_text(const std::string& path, ChannelKind channel, const ConsentText& text,
                           std::int64_t now);

// The outbox port types live in core (sc/core/outbox.h); storage implements them.
using sc::ClaimedMessage;
using sc::ClaimLimits;
using sc::OutboxStore;

// Parses the stored payload into email/sms. Kept out of the claim so the JSON
// work runs on the dispatcher thread, not on the single writer. Throws
// StorageError for a payload that does not parse.
void decode_payload(ClaimedMessage& m);

// What a writer job sees: the ports, over the writer's one connection, inside
// the open transaction.
class WriteContext {
 public:
  virtual ~WriteContext() = default;
  virtual const Transaction& tx() = 0;               // the request path's stores (UnitOfWork)
  virtual const OutboxTransaction& outbox_tx() = 0;  // the dispatcher's
  virtual OutboxStore& outbox() = 0;
  virtual const BroadcastTransaction& broadcast_tx() = 0;  // drafts, ledger and audit log
  virtual AuditLog& audit_log() = 0;                 // admin actions (sc/storage/admin_keys.h)
  virtual RateGrants& rate_grants() = 0;             // providers' rate limits across instances
  virtual const ImportTransaction& import_tx() = 0;  // imports (sc/core/import.h)
};

// The single writer. Jobs from many threads are run one after another on one
// connection and committed together (group commit, synchronous=FULL; on
// PostgreSQL, a few such writers over as many connections); run()
// returns only after the commit that holds its job, so an acknowledged write
// is on disk. A job that throws is rolled back alone (savepoint) and its
// exception is rethrown to its caller; the others still commit.
class WriteQueue {
 public:
  struct Options {
    std::size_t max_batch = 256;
    bool synchronous_full = true;
    // Group-commit batch sizes and commit times go here when set.
    metrics::Registry* metrics = nullptr;
    // Writer connections, each committing its own batches: always 1 on
    // SQLite (one writer per file); on PostgreSQL, batches commit in parallel.
    std::size_t connections = 1;
    // The stable name of this instance (SC_INSTANCE_NAME): a restart under
    // the same name hands back what its earlier runs left leased
    // (OutboxStore::release_own). Empty: on SQLite "local" (one process per
    // file: every run is the same instance, and a start hands back all a
    // dead run left, as always); on PostgreSQL a name of its own (the random
    // id), which no other run shares.
    std::string instance_name = {};
  };
  WriteQueue(const std::string& path, Options options);
  explicit WriteQueue(const std::string& path) : WriteQueue(path, Options{}) {}
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Called on the writer thread after a commit in which some job queued
  // outbox messages (the dispatcher wakes on it).
  void set_on_outbox_commit(std::function<void()> fn);
  void stop();  // drains queued jobs, then joins

  // Writes on behalf of a request (counted by request_jobs()).
  template <class F>
  auto run(F&& f) -> std::invoke_result_t<F&, WriteContext&> {
    return run_job(std::forward<F>(f), false);
  }
  // Writes of background work (the dispatcher), not counted as requests.
  template <class F>
  auto run_background(F&& f) -> std::invoke_result_t<F&, WriteContext&> {
    return run_job(std::forward<F>(f), true);
  }
  // Request jobs submitted so far; background work backs off while it grows.
  std::uint64_t request_jobs() const { return request_jobs_.load(std::memory_order_relaxed); }
  // The random id (32 hex digits) this writer took at open: the owner its
  // leases carry; and the name it runs under.
  const std::string& instance_id() const;
  const std::string& instance_name() const;
  // Writer connections committing in parallel (1 on SQLite).
  std::size_t connections() const;

  // The writer connection's settings as SQLite reports them after open
  // (read back, not what was asked for); the service logs them at start.
  struct Settings {
    std::string journal_mode;  // "wal"
    std::string synchronous;   // "OFF", "NORMAL", "FULL" or "EXTRA"
    bool foreign_keys = false;
  };
  const Settings& settings() const;
  // Whether the last batch committed: after a failed one (disk full, I/O
  // error) not writable, with why, until the next commit succeeds.
  DatabaseHealth health() const;

 private:
  template <class F>
  auto run_job(F&& f, bool background) -> std::invoke_result_t<F&, WriteContext&> {
    using R = std::invoke_result_t<F&, WriteContext&>;
    if (!background) request_jobs_.fetch_add(1, std::memory_order_relaxed);
    Job job;
    if constexpr (std::is_void_v<R>) {
      job.fn = [&](WriteContext& c) { f(c); };
      submit_and_wait(job);
    } else {
      std::optional<R> out;
      job.fn = [&](WriteContext& c) { out.emplace(f(c)); };
      submit_and_wait(job);
      return std::move(*out);
    }
  }

  struct Stats {
    std::uint64_t commits = 0;
    std::uint64_t jobs = 0;
    std::uint64_t pending = 0;  // jobs queued and not yet started
  };

 public:
  Stats stats() const;

  struct Job {
    std::function<void(WriteContext&)> fn;
    std::exception_ptr error;
    std::binary_semaphore done{0};
  };

 private:
  void submit_and_wait(Job& job);
  std::atomic<std::uint64_t> request_jobs_{0};
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The admin views are core's (the read-side port returns them).
using ::sc::ChannelView;
using ::sc::ConsentLogView;
using ::sc::SubscriberView;

// Read-only connections for lookups (WAL readers never block the writer).
class ReadPool {
 public:
  explicit ReadPool(const std::string& path, std::size_t size = 4);
  ~ReadPool();
  std::optional<SubscriberView> subscriber_by_channel(ChannelKind kind, const std::string& address);
  std::vector<ConsentLogView> unknown_number_log(const std::string& address);
  std::vector<StoredInboundText> inbound_for_review(int limit, std::int64_t before);
  OutboxDepth outbox_depth(std::int64_t now);
  // The operators' list (SubscriberReads; src/storage/directory.cpp).
  std::vector<SubscriberSummary> subscribers(const SubscriberQuery& q);
  std::optional<SubscriberDetail> subscriber(std::int64_t id, int max_messages);
  std::optional<std::int64_t> subscriber_of_channel(std::int64_t channel_id);
  std::vector<ChannelCount> channel_counts();
  SubscriberStats subscriber_stats(std::int64_t now);
  std::vector<ExportedSubscriber> export_page(std::int64_t after_id, int limit);
  std::optional<SuppressionView> suppression(ChannelKind kind, const std::string& key);
  std::vector<ConsentLogView> erased_consent(const std::string& pseudonym);
  // Imports (ImportReads; src/storage/import_store.cpp).
  std::optional<ImportJob> import_job(std::int64_t id);
  std::optional<ImportPart> import_part(std::int64_t id, std::int64_t seq);
  std::vector<ImportRowVerdict> import_rows(std::int64_t id, std::int64_t after, int limit);
  // Broadcasts (BroadcastReads).
  std::optional<Broadcast> broadcast(std::int64_t id);
  std::vector<Broadcast> broadcasts(int limit, std::int64_t before);
  BroadcastCounts broadcast_counts(std::int64_t id, std::int64_t now);
  // For /metrics: broadcasts by status, and those sending, paused or
  // scheduled plus the ones finished since `finished_since`, newest first,
  // at most `limit`.
  std::vector<std::pair<std::string, std::int64_t>> broadcast_status_counts();
  std::vector<Broadcast> broadcasts_in_progress(std::int64_t finished_since, int limit);
  std::vector<BroadcastRecipient> broadcast_recipients(std::int64_t id, const std::string& state,
                                                       int limit, std::int64_t after,
                                                       std::int64_t now);
  // The admin key stored with this SHA-256 (hex), revoked or not.
  std::optional<AdminKey> admin_key_by_hash(const std::string& sha256_hex);
  AuditPage audit_page(std::int64_t before, int limit);  // see AdminStore::audit_page
  bool healthy();                                        // runs a trivial query
  // The database's clock in Unix milliseconds: leases are kept on it.
  std::int64_t now_ms();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The dispatcher's port over the single writer: its transactions run as
// background jobs (requests first), and depth() reads through a ReadPool.
class WriterOutbox final : public OutboxTransactions {
 public:
  WriterOutbox(WriteQueue& writer, ReadPool& reads) : writer_(writer), reads_(reads) {}
  void run(const std::function<void(const OutboxTransaction&)>& fn) override {
    writer_.run_background([&](WriteContext& c) { fn(c.outbox_tx()); });
  }
  std::uint64_t request_jobs() const override { return writer_.request_jobs(); }
  void decode(ClaimedMessage& m) const override { decode_payload(m); }
  OutboxDepth depth(std::int64_t now) override { return reads_.outbox_depth(now); }

 private:
  WriteQueue& writer_;
  ReadPool& reads_;
};

// The rate grants over the single writer: each grant is one background job
// (one upsert, committed before its tokens are handed out), asked for once
// per slice of a provider's rate, never per message.
class WriterRateGrants final : public RateGrants {
 public:
  explicit WriterRateGrants(WriteQueue& writer) : writer_(writer) {}
  RateGrant grant(const std::string& provider, int rate_per_second, int want) override {
    return writer_.run_background(
        [&](WriteContext& c) { return c.rate_grants().grant(provider, rate_per_second, want); });
  }

 private:
  WriteQueue& writer_;
};

// The broadcast ports over the writer and the read pool.
class StoredBroadcasts final : public BroadcastTransactions, public BroadcastReads {
 public:
  StoredBroadcasts(WriteQueue& writer, ReadPool& reads) : writer_(writer), reads_(reads) {}
  void run(const std::function<void(const BroadcastTransaction&)>& fn) override {
    writer_.run([&](WriteContext& c) { fn(c.broadcast_tx()); });
  }
  // The runner's snapshot and clean-up chunks: background jobs (requests first).
  void run_background(const std::function<void(BroadcastDrafts&, BroadcastLedger&)>& fn) override {
    writer_.run_background([&](WriteContext& c) {
      const auto& tx = c.broadcast_tx();
      fn(tx.drafts, tx.ledger);
    });
  }
  int parallel_writers() const override { return static_cast<int>(writer_.connections()); }
  std::optional<Broadcast> get(std::int64_t id) override { return reads_.broadcast(id); }
  std::vector<Broadcast> list(int limit, std::int64_t before) override {
    return reads_.broadcasts(limit, before);
  }
  BroadcastCounts counts(std::int64_t id, std::int64_t now) override {
    return reads_.broadcast_counts(id, now);
  }
  std::vector<BroadcastRecipient> recipients(std::int64_t id, const std::string& state, int limit,
                                             std::int64_t after, std::int64_t now) override {
    return reads_.broadcast_recipients(id, state, limit, after, now);
  }

 private:
  WriteQueue& writer_;
  ReadPool& reads_;
};

// The import ports over the writer and the read pool.
class StoredImports final : public ImportTransactions, public ImportReads {
 public:
  StoredImports(WriteQueue& writer, ReadPool& reads) : writer_(writer), reads_(reads) {}
  void run(const std::function<void(const ImportTransaction&)>& fn) override {
    writer_.run([&](WriteContext& c) { fn(c.import_tx()); });
  }
  void run_background(const std::function<void(const ImportTransaction&)>& fn) override {
    writer_.run_background([&](WriteContext& c) { fn(c.import_tx()); });
  }
  std::optional<ImportJob> get(std::int64_t id) override { return reads_.import_job(id); }
  std::optional<ImportPart> part(std::int64_t id, std::int64_t seq) override {
    return reads_.import_part(id, seq);
  }
  std::vector<ImportRowVerdict> rows(std::int64_t id, std::int64_t after, int limit) override {
    return reads_.import_rows(id, after, limit);
  }

 private:
  WriteQueue& writer_;
  ReadPool& reads_;
};

}  // namespace sc::storage
