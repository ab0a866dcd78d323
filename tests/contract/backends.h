// The storage backends the contract suite runs against, each behind the
// same ports, and the helpers the cases share. A new backend is one class
// here (the ports over a fresh database, plus the few hooks a test needs
// beside the ports) and one type in the Backends list below.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/broadcast.h"
#include "sc/core/import.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/reads.h"
#include "sc/core/ports/unit_of_work.h"
#include "sc/storage/adapters.h"
#include "sc/storage/admin_keys.h"
#include "sc/storage/storage.h"
#include "support/memory_storage.h"
#include "support/temp_dir.h"
#include "support/unit_fakes.h"

namespace sc::contract {

// One outbox row as a test inspects it (what both backends can tell).
struct OutboxRowView {
  std::int64_t id = 0;
  std::string state, provider, provider_message_id, last_code, last_error, wait_reason;
  int attempts = 0;
  std::int64_t next_attempt_at = 0;
  OutboxLane lane = OutboxLane::kTransactional;
  bool handed_over = false;  // leased, and marked handed over to its provider
};

// Another instance on a backend's database: its own connections (its own
// writer, racing the first one's) and its own instance id, under a name, as
// a second process on one PostgreSQL database has. Its leases are its own
// (OutboxStore). The memory backend's shares the first one's data and lock.
class Instance {
 public:
  virtual ~Instance() = default;
  virtual OutboxTransactions& outbox() = 0;
  virtual BroadcastTransactions& broadcast_transactions() = 0;
  virtual UnitOfWork& unit_of_work() = 0;
  virtual AdminStore& admin() = 0;
  virtual RateGrants& rate_grants() = 0;
  virtual ImportTransactions& import_transactions() = 0;
};

// Every port over one fresh database, and the hooks beside the ports.
class Backend {
 public:
  virtual ~Backend() = default;
  // Another instance on this database, named `name` (a restart under the
  // same name finds what its earlier run left leased).
  virtual std::unique_ptr<Instance> instance(const std::string& name) = 0;
  virtual UnitOfWork& unit_of_work() = 0;
  virtual OutboxTransactions& outbox() = 0;
  virtual BroadcastTransactions& broadcast_transactions() = 0;
  virtual BroadcastReads& broadcast_reads() = 0;
  virtual ReadStore& reads() = 0;
  virtual SubscriberReads& subscriber_reads() = 0;
  virtual AdminStore& admin() = 0;
  virtual RateGrants& rate_grants() = 0;
  virtual ImportTransactions& import_transactions() = 0;
  virtual ImportReads& import_reads() = 0;
  // Another instance on the same database, with a name of its own.
  std::unique_ptr<Instance> another_instance() { return instance(""); }
  // The clock tests move; the backend stamps what it stamps itself with it
  // where it can (SQLite still uses its own `now` for a message's queue time).
  unit::FakeClock& clock() { return clock_; }

  // Deployment and CLI steps beside the ports.
  virtual void register_consent_text(ChannelKind kind, const ConsentText& text) = 0;
  // true when done (false: the name is taken / unknown or already revoked).
  virtual bool create_admin_key(const std::string& name, Scope scope, const std::string& key,
                                std::int64_t now) = 0;
  virtual bool revoke_admin_key(const std::string& name, std::int64_t now) = 0;
  // Inspection (nullopt: no such row).
  virtual std::optional<OutboxRowView> outbox_row(std::int64_t id) = 0;
  // Tries to change or remove logged rows behind the ports' back, and must
  // be refused (throw). False: this backend has nothing below its ports to
  // try it with (the memory one: no port changes or removes a logged row).
  virtual bool update_consent_log() = 0;
  virtual bool delete_consent_log() = 0;
  virtual bool update_audit_log() = 0;
  virtual bool delete_audit_log() = 0;
  // Runs one statement below the ports (must throw when the database refuses
  // it); false: the memory backend has nothing below its ports.
  virtual bool run_sql(const std::string& sql) = 0;

