// Dispatcher: the outbox worker. Claims due messages with a lease (every due
// transactional message ahead of any bulk one), sends them through the
// configured providers within each provider's rate limit and concurrency
// cap, records each outcome, retries retryable failures with exponential
// backoff, and pauses a provider that keeps refusing our credentials. It
// sees the outbox only through the core ports (sc/core/outbox.h).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sc/core/broadcast.h"
#include "sc/core/message.h"
#include "sc/core/outbox.h"
#include "sc/core/ports/services.h"
#include "sc/core/rate_grants.h"
#include "sc/core/throttled_log.h"
#include "sc/dispatch/token_bucket.h"

namespace sc {

class Dispatcher {
 public:
  // Per provider (one for email, one for texts).
  struct ProviderLimits {
    int rate_per_second = 0;  // messages handed over in any 1 s window; 0 = unlimited
    int concurrency = 0;      // messages with the provider at once; 0 = the sender's own cap
  };
  struct Options {
    int batch_size = 512;   // larger batches send faster but hold the writer longer per claim
    int max_attempts = 12;  // then the message is failed for good
    std::int64_t base_backoff_seconds = 15;
    std::int64_t max_backoff_seconds = 3600;
    // Each retry delay is shortened by a random part of up to this fraction
    // of it, so that messages failed together (a provider's outage) do not
    // come back together. A provider's Retry-After stays the floor.
    double backoff_jitter = 0.0;
    std::int64_t lease_seconds = 300;   // a send that takes longer is presumed lost
    std::int64_t idle_poll_ms = 1000;   // re-check for due retries this often
    std::uint64_t yield_when_busy = 5;  // requests per 10 ms that count as busy (500/s)
    // Then claim (or record) anyway: the wait is bounded in time, so the
    // outbox cannot starve however busy the host is (a nice 19 thread got
    // ~1.5 % of a core while both cores ran nice-0 work, and stalled sends).
    int max_yield_ms = 1000;
    ProviderLimits email, sms;
    // Consecutive auth refusals (SendResult::auth_refused) that pause a
    // provider; it is then probed with one message, first after probe_base_ms,
    // doubling up to probe_max_ms, and resumes when a probe is accepted.
    int pause_after_auth_refusals = 3;
    std::int64_t probe_base_ms = 10'000;
    std::int64_t probe_max_ms = 600'000;
    // A broadcast pauses itself after this many errors in a row (any
    // outcome but sent: refused, failed, unknown, retried); 0 never.
    int broadcast_pause_after_errors = 50;
  };
  Dispatcher(OutboxTransactions& outbox, EmailSender& email, SmsSender& sms, const Clock& clock,
             Options options);
  ~Dispatcher();

  // Renders messages queued with a template reference (required for them).
  void set_composer(const Composer* composer) { composer_ = composer; }
  // Builds broadcast messages from their ledger rows (required for them).
  void set_broadcast_composer(const BroadcastComposer* composer) { broadcasts_ = composer; }
  // Holds each provider's rate across every instance on the database: the
  // tokens are then granted by it a slice at a time (sc/core/rate_grants.h)
  // as well as paced here. Unset: the rate holds for this process alone.
  // Set before start(); not used for a provider without a rate.
  void set_rate_grants(RateGrants* grants) { grants_ = grants; }
  // Texts of a broadcast wait while it is quiet hours where the recipient
  // is: returns 0 to send now, or the unix time to wait until. Unset: no wait.
  using QuietHoursCheck = std::function<std::int64_t(const std::string& e164, std::int64_t now)>;
  void set_quiet_hours(QuietHoursCheck check) { quiet_hours_ = std::move(check); }

  // Hands back messages a dead process left leased, then starts the thread.
  void start();
  // Waits for the requests in flight, hands back the rest of the batch,
  // records it, and joins.
  void stop();
  // Something was queued: look now rather than at the next poll.
  void wake();

  // One claim-send-record round; returns the number of messages handled
  // (sent, retried, failed or handed back). Tests drive this directly
  // instead of start(); it never waits for a rate limit: what has no token
  // now is handed back.
  std::size_t step();

  // Delay before the attempt after `attempts` failed ones.
  std::int64_t backoff_seconds(int attempts) const;
  // The same with jitter: in [delay * (1 - backoff_jitter), delay].
  std::int64_t jittered_backoff_seconds(int attempts);

  // Whether a provider is paused, and why: for /healthz detail and metrics.
  struct ProviderState {
    std::string name;     // the provider's name(), e.g. "smtp"
    std::string channel;  // "email" or "sms"
    bool paused = false;
    std::string reason;            // the refusal that paused it: "smtp:535 5.7.8 …"
    std::int64_t since = 0;        // unix seconds when it was paused
    int consecutive_failures = 0;  // auth refusals in a row
    std::int64_t next_probe_at_ms = 0;
  };
  std::vector<ProviderState> provider_states() const;

  // Called on the dispatcher's thread for every message a provider answered,
  // with the time from its hand-over to its answer (a histogram's samples).
  // Set before start().
  using SendObserver =
      std::function<void(const std::string& provider, const SendResult& r, double seconds)>;
  void set_send_observer(SendObserver fn) { observer_ = std::move(fn); }

  // Unfinished messages by lane and state (through the port, not the writer).
  OutboxDepth outbox_depth() { return outbox_.depth(clock_.now_unix()); }

