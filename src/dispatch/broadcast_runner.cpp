#include "sc/dispatch/broadcast_runner.h"

#include <pthread.h>

#include <chrono>
#include <exception>

#include "sc/core/broadcast_lifecycle.h"

namespace sc {

BroadcastRunner::BroadcastRunner(BroadcastTransactions& tx, const Clock& clock, Options options,
                                 std::function<void()> on_queued)
    : tx_(tx), clock_(clock), options_(options), on_queued_(std::move(on_queued)) {}

BroadcastRunner::~BroadcastRunner() { stop(); }

void BroadcastRunner::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sc-broadcasts");
    loop();
  });
}

void BroadcastRunner::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BroadcastRunner::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void BroadcastRunner::loop() {
  while (true) {
    bool busy = false;
    try {
      busy = step();
    } catch (const std::exception& e) {
      failures_log_.log(e.what(), std::string("broadcasts: ") + e.what());
    }
    std::unique_lock lk(mu_);
    if (stopping_) return;
    // More chunks to write: go on at once (each chunk is its own
    // background transaction, so requests get the writer in between).
    if (busy) continue;
    cv_.wait_for(lk, std::chrono::milliseconds(options_.poll_ms),
                 [&] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

bool BroadcastRunner::step() {
  std::vector<Broadcast> active;
  tx_.run_background([&](BroadcastDrafts& drafts, BroadcastLedger&) { active = drafts.active(); });
  bool changed = false;
  bool queued = false;
  for (const auto& seen : active) {
    const auto now = clock_.now_unix();
    tx_.run_background([&](BroadcastDrafts& drafts, BroadcastLedger& ledger) {
      // One instance at a time advances a broadcast: the one holding its
      // lease, renewed at every step and taken over by another instance
      // once it runs out. Nobody else can take it before this transaction
      // ends, so the snapshot chunk or the completion below is written once.
      if (!drafts.take_run_lease(seen.id, now, now + options_.lease_seconds)) return;
      // The state machine's runner part is core's (broadcast_lifecycle.h).
      const auto p = advance_broadcast(drafts, ledger, seen.id, options_.chunk_rows, now);
      changed = changed || p.changed;
      queued = queued || p.queued;
    });
  }
  if (queued && on_queued_) on_queued_();
  return changed;
}

}  // namespace sc