 protected:
  unit::FakeClock clock_{1000};
};

class MemoryBackend final : public Backend {
 public:
  static constexpr const char* kName = "Memory";
  UnitOfWork& unit_of_work() override { return db_.unit_of_work(); }
  OutboxTransactions& outbox() override { return db_.outbox(); }
  BroadcastTransactions& broadcast_transactions() override { return db_.broadcast_transactions(); }
  BroadcastReads& broadcast_reads() override { return db_.broadcast_reads(); }
  ReadStore& reads() override { return db_.reads(); }
  SubscriberReads& subscriber_reads() override { return db_.subscriber_reads(); }
  AdminStore& admin() override { return db_.admin(); }
  RateGrants& rate_grants() override { return db_.rate_grants(); }
  ImportTransactions& import_transactions() override { return db_.import_transactions(); }
  ImportReads& import_reads() override { return db_.import_reads(); }
  void register_consent_text(ChannelKind, const ConsentText& text) override {
    db_.register_consent_text(text);
  }
  bool create_admin_key(const std::string& name, Scope scope, const std::string& key,
                        std::int64_t now) override {
    return db_.create_admin_key(name, scope, key, "cli", now) ==
           unit::MemoryStorage::KeyChange::kDone;
  }
  bool revoke_admin_key(const std::string& name, std::int64_t now) override {
    return db_.revoke_admin_key(name, "cli", now) == unit::MemoryStorage::KeyChange::kDone;
  }
  std::optional<OutboxRowView> outbox_row(std::int64_t id) override {
    auto r = db_.outbox_row(id);
    if (!r) return std::nullopt;
    return OutboxRowView{r->id,
                         r->state,
                         r->provider,
                         r->provider_message_id,
                         r->last_code,
                         r->last_error,
                         r->wait_reason,
                         r->attempts,
                         r->next_attempt_at,
                         r->lane,
                         r->state == "sending" && r->handed_over};
  }
  bool update_consent_log() override { return false; }
  bool delete_consent_log() override { return false; }
  bool update_audit_log() override { return false; }
  bool delete_audit_log() override { return false; }
  bool run_sql(const std::string&) override { return false; }
  unit::MemoryStorage& storage() { return db_; }
  std::unique_ptr<Instance> instance(const std::string& name) override {
    struct Other final : Instance {
      Other(unit::MemoryStorage& db, const Clock& clock, const std::string& name)
          : storage(db, clock, name) {}
      OutboxTransactions& outbox() override { return storage.outbox(); }
      BroadcastTransactions& broadcast_transactions() override {
        return storage.broadcast_transactions();
      }
      UnitOfWork& unit_of_work() override { return storage.unit_of_work(); }
      AdminStore& admin() override { return storage.admin(); }
      RateGrants& rate_grants() override { return storage.rate_grants(); }
      ImportTransactions& import_transactions() override { return storage.import_transactions(); }
      unit::MemoryStorage storage;
    };
    return std::make_unique<Other>(db_, clock_, name);
  }

