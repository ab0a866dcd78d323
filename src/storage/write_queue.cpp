#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "admin_sql.h"
#include "driver.h"
#include "sc/storage/storage.h"
#include "sql.h"
#include "sqlite_stores.h"

namespace sc::storage {

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Context final : public WriteContext {
 public:
  Context(detail::Connection& db, const detail::Instance& me)
      : st_(db),
        consent_(st_, outbox_changed, erased),
        outbox_(st_, me),
        broadcasts_(st_, outbox_changed, me),
        audit_(st_),
        rate_grants_(st_),
        imports_(st_, me),
        tx_{consent_, consent_, consent_, consent_, consent_,
            consent_, consent_, audit_,   consent_, consent_},
        outbox_tx_{outbox_, consent_, consent_},
        broadcast_tx_{broadcasts_, broadcasts_, audit_},
        import_tx_{tx_, imports_} {}
  const Transaction& tx() override { return tx_; }
  const OutboxTransaction& outbox_tx() override { return outbox_tx_; }
  OutboxStore& outbox() override { return outbox_; }
  const BroadcastTransaction& broadcast_tx() override { return broadcast_tx_; }
  AuditLog& audit_log() override { return audit_; }
  RateGrants& rate_grants() override { return rate_grants_; }
  const ImportTransaction& import_tx() override { return import_tx_; }
  bool outbox_changed = false;
  bool erased = false;  // a job erased someone (ErasureStore)
  detail::Statements& statements() { return st_; }

 private:
  detail::Statements st_;
  detail::SqliteConsentStore consent_;
  detail::SqliteOutboxStore outbox_;
  detail::SqliteBroadcastStore broadcasts_;
  detail::SqliteAuditLog audit_;
  detail::SqlRateGrants rate_grants_;
  detail::SqlImportStore imports_;
  Transaction tx_;
  OutboxTransaction outbox_tx_;
  BroadcastTransaction broadcast_tx_;
  ImportTransaction import_tx_;
};

// 128 random bits as 32 hex digits.
std::string random_instance_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw StorageError("no random bytes for an instance id");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

// One writer connection, its stores and the thread that commits its batches.
struct Writer {
  std::unique_ptr<detail::Connection> db;
  std::unique_ptr<Context> ctx;
  std::thread thread;
};

struct WriteQueue::Impl {
  Options options;
  Settings settings;
  // One instance: every writer's leases are the instance's.
  detail::Instance instance;
  // One on SQLite (the single writer). On PostgreSQL a few: each takes the
  // next batch from the one queue, so batches commit in parallel on the
  // server, row locks and the job retry keeping them apart as they keep
  // instances apart.
  std::vector<std::unique_ptr<Writer>> writers;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job*> queue;
  bool stopping = false;
  std::function<void()> on_outbox_commit;
  Stats stats;
  DatabaseHealth health;  // from the last batch: a failed one makes it not writable
  metrics::Histogram* batch_jobs = nullptr;
  metrics::Histogram* commit_seconds = nullptr;

