#include "sc/dispatch/broadcast_runner.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

namespace {

// The chunks written ahead, each on a thread of its own, held back until the
// locked chunk's job has begun on its writer connection (so that each runs
// on a connection of its own rather than one after another in one batch);
// they have all ended when this is destroyed.
class AheadThreads {
 public:
  ~AheadThreads() {
    begin();
    for (auto& t : threads_) t.join();
  }
  void start(std::function<void()> fn) {
    threads_.emplace_back([this, fn = std::move(fn)] {
      pthread_setname_np(pthread_self(), "sc-ahead");
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return begun_; });
      }
      fn();
    });
  }
  void begin() {
    {
      std::lock_guard lk(mu_);
      begun_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool begun_ = false;
  std::vector<std::thread> threads_;
};

// The ranges written ahead that follow on from the first, as one.
SnapshotAhead contiguous(const std::vector<std::optional<SnapshotAhead>>& written) {
  SnapshotAhead out;
  for (const auto& w : written) {
    if (!w || w->to <= w->from || (out.to > out.from && w->from != out.to)) break;
    if (out.to <= out.from) out.from = w->from;
    out.to = w->to;
    out.added += w->added;
  }
  return out;
}

}  // namespace

bool BroadcastRunner::step() {
  // One step at a time (the loop's thread, or a test driving it beside the loop).
  std::lock_guard step_lock(step_mu_);
  std::vector<Broadcast> active;
  tx_.run_background([&](BroadcastDrafts& drafts, BroadcastLedger&) { active = drafts.active(); });
  std::map<std::int64_t, Snapshotting> still;
  bool changed = false;
  bool queued = false;
  for (const auto& seen : active) {
    auto& s = still[seen.id] = snapshots_[seen.id];
    const auto p = advance(seen, s);
    changed = changed || p.changed;
    queued = queued || p.queued;
  }
  snapshots_ = std::move(still);
  if (queued && on_queued_) on_queued_();
  return changed;
}

BroadcastProgress BroadcastRunner::advance(const Broadcast& seen, Snapshotting& s) {
  const auto now = clock_.now_unix();
  BroadcastProgress p;
  // Several writer connections: the chunks after the next are written beside
  // the locked one (each on a connection and a server process of its own),
  // while this instance holds the broadcast's lease (taken less than half a
  // lease ago; without it another instance may be writing the same chunks).
  const bool holds = s.lease_taken_at >= 0 && now - s.lease_taken_at < options_.lease_seconds / 2;
  const int ahead = seen.status == BroadcastStatus::kSending && !seen.snapshot_done && holds
                        ? std::min(options_.max_chunks_ahead, tx_.parallel_writers() - 1)
                        : 0;
  const SnapshotAhead written = s.written;
  s.written = {};
  std::vector<std::optional<SnapshotAhead>> next(static_cast<std::size_t>(std::max(ahead, 0)));
  std::vector<std::string> errors(next.size());
  bool took = false;
  {
    AheadThreads helpers;
    // Where the locked chunk starts (advance_broadcast's rule).
    Broadcast from = seen;
    if (written.from == seen.snapshot_cursor && written.to > written.from)
      from.snapshot_cursor = written.to;
    for (std::size_t i = 0; i < next.size(); ++i)
      helpers.start([&, from, i] {
        try {
          tx_.run_background([&](BroadcastDrafts&, BroadcastLedger& ledger) {
            next[i] =
                ledger.snapshot_ahead(from, options_.chunk_rows, static_cast<int>(i) + 1, now);
          });
        } catch (const std::exception& e) {
          next[i].reset();
          errors[i] = e.what();
        }
      });
    tx_.run_background([&](BroadcastDrafts& drafts, BroadcastLedger& ledger) {
      helpers.begin();
      // One instance at a time advances a broadcast: the one holding its
      // lease, renewed at every step and taken over by another instance
      // once it runs out. Nobody else can take it before this transaction
      // ends, so the snapshot chunk or the completion below is written once.
      took = drafts.take_run_lease(seen.id, now, now + options_.lease_seconds).has_value();
      if (!took) return;
      // The state machine's runner part is core's (broadcast_lifecycle.h).
      p = advance_broadcast(drafts, ledger, seen.id, options_.chunk_rows, now, &written);
    });
  }  // the chunks ahead have committed (or failed)
  if (took) s.lease_taken_at = now;
  for (const auto& e : errors)
    if (!e.empty()) failures_log_.log(e, std::string("broadcasts: a chunk ahead: ") + e);
  for (const auto& n : next)
    if (n && n->added > 0) p.queued = p.changed = true;
  // Only what follows on from the locked chunk's end can be skipped next time.
  s.written = contiguous(next);
  if (s.written.to > s.written.from) p.changed = true;
  return p;
}

}  // namespace sc