 private:
  unit::MemoryStorage db_{clock_};
};

// The real storage at a location (a SQLite file or a PostgreSQL URL): the
// writer, the read pool and the adapters, over a migrated database.
class StoredBackend : public Backend {
 public:
  explicit StoredBackend(std::string location,
                         storage::WriteQueue::Options writer = storage::WriteQueue::Options{})
      : location_(std::move(location)),
        writer_(location_, writer),
        reads_(location_, 2),
        uow_(writer_),
        outbox_(writer_, reads_),
        broadcasts_(writer_, reads_),
        read_store_(reads_),
        subscriber_reads_(reads_),
        admin_(writer_, reads_),
        grants_(writer_),
        imports_(writer_, reads_) {}
  UnitOfWork& unit_of_work() override { return uow_; }
  OutboxTransactions& outbox() override { return outbox_; }
  BroadcastTransactions& broadcast_transactions() override { return broadcasts_; }
  BroadcastReads& broadcast_reads() override { return broadcasts_; }
  ReadStore& reads() override { return read_store_; }
  SubscriberReads& subscriber_reads() override { return subscriber_reads_; }
  AdminStore& admin() override { return admin_; }
  RateGrants& rate_grants() override { return grants_; }
  ImportTransactions& import_transactions() override { return imports_; }
  ImportReads& import_reads() override { return imports_; }
  void register_consent_text(ChannelKind kind, const ConsentText& text) override {
    storage::register_consent_text(location_, kind, text, clock_.now_unix());
  }
  bool create_admin_key(const std::string& name, Scope scope, const std::string& key,
                        std::int64_t now) override {
    return storage::create_admin_key(location_, name, scope, key, "cli", now) ==
           storage::KeyChange::kDone;
  }
  bool revoke_admin_key(const std::string& name, std::int64_t now) override {
    return storage::revoke_admin_key(location_, name, "cli", now) == storage::KeyChange::kDone;
  }
  std::optional<OutboxRowView> outbox_row(std::int64_t id) override;
  bool update_consent_log() override;
  bool delete_consent_log() override;
  bool update_audit_log() override;
  bool delete_audit_log() override;
  bool run_sql(const std::string& sql) override;
  storage::WriteQueue& writer() { return writer_; }
  const std::string& location() const { return location_; }
  std::unique_ptr<Instance> instance(const std::string& name) override {
    struct Other final : Instance {
      Other(const std::string& location, const std::string& name)
          : writer(location, storage::WriteQueue::Options{.instance_name = name}),
            reads(location, 1),
            outbox_tx(writer, reads),
            broadcasts(writer, reads),
            uow(writer),
            admin_store(writer, reads),
            grants(writer),
            imports(writer, reads) {}
      OutboxTransactions& outbox() override { return outbox_tx; }
      BroadcastTransactions& broadcast_transactions() override { return broadcasts; }
      UnitOfWork& unit_of_work() override { return uow; }
      AdminStore& admin() override { return admin_store; }
      RateGrants& rate_grants() override { return grants; }
      ImportTransactions& import_transactions() override { return imports; }
      storage::WriteQueue writer;
      storage::ReadPool reads;
      storage::WriterOutbox outbox_tx;
      storage::StoredBroadcasts broadcasts;
      storage::QueuedUnitOfWork uow;
      storage::SqliteAdminStore admin_store;
      storage::WriterRateGrants grants;
      storage::StoredImports imports;
    };
    return std::make_unique<Other>(location_, name);
  }

 private:
  std::string location_;
  storage::WriteQueue writer_;
  storage::ReadPool reads_;
  storage::QueuedUnitOfWork uow_;
  storage::WriterOutbox outbox_;
  storage::StoredBroadcasts broadcasts_;
  storage::PooledReadStore read_store_;
  storage::PooledSubscriberReads subscriber_reads_;
  storage::SqliteAdminStore admin_;
  storage::WriterRateGrants grants_;
  storage::StoredImports imports_;
};

// SQLite on a fresh file in a temp dir. The dir is a base before the
// storage, so it is removed only after every connection has closed.
struct TempDirFirst {
  testing::TempDir dir;
};
class SqliteBackend final : private TempDirFirst, public StoredBackend {
 public:
  static constexpr const char* kName = "Sqlite";
  SqliteBackend() : StoredBackend(migrated(dir.str("db/sc.db"))) {}
  const std::string& path() const { return location(); }

 private:
  static std::string migrated(std::string path) {
    storage::migrate(path);
    return path;
  }
};

// PostgreSQL 15: a database of its own per case, cloned from a template
// migrated once per test binary, on the binary's throwaway cluster.
class PostgresBackend final : public StoredBackend {
 public:
  static constexpr const char* kName = "Postgres";
  // Two writer connections, as the service has several: batches commit in
  // parallel, and every case holds with that.
  PostgresBackend() : StoredBackend(fresh_database(), two_writers()) {}

 private:
  static std::string fresh_database();
  static storage::WriteQueue::Options two_writers() {
    storage::WriteQueue::Options o;
    o.connections = 2;
    return o;
  }
};

// The backends every case runs against.
using Backends = ::testing::Types<MemoryBackend, SqliteBackend, PostgresBackend>;
struct BackendNames {
  template <class B>
  static std::string GetName(int) {
    return B::kName;
  }
};

// The helpers the cases share, over whichever backend.
// Both broadcast write ports of one transaction as one object, so a case can
// call either kind of method on it.
struct BroadcastStores {
  BroadcastDrafts& drafts;
  BroadcastLedger& ledger;