  void loop(Writer& w) {
    std::vector<Job*> batch;
    while (true) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stopping || !queue.empty(); });
        if (queue.empty() && stopping) return;
        while (!queue.empty() && batch.size() < options.max_batch) {
          batch.push_back(queue.front());
          queue.pop_front();
        }
      }
      run_batch(w, batch);
      batch.clear();
    }
  }

  // One job in a savepoint of the batch's transaction. A job another
  // instance's transaction got in the way of (driver.h, conflict()) runs
  // again, a few times, in a fresh savepoint: under READ COMMITTED it then
  // sees what the other committed. A deadlock is different: the other
  // transaction waits for a lock an earlier job of this batch holds, so the
  // job would meet it again however often it ran here (two instances'
  // batches creating the same idempotency keys in other orders did, four
  // times over). Such a job is deferred (false) and runs again in the next
  // transaction, after this one has committed and let go of its locks;
  // unless `may_defer` is false. Any other failure is the job's own.
  bool run_job(Writer& w, detail::Statements& st, Job& job, bool may_defer) {
    auto& db = w.db;
    constexpr int kAttempts = 4;
    for (int attempt = 1;; ++attempt) {
      st("writer.savepoint").exec();
      try {
        job.fn(*w.ctx);
        st("writer.release").exec();
        job.error = nullptr;
        return true;
      } catch (const std::exception& e) {
        job.error = std::current_exception();
        if (db->lost()) throw;  // the whole batch failed
        st.reset_all();
        st("writer.rollback_to").exec();
        st("writer.release").exec();
        if (may_defer && db->deadlock(e)) return false;
        if (attempt >= kAttempts || !db->conflict(e)) return true;
      } catch (...) {
        job.error = std::current_exception();
        st.reset_all();
        st("writer.rollback_to").exec();
        st("writer.release").exec();
        return true;
      }
    }
  }

  // A batch, then what it deferred (run_job) in transactions of their own
  // after it, a few rounds at most.
  void run_batch(Writer& w, std::vector<Job*>& batch) {
    constexpr int kRounds = 4;
    std::vector<Job*> deferred;
    for (int round = 1; !batch.empty(); ++round) {
      deferred.clear();
      run_batch_once(w, batch, deferred, round < kRounds);
      batch.swap(deferred);
    }
  }

  static void drop_old_versions(detail::Connection& db) {
    try {
      db.drop_old_versions();
    } catch (const std::exception& e) {
      // The erasure itself has committed; the old versions go at the next
      // checkpoint instead. Said once per failure, never fatal.
      std::fprintf(
          stderr,
          "stayconnected: after an erasure, old row versions stay until the next checkpoint: %s\n",
          e.what());
    }
  }

  // Jobs deferred by run_job are in `deferred` afterwards, not done yet;
  // every other job is done (its semaphore released) when this returns.
  void run_batch_once(Writer& w, const std::vector<Job*>& batch, std::vector<Job*>& deferred,
                      bool may_defer) {
    auto& db = w.db;
    auto& ctx = w.ctx;
    ctx->outbox_changed = false;
    ctx->erased = false;
    std::exception_ptr batch_error;
    std::string cannot_write;  // the database's short reason when the batch failed
    const auto started = std::chrono::steady_clock::now();
    try {
      // Prepared once (sql.h): re-parsing four statements per job showed up
      // in profiles of the single writer thread.
      auto& st = ctx->statements();
      // A PostgreSQL connection the server dropped opens again here (its
      // statements are prepared again); while the server stays away, the
      // batch fails and its requests get 503.
      if (db->lost()) db->reconnect();
      st("writer.begin").exec();
      for (Job* job : batch)
        if (!run_job(w, st, *job, may_defer)) deferred.push_back(job);
      st.reset_all();
      st("writer.commit").exec();
      // An erasure is done when no old version of what it removed is left
      // where the database can drop it; its request waits for this.
      if (ctx->erased) drop_old_versions(*db);
    } catch (const std::exception& e) {
      batch_error = std::make_exception_ptr(StorageError(std::string("write failed: ") + e.what()));
      cannot_write = db->failure_reason(e);
      ctx->statements().reset_all();
      try {
        if (!db->lost() && db->in_transaction()) ctx->statements()("writer.rollback").exec();
      } catch (...) {
      }
    }
    if (commit_seconds != nullptr) {
      commit_seconds->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      batch_jobs->observe(static_cast<double>(batch.size()));
    }
    bool notify = ctx->outbox_changed && !batch_error;
    std::function<void()> on_commit;
    {
      std::lock_guard lk(mu);
      stats.commits += 1;
      stats.jobs += batch.size();
      if (batch_error && health.writable) health.since = unix_now();
      health.writable = !batch_error;
      health.reason = batch_error ? "database cannot write: " + cannot_write : "";
      if (notify) on_commit = on_outbox_commit;  // set_on_outbox_commit may run concurrently
    }
    if (batch_error) deferred.clear();  // nothing of the batch committed: all fail
    for (Job* job : batch) {
      if (std::find(deferred.begin(), deferred.end(), job) != deferred.end()) continue;
      if (batch_error && !job->error) job->error = batch_error;
      job->done.release();  // the job object may vanish right after this
    }
    if (on_commit) on_commit();
  }
};

