// Dispatcher: the outbox worker. Claims due messages with a lease, sends them
// through the configured providers, records each outcome, and retries
// retryable failures with exponential backoff. Its database writes go through
// the WriteQueue, so the service has a single SQLite writer.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "sc/core/message.h"
#include "sc/core/ports.h"
#include "sc/storage/storage.h"

namespace sc {

class Dispatcher {
 public:
  struct Options {
    int batch_size = 512;  // larger batches send faster but hold the writer longer per claim
    int max_attempts = 12;                 // then the message is failed for good
    std::int64_t base_backoff_seconds = 15;
    std::int64_t max_backoff_seconds = 3600;
    std::int64_t lease_seconds = 300;      // a send that takes longer is presumed lost
    std::int64_t idle_poll_ms = 1000;      // re-check for due retries this often
    std::uint64_t yield_when_busy = 5;     // requests per 10 ms that count as busy (500/s)
    // Then claim (or record) anyway: the wait is bounded in time, so the
    // outbox cannot starve however busy the host is (a nice 19 thread got
    // ~1.5 % of a core while both cores ran nice-0 work, and stalled sends).
    int max_yield_ms = 1000;
  };
  Dispatcher(storage::WriteQueue& writer, EmailSender& email, SmsSender& sms, const Clock& clock,
             Options options);
  ~Dispatcher();

  // Renders messages queued with a template reference (required for them).
  void set_composer(const Composer* composer) { composer_ = composer; }

  // Hands back messages a dead process left leased, then starts the thread.
  void start();
  // Finishes the batch in flight, records it, and joins.
  void stop();
  // Something was queued: look now rather than at the next poll.
  void wake();

  // One claim-send-record round; returns the number of messages handled.
  // Tests drive this directly instead of start().
  std::size_t step();

  // Delay before the attempt after `attempts` failed ones.
  std::int64_t backoff_seconds(int attempts) const;

  struct Stats {
    std::uint64_t sent = 0, retried = 0, failed = 0;
  };
  Stats stats() const {
    return {sent_.load(), retried_.load(), failed_.load()};
  }

 private:
  struct Batch;
  void loop();
  Batch prepare();  // claim, decode, render
  void send(Batch& batch);
  void record(Batch& batch);
  void yield_to_requests();
  storage::WriteQueue& writer_;
  EmailSender& email_;
  SmsSender& sms_;
  const Clock& clock_;
  Options options_;
  const Composer* composer_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::atomic<std::uint64_t> sent_{0}, retried_{0}, failed_{0};
  std::atomic<std::uint64_t> last_request_jobs_{0};
};

}  // namespace sc
