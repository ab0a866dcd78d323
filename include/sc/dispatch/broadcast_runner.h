// BroadcastRunner: moves broadcasts along in the background. It starts a
// scheduled broadcast when its time comes, writes a sending broadcast's
// recipients into the ledger in chunks (one background transaction each, so
// the single writer is never held long enough to stall sign-ups), clears the
// queued rows of a cancelled one, and marks a broadcast completed when its
// ledger is done. The Dispatcher sends the rows. With several instances on
// one database, one at a time advances a given broadcast: the holder of its
// lease (BroadcastDrafts::take_run_lease).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "sc/core/broadcast.h"
#include "sc/core/broadcast_lifecycle.h"
#include "sc/core/ports/services.h"
#include "sc/core/throttled_log.h"

namespace sc {

class BroadcastRunner {
 public:
  struct Options {
    int chunk_rows = 5000;       // recipients per snapshot transaction
    std::int64_t poll_ms = 500;  // look for due work this often
    // A broadcast's lease, renewed at each step: an instance that stops
    // (or dies) leaves its broadcasts to another after this long.
    std::int64_t lease_seconds = 30;
    // With several writer connections (BroadcastTransactions::
    // parallel_writers), up to this many of a snapshot's chunks are written
    // ahead, each in a transaction of its own, beside the locked one.
    int max_chunks_ahead = 2;
  };
  // on_queued: rows were added to the ledger (the dispatcher wakes).
  BroadcastRunner(BroadcastTransactions& tx, const Clock& clock, Options options,
                  std::function<void()> on_queued);
  ~BroadcastRunner();
  void start();
  void stop();
  void wake();
  // One round over the active broadcasts: at most one chunk each. Returns
  // whether anything changed (tests drive this directly).
  bool step();

 private:
  // What the runner knows of a broadcast it is snapshotting, between steps.
  struct Snapshotting {
    std::int64_t lease_taken_at = -1;  // when it last took or renewed the lease
    SnapshotAhead written;             // the chunk its last step wrote ahead
  };
  BroadcastProgress advance(const Broadcast& seen, Snapshotting& s);
  void loop();
  BroadcastTransactions& tx_;
  const Clock& clock_;
  Options options_;
  std::function<void()> on_queued_;
  ThrottledLog failures_log_;                       // a step failing every round (a full disk)
  std::mutex step_mu_;                              // held through each step()
  std::map<std::int64_t, Snapshotting> snapshots_;  // by broadcast id, the active ones (step_mu_)
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false, woken_ = false;
};

}  // namespace sc