WriteQueue::WriteQueue(const std::string& path, Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->instance.id = random_instance_id();
  if (options.metrics != nullptr) {
    impl_->batch_jobs = &options.metrics->histogram(
        "sc_writer_batch_jobs", "Jobs committed together by the single writer (group commit).",
        {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
    impl_->commit_seconds = &options.metrics->histogram(
        "sc_writer_commit_seconds",
        "Time from BEGIN to COMMIT of one group commit, fsync included.",
        metrics::latency_buckets());
  }
  auto first = std::make_unique<Writer>();
  first->db = detail::connect(path, detail::Mode::kWriter, options.synchronous_full);
  // Unnamed: on SQLite every run is the one process the file has, so each
  // start hands back all a dead run left, as always; elsewhere a run of its own.
  impl_->instance.name = !options.instance_name.empty()                     ? options.instance_name
                         : first->db->dialect() == detail::Dialect::kSqlite ? "local"
                                                                            : impl_->instance.id;
  try {
    detail::Statements st(*first->db);
    impl_->settings.journal_mode = st("writer.journal_mode").value<std::string>().value_or("");
    impl_->settings.synchronous = st("writer.synchronous").value<std::string>().value_or("");
    impl_->settings.foreign_keys = st("writer.foreign_keys").value<int>() == 1;
  } catch (const std::exception& e) {
    throw StorageError("cannot read the settings of database " + detail::redact(path) + ": " +
                       e.what());
  }
  const bool many = first->db->dialect() == detail::Dialect::kPostgres;
  impl_->writers.push_back(std::move(first));
  for (std::size_t i = 1; many && i < std::max<std::size_t>(1, options.connections); ++i) {
    impl_->writers.push_back(std::make_unique<Writer>());
    impl_->writers.back()->db = detail::connect(path, detail::Mode::kWriter);
  }
  for (auto& w : impl_->writers) {
    w->ctx = std::make_unique<Context>(*w->db, impl_->instance);
    Writer* wp = w.get();
    w->thread = std::thread([this, wp] {
      pthread_setname_np(pthread_self(), "sc-writer");
      impl_->loop(*wp);
    });
  }
}

WriteQueue::~WriteQueue() { stop(); }

void WriteQueue::set_on_outbox_commit(std::function<void()> fn) {
  std::lock_guard lk(impl_->mu);
  impl_->on_outbox_commit = std::move(fn);
}

void WriteQueue::stop() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& w : impl_->writers) {
    if (w->thread.joinable()) w->thread.join();
    w->ctx.reset();
  }
}

void WriteQueue::submit_and_wait(Job& job) {
  {
    std::lock_guard lk(impl_->mu);
    if (impl_->stopping) throw StorageError("the database writer is shutting down");
    impl_->queue.push_back(&job);
  }
  impl_->cv.notify_one();
  job.done.acquire();
  if (job.error) std::rethrow_exception(job.error);
}

const WriteQueue::Settings& WriteQueue::settings() const { return impl_->settings; }

DatabaseHealth WriteQueue::health() const {
  std::lock_guard lk(impl_->mu);
  return impl_->health;
}

const std::string& WriteQueue::instance_id() const { return impl_->instance.id; }

const std::string& WriteQueue::instance_name() const { return impl_->instance.name; }
std::size_t WriteQueue::connections() const { return impl_->writers.size(); }

WriteQueue::Stats WriteQueue::stats() const {
  std::lock_guard lk(impl_->mu);
  auto s = impl_->stats;
  s.pending = impl_->queue.size();
  return s;
}

}  // namespace sc::storage
