#include "sc/dispatch/import_runner.h"

#include <pthread.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace sc {

namespace {

// This instance no longer holds the import (another took it over).
struct LostLease : std::runtime_error {
  LostLease() : std::runtime_error("import: the lease was lost") {}
};

}  // namespace

ImportRunner::ImportRunner(ConsentService& service, ImportTransactions& tx, ImportReads& reads,
                           const Clock& clock, Options options)
    : service_(service), tx_(tx), reads_(reads), clock_(clock), options_(std::move(options)) {}

ImportRunner::~ImportRunner() { stop(); }

void ImportRunner::start() {
  // What a killed run of this instance held is free again at once.
  const auto now = clock_.now_unix();
  tx_.run_background([&](const ImportTransaction& t) { t.imports.release_own(now); });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sc-imports");
    loop();
  });
}

void ImportRunner::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImportRunner::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

std::int64_t ImportRunner::current() const {
  std::lock_guard lk(mu_);
  return job_ ? job_->id : 0;
}

void ImportRunner::loop() {
  while (true) {
    bool busy = false;
    try {
      busy = step();
    } catch (const std::exception& e) {
      // A failed part is tried again from the import's stored progress
      // (the lease runs out, or this runner claims it again).
      failures_log_.log(e.what(), std::string("imports: ") + e.what());
      std::lock_guard lk(mu_);
      job_.reset();
      engine_.reset();
    }
    std::unique_lock lk(mu_);
    if (stopping_) return;
    if (busy) continue;
    cv_.wait_for(lk, std::chrono::milliseconds(options_.poll_ms),
                 [&] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

void ImportRunner::claim() {
  std::optional<ImportJob> job;
  tx_.run_background([&](const ImportTransaction& t) {
    for (auto id : t.imports.stale_uploads()) t.imports.drop(id);
    job = t.imports.claim(options_.lease_ms);
  });
  if (!job) return;
  std::unique_ptr<ImportEngine> engine;
  try {
    engine = std::make_unique<ImportEngine>(service_, *job, options_.settings);
  } catch (const std::invalid_argument&) {
    std::lock_guard lk(mu_);
    job_ = job;
    engine_.reset();
    next_part_ = job->next_part;
    return;  // step() fails it
  }
  // After a restart: the rows applied before count for duplicates.
  for (std::int64_t seq = 0; seq < job->next_part; ++seq) {
    if (auto part = reads_.part(job->id, seq)) engine->remember(*part);
  }
  std::lock_guard lk(mu_);
  job_ = job;
  engine_ = std::move(engine);
  next_part_ = job->next_part;
}

void ImportRunner::finish(ImportStatus status, const std::string& error) {
  const auto id = job_->id;
  const auto now = clock_.now_unix();
  tx_.run_background([&](const ImportTransaction& t) { t.imports.finish(id, status, now, error); });
  std::lock_guard lk(mu_);
  job_.reset();
  engine_.reset();
}

bool ImportRunner::step() {
  if (!job_) claim();
  if (!job_) return false;
  if (!engine_) {
    finish(ImportStatus::kFailed, "the stored header does not parse");
    return true;
  }
  if (next_part_ >= job_->parts) {
    finish(ImportStatus::kCompleted, "");
    return true;
  }
  auto part = reads_.part(job_->id, next_part_);
  if (!part) {
    finish(ImportStatus::kFailed, "part " + std::to_string(next_part_) + " is missing");
    return true;
  }
  const auto rows = engine_->prepare(*part);
  const auto now = clock_.now_unix();
  ImportEngine::Applied applied;
  try {
    tx_.run_background([&](const ImportTransaction& t) {
      applied = engine_->apply(t.tx, rows, now);
      if (!t.imports.progress(job_->id, next_part_, applied.counts, applied.confirms_email,
                              applied.confirms_sms, options_.lease_ms))
        throw LostLease();
      t.imports.add_rows(job_->id, applied.verdicts);
    });
  } catch (const LostLease&) {
    std::lock_guard lk(mu_);
    job_.reset();
    engine_.reset();
    return true;
  }
  engine_->committed(applied);
  ++next_part_;
  return true;
}

}  // namespace sc