  std::int64_t insert(const Broadcast& b) { return drafts.insert(b); }
  std::optional<Broadcast> find(std::int64_t id) { return drafts.find(id); }
  std::optional<Broadcast> find_by_idempotency_key(const std::string& key_name,
                                                   const std::string& key) {
    return drafts.find_by_idempotency_key(key_name, key);
  }
  void update_content(const Broadcast& b) { drafts.update_content(b); }
  void set_status(std::int64_t id, BroadcastStatus st, const std::string& reason,
                  std::int64_t now) {
    drafts.set_status(id, st, reason, now);
  }
  std::vector<std::string> unknown_topics(const std::vector<std::string>& topics) {
    return drafts.unknown_topics(topics);
  }
  std::vector<Broadcast> active() { return drafts.active(); }
  bool has_audience(const Broadcast& b) { return ledger.has_audience(b); }
  int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) {
    return ledger.snapshot_chunk(b, max_rows, now);
  }
  SnapshotAhead snapshot_ahead(const Broadcast& b, int max_rows, int after_chunks,
                               std::int64_t now) {
    return ledger.snapshot_ahead(b, max_rows, after_chunks, now);
  }
  int skip_queued(std::int64_t id, int max_rows, std::int64_t now) {
    return ledger.skip_queued(id, max_rows, now);
  }
  bool has_unfinished(std::int64_t id) { return ledger.has_unfinished(id); }
  int requeue(std::int64_t id, const std::string& state, std::int64_t now) {
    return ledger.requeue(id, state, now);
  }
};

class Db {
 public:
  // When the fixture's messages are queued: before the cases' claims at 1000.
  static constexpr std::int64_t kQueuedAt = 900;
  explicit Db(Backend& b) : b_(b) {}
  Backend& backend() { return b_; }
  unit::FakeClock& clock() { return b_.clock(); }

  // A write transaction (UnitOfWork::run) with a result.
  template <class F>
  auto write(F&& f) {
    return b_.unit_of_work().write(std::forward<F>(f));
  }
  // A dispatcher transaction (OutboxTransactions::run) with a result.
  template <class F>
  auto outbox_tx(F&& f) -> std::invoke_result_t<F&, const OutboxTransaction&> {
    using R = std::invoke_result_t<F&, const OutboxTransaction&>;
    if constexpr (std::is_void_v<R>) {
      b_.outbox().run([&](const OutboxTransaction& t) { f(t); });
    } else {
      std::optional<R> out;
      b_.outbox().run([&](const OutboxTransaction& t) { out.emplace(f(t)); });
      return std::move(*out);
    }
  }
  // A request's broadcast transaction with a result.
  template <class F>
  auto broadcast_tx(F&& f) -> std::invoke_result_t<F&, BroadcastStores&> {
    using R = std::invoke_result_t<F&, BroadcastStores&>;
    if constexpr (std::is_void_v<R>) {
      b_.broadcast_transactions().run([&](const BroadcastTransaction& t) {
        BroadcastStores s{t.drafts, t.ledger};
        f(s);
      });
    } else {
      std::optional<R> out;
      b_.broadcast_transactions().run([&](const BroadcastTransaction& t) {
        BroadcastStores s{t.drafts, t.ledger};
        out.emplace(f(s));
      });
      return std::move(*out);
    }
  }

  // The one place the suite claims: core's claim policy over the backend's outbox.
  std::vector<ClaimedMessage> claim(std::int64_t now, ClaimLimits limits,
                                    std::int64_t lease_until) {
    return outbox_tx(
        [&](const OutboxTransaction& t) { return claim_due(t.outbox, now, limits, lease_until); });
  }
  std::vector<ClaimedMessage> claim(std::int64_t now, int limit = 100,
                                    std::int64_t lease_until = 0) {
    return claim(now, ClaimLimits{limit, limit, limit}, lease_until == 0 ? now + 300 : lease_until);
  }
  static std::vector<std::int64_t> ids_of(const std::vector<ClaimedMessage>& ms) {
    std::vector<std::int64_t> out;
    for (const auto& m : ms) out.push_back(m.id);
    return out;
  }