 private:
  // Tests and benchmarks read the counters below through DispatcherProbe
  // (tests/support/dispatcher_probe.h); production reads provider_states()
  // and the outbox.
  friend struct DispatcherProbe;
  // Answers per provider since start.
  struct ProviderCounters {
    std::string name, channel;
    std::uint64_t sent = 0, retryable = 0, permanent = 0, auth_refused = 0;
    std::uint64_t handed_back = 0;  // claimed but not sent: paused or out of rate
  };
  std::vector<ProviderCounters> provider_counters() const;

  struct Batch;
  struct Outcome;
  struct Provider;
  template <class Message>
  class Stream;  // one provider's part of a batch, fed to its send_stream
  void loop();
  Batch prepare();  // claim, decode, render
  ClaimLimits claim_limits(std::int64_t now_ms);
  void reserve_claimed(const Batch& b);
  void prepare_one(Batch& b, std::size_t i, std::int64_t now);
  void release_unsendable(const Batch& b);
  // Sends the batch; before_first_mark runs before its first hand-over mark
  // (the loop waits there for the previous batch's record).
  void send(Batch& batch, const std::function<void()>& before_first_mark);
  template <class Sender, class Message>
  void send_through(Provider& p, Sender& sender, std::vector<Message>& messages,
                    std::vector<std::size_t>& rows, Batch& b,
                    const std::function<void()>& before_first_mark);
  // What a transaction's outcomes came to, applied once it commits.
  struct Recorded {
    std::map<std::int64_t, std::string> pause;  // broadcast → reason
    std::uint64_t sent = 0, retried = 0, failed = 0;
  };
  // Writes the batch's outcomes; when that fails, keeps them to write again
  // (unwritten_) and rethrows.
  void record(Batch& batch);
  // Writes again, in the claim's transaction, the outcomes whose write
  // failed; returns which of unwritten_ it wrote (or found stale).
  struct Unwritten;
  std::vector<std::pair<std::int64_t, std::uint64_t>> write_unwritten(const OutboxTransaction& c,
                                                                      Recorded& rec);
  void forget_written(const std::vector<std::pair<std::int64_t, std::uint64_t>>& written);
  // Keeps outcomes whose write failed (its fate unknown) for write_unwritten.
  void keep_unwritten(const Batch& b, std::vector<Outcome>& outcomes);
  // The batch's rows are settled: what is not in unwritten_ is no longer its.
  void release_batch(const Batch& b);
  // Once more on the way out, in a transaction of its own.
  void write_unwritten_before_stopping();
  // Writes outcomes inside a transaction (record and the hand-over marks);
  // collects the broadcasts to pause for errors in a row.
  // The messages a provider accepted, recorded in one statement (the usual
  // outcome): returns the ids recorded (this instance's still), sorted.
  std::vector<std::int64_t> record_sent(const OutboxTransaction& c,
                                        const std::vector<ClaimedMessage>& claimed,
                                        const std::vector<Outcome>& outcomes, std::int64_t now);
  void write_outcomes(const OutboxTransaction& c, const std::vector<ClaimedMessage>& claimed,
                      const std::vector<Outcome>& outcomes, Recorded& rec);
  void committed(const Recorded& rec);
  bool stopping() const;
  void yield_to_requests();
  int claim_allowance(Provider& p, std::int64_t now_ms);
  bool wait_ms(std::int64_t ms);  // false when stopping

  OutboxTransactions& outbox_;
  EmailSender& email_;
  SmsSender& sms_;
  const Clock& clock_;
  Options options_;
  const Composer* composer_ = nullptr;
  const BroadcastComposer* broadcasts_ = nullptr;
  RateGrants* grants_ = nullptr;
  QuietHoursCheck quiet_hours_;
  // Written by write_outcomes (the marker, record, and the claim writing
  // again what failed), under counters_mu_.
  std::mutex counters_mu_;
  std::map<std::int64_t, int> broadcast_errors_;  // errors in a row, by broadcast
  std::uint64_t jitter_state_ = 0x9e3779b97f4a7c15ULL;
  // Outcomes (hand-backs included) whose write failed while the database
  // was away: written again before the next claim, in its transaction, until
  // they land; never dropped, never resent. Each claimed row is known with
  // the batch (a serial) that holds it until its outcome is written, so an
  // outcome written again whose first write did land after all (the
  // connection dropped at COMMIT) cannot reach the row's next lease: once
  // the row is claimed again it belongs to another batch, and the old
  // outcome is dropped. Guarded by unwritten_mu_; claims never overlap.
  std::mutex unwritten_mu_;
  std::vector<Unwritten> unwritten_;
  std::map<std::int64_t, std::uint64_t> claimed_by_;  // row → batch
  std::uint64_t next_batch_ = 1;                      // prepare() only
  SendObserver observer_;
  // Database failures by text: they repeat every round while the disk is full.
  ThrottledLog failures_log_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  bool threaded_ = false;  // start() was called: the send stage may wait for tokens
  // Outcomes recorded (failed_: for good, or unknown), for DispatcherProbe.
  std::atomic<std::uint64_t> sent_{0}, retried_{0}, failed_{0};
  std::atomic<std::uint64_t> last_request_jobs_{0};
  mutable std::mutex
      providers_mu_;  // guards *providers_[i] (prepare and send run on different threads)
  std::unique_ptr<Provider> providers_[2];  // email, sms
};

}  // namespace sc
