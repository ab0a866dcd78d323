#include "sc/storage/open.h"

#include "driver.h"
#include "sc/storage/adapters.h"
#include "sc/storage/admin_keys.h"

namespace sc::storage {
namespace {

// One WriteQueue (the single writer, group commit) and one ReadPool, and the
// core ports over them, on either driver (SQLite file or PostgreSQL URL). Members are built in
// order and destroyed in reverse, so every adapter goes before the writer and the pool it uses.
class StoredDatabase final : public Database {
 public:
  StoredDatabase(const std::string& path, const OpenOptions& options, std::int64_t now)
      : applied_(migrate_and_register(path, options, now)),
        writer_(path, WriteQueue::Options{256, options.synchronous_full, options.metrics,
                                          options.write_connections, instance_name(path, options)}),
        reads_pool_(path, options.read_connections),
        writes_(writer_),
        reads_(reads_pool_),
        subscriber_reads_(reads_pool_),
        outbox_(writer_, reads_pool_),
        broadcasts_(writer_, reads_pool_),
        imports_(writer_, reads_pool_),
        admin_(writer_, reads_pool_),
        rate_grants_(writer_) {
    const auto& s = writer_.settings();
    settings_ = DatabaseSettings{s.journal_mode, s.synchronous, s.foreign_keys};
  }
  ~StoredDatabase() override { writer_.stop(); }

  const std::vector<AppliedMigration>& applied() const override { return applied_; }
  const DatabaseSettings& settings() const override { return settings_; }
  DatabaseHealth write_health() const override { return writer_.health(); }
  UnitOfWork& writes() override { return writes_; }
  ReadStore& reads() override { return reads_; }
  OutboxTransactions& outbox() override { return outbox_; }
  BroadcastTransactions& broadcast_tx() override { return broadcasts_; }
  BroadcastReads& broadcast_reads() override { return broadcasts_; }
  ImportTransactions& import_tx() override { return imports_; }
  ImportReads& import_reads() override { return imports_; }
  SubscriberReads& subscriber_reads() override { return subscriber_reads_; }
  AdminStore& admin() override { return admin_; }
  RateGrants& rate_grants() override { return rate_grants_; }
  std::vector<std::pair<std::string, std::int64_t>> broadcast_status_counts() override {
    return reads_pool_.broadcast_status_counts();
  }
  std::vector<Broadcast> broadcasts_in_progress(std::int64_t finished_since, int limit) override {
    return reads_pool_.broadcasts_in_progress(finished_since, limit);
  }
  void set_on_outbox_commit(std::function<void()> fn) override {
    writer_.set_on_outbox_commit(std::move(fn));
  }
  void stop() override { writer_.stop(); }
  std::int64_t database_time_ms() override { return reads_pool_.now_ms(); }
  const std::string& instance_id() const override { return writer_.instance_id(); }

 private:
  static std::string instance_name(const std::string& path, const OpenOptions& options) {
    if (!options.instance_name.empty() || !detail::is_postgres(path)) return options.instance_name;
    return options.default_instance_name;
  }
  static std::vector<AppliedMigration> migrate_and_register(const std::string& path,
                                                            const OpenOptions& options,
                                                            std::int64_t now) {
    auto applied = migrate(path);
    // On a connection of their own, before the writer and the readers
    // open: opening a writer connection creates the file with ::open and
    // ::close (sqlite_driver.cpp), and closing any descriptor of a file drops
    // every POSIX lock the process holds on it, SQLite's WAL locks of the
    // connections already open included (another process may then reset
    // the WAL under them).
    for (const auto& [channel, text] : options.consent_texts)
      register_consent_text(path, channel, text, now);
    return applied;
  }

  std::vector<AppliedMigration> applied_;
  DatabaseSettings settings_;
  WriteQueue writer_;
  ReadPool reads_pool_;
  QueuedUnitOfWork writes_;
  PooledReadStore reads_;
  PooledSubscriberReads subscriber_reads_;
  WriterOutbox outbox_;
  StoredBroadcasts broadcasts_;
  StoredImports imports_;
  SqliteAdminStore admin_;
  WriterRateGrants rate_grants_;
};

// The broadcast reads of StoredBroadcasts without a writer: get, list,
// counts and recipients go to the read connections only.
class ReadOnlyBroadcasts final : public BroadcastReads {
 public:
  explicit ReadOnlyBroadcasts(const std::string& path) : reads_(path, 1) {}
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
  ReadPool reads_;
};

}  // namespace

std::unique_ptr<Database> open(const std::string& path, const OpenOptions& options,
                               std::int64_t now) {
  return std::make_unique<StoredDatabase>(path, options, now);
}

std::unique_ptr<BroadcastReads> open_broadcast_reads(const std::string& path) {
  return std::make_unique<ReadOnlyBroadcasts>(path);
}

}  // namespace sc::storage