  std::int64_t add_channel(const std::string& address, ConsentState state = ConsentState::kPending,
                           ChannelKind kind = ChannelKind::kEmail,
                           const std::string& first_name = "") {
    return write([&](const Transaction& tx) {
      Subscriber s;
      s.first_name = first_name;
      s.created_at = 100;
      auto sid = tx.subscribers.insert_subscriber(s);
      Channel ch;
      ch.subscriber_id = sid;
      ch.kind = kind;
      ch.address = address;
      ch.state = state;
      ch.created_at = 100;
      ch.updated_at = 100;
      return tx.subscribers.insert_channel(ch);
    });
  }
  std::int64_t subscriber_of(std::int64_t channel_id) {
    return write([&](const Transaction& tx) {
      return tx.subscribers.channel_by_id(channel_id)->subscriber_id;
    });
  }
  void set_state(std::int64_t channel_id, ConsentState state) {
    write([&](const Transaction& tx) {
      tx.subscribers.update_channel_state(channel_id, state, 200);
    });
  }
  static OutboundEmail sample_email(const std::string& to) {
    OutboundEmail m;
    m.message_id = "m-" + to + "@mail.example.org";
    m.date_unix = 1234;
    m.from = {"news@mail.example.org", "Example"};
    m.to = {to, ""};
    m.subject = "Subject \xe2\x9c\x93";
    m.text = "text body";
    m.html = "<p>html</p>";
    m.list_unsubscribe_url = "https://news.example.org/unsubscribe/u.1.0.ab";
    m.extra_headers = {{"X-Campaign", "7"}};
    m.template_name = "welcome";
    m.template_vars = {{"first_name", "Ann"}};
    return m;
  }
  // A broadcast in `status` (sending: its queued messages are claimed).
  std::int64_t create_broadcast(ChannelKind kind, std::vector<std::string> topics = {},
                                BroadcastStatus status = BroadcastStatus::kSending) {
    return broadcast_tx([&](BroadcastStores& s) {
      Broadcast b;
      b.channel = kind;
      b.subject = "S";
      b.text = "Hello {{first_name}}";
      b.topics = std::move(topics);
      b.created_at = 1000;
      auto id = s.insert(b);
      if (status != BroadcastStatus::kDraft) s.set_status(id, status, "", 1000);
      return id;
    });
  }
  // Queues an email; with a broadcast (which must exist), in its ledger.
  std::int64_t enqueue_email(std::int64_t channel_id, const std::string& to,
                             std::int64_t broadcast_id = 0) {
    return write([&](const Transaction& tx) {
      OutboxEntry e;
      e.queued_at = kQueuedAt;
      e.kind = OutboxKind::kEmail;
      e.channel_id = channel_id;
      e.broadcast_id = broadcast_id;
      e.purpose = broadcast_id ? "broadcast" : "confirm";
      return tx.messages.enqueue_email(e, sample_email(to));
    });
  }
  // A bulk email in a broadcast of its own, sending.
  std::int64_t enqueue_bulk_email(std::int64_t channel_id, const std::string& to) {
    return enqueue_email(channel_id, to, create_broadcast(ChannelKind::kEmail));
  }
  std::int64_t enqueue_sms(std::int64_t channel_id, const std::string& to) {
    return write([&](const Transaction& tx) {
      OutboxEntry e;
      e.queued_at = kQueuedAt;
      e.kind = OutboxKind::kSms;
      e.channel_id = channel_id;
      e.purpose = "confirm";
      OutboundSms s;
      s.to = to;
      s.body = "Reply YES";
      return tx.messages.enqueue_sms(e, s);
    });
  }
  // Snapshots in chunks of `chunk` until done; returns the rows added.
  int snapshot(std::int64_t id, int chunk) {
    int added = 0;
    for (int round = 0; round < 1000; ++round) {
      bool done = false;
      b_.broadcast_transactions().run_background([&](BroadcastDrafts& d, BroadcastLedger& l) {
        BroadcastStores s{d, l};
        auto b = s.find(id);
        if (b->snapshot_done) {
          done = true;
          return;
        }
        added += s.snapshot_chunk(*b, chunk, 1000);
      });
      if (done) return added;
    }
    ADD_FAILURE() << "the snapshot never finished";
    return added;
  }
  OutboxRowView row(std::int64_t id) {
    auto r = b_.outbox_row(id);
    if (!r) {
      ADD_FAILURE() << "no outbox row " << id;
      return {};
    }
    return *r;
  }
  std::string state_of(std::int64_t id) { return row(id).state; }
  BroadcastCounts counts(std::int64_t id, std::int64_t now = 1000) {
    return b_.broadcast_reads().counts(id, now);
  }

 private:
  Backend& b_;
};

// The typed fixture: a fresh backend per case.
template <class B>
class Contract : public ::testing::Test {
 protected:
  Db& db() { return db_; }
  B& backend() { return backend_; }

 private:
  B backend_;
  Db db_{backend_};
};

}  // namespace sc::contract
