#include "sc/dispatch/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/core/text.h"

namespace sc {

// One provider's limits, pause state and counters. Guarded by providers_mu_.
struct Dispatcher::Provider {
  std::string channel;
  ProviderLimits limits;
  TokenBucket bucket;
  // With RateGrants: the tokens the database granted this process, spent
  // before granted_until_ms (the end of their slot) or dropped.
  std::string grant_key;  // "email:smtp"
  int granted = 0;
  std::int64_t granted_until_ms = 0;
  bool grant_failing = false;  // the last grant failed (logged once until one works)
  int reserved = 0;            // claimed and not yet handed over or back: not to be claimed twice
  int consecutive_auth = 0;
  bool paused = false;
  std::string reason;
  std::int64_t since = 0;
  std::int64_t probe_delay_ms = 0;
  std::int64_t next_probe_ms = 0;
  bool probe_claimed = false;  // the one probe message is on its way
  ProviderCounters counters;
};

Dispatcher::Dispatcher(OutboxTransactions& outbox, EmailSender& email, SmsSender& sms,
                       const Clock& clock, Options options)
    : outbox_(outbox), email_(email), sms_(sms), clock_(clock), options_(options) {
  for (int i = 0; i < 2; ++i) {
    auto p = std::make_unique<Provider>();
    p->channel = i == 0 ? "email" : "sms";
    p->limits = i == 0 ? options_.email : options_.sms;
    p->bucket = TokenBucket(p->limits.rate_per_second);
    p->probe_delay_ms = options_.probe_base_ms;
    p->counters.name = i == 0 ? email_.name() : sms_.name();
    p->grant_key = p->channel + ":" + p->counters.name;
    p->counters.channel = p->channel;
    providers_[i] = std::move(p);
  }
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  // What this instance's earlier runs left leased belongs to a process that
  // is gone (another instance's leases are left to run out). A confirmation
  // is sent again (at least once: a second one does no harm, a lost one
  // does); a broadcast message may have reached the provider, so it becomes
  // unknown and is never sent twice without an operator asking.
  outbox_.run([this](const OutboxTransaction& c) { c.outbox.release_own(clock_.now_unix()); });
  jitter_state_ ^= static_cast<std::uint64_t>(clock_.now_ms());
  threaded_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sc-dispatch");
    // Same CPU priority as the request path: yield_to_requests() gives
    // requests the writer first, for at most max_yield_ms per stage.
    loop();
  });
}

void Dispatcher::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

bool Dispatcher::wait_ms(std::int64_t ms) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, std::chrono::milliseconds(std::max<std::int64_t>(ms, 1)),
                       [&] { return stopping_; });
}

std::int64_t Dispatcher::backoff_seconds(int attempts) const {
  std::int64_t d = options_.base_backoff_seconds;
  for (int i = 1; i < attempts && d < options_.max_backoff_seconds; ++i) d *= 2;
  return std::min(d, options_.max_backoff_seconds);
}

std::int64_t Dispatcher::jittered_backoff_seconds(int attempts) {
  const auto d = backoff_seconds(attempts);
  if (options_.backoff_jitter <= 0) return d;
  std::lock_guard lk(counters_mu_);  // outcomes are written from several threads
  // splitmix64: enough to spread retries; nothing secret depends on it.
  jitter_state_ += 0x9e3779b97f4a7c15ULL;
  auto z = jitter_state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
  const auto cut = static_cast<std::int64_t>(static_cast<double>(d) *
                                             std::min(options_.backoff_jitter, 1.0) * u);
  return std::max<std::int64_t>(1, d - cut);
}

std::vector<Dispatcher::ProviderState> Dispatcher::provider_states() const {
  std::lock_guard lk(providers_mu_);
  std::vector<ProviderState> out;
  for (const auto& p : providers_) {
    ProviderState s;
    s.name = p->counters.name;
    s.channel = p->channel;
    s.paused = p->paused;
    s.reason = p->reason;
    s.since = p->since;
    s.consecutive_failures = p->consecutive_auth;
    s.next_probe_at_ms = p->paused ? p->next_probe_ms : 0;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Dispatcher::ProviderCounters> Dispatcher::provider_counters() const {
  std::lock_guard lk(providers_mu_);
  return {providers_[0]->counters, providers_[1]->counters};
}

// The outcome of one claimed message, by index into Batch::claimed.
struct Dispatcher::Outcome {
  std::size_t row = 0;
  SendResult result;
  bool hand_back = false;  // not sent: queued again without counting the attempt
  std::int64_t due = 0;    // when handed back
  // Why it waits until `due`, shown to operators (OutboxStore::hold); null: it does not.
  const char* wait_reason = nullptr;
};

// An outcome whose write failed, with its message and the batch that claimed it.
struct Dispatcher::Unwritten {
  ClaimedMessage message;
  Outcome outcome;
  std::uint64_t batch = 0;
};

// One claimed batch as it moves through the stages.
struct Dispatcher::Batch {
  std::uint64_t serial = 0;  // claimed_by_'s name for it
  std::vector<ClaimedMessage> claimed;
  std::vector<OutboundEmail> emails;
  std::vector<OutboundSms> texts;
  std::vector<std::size_t> email_rows, sms_rows;  // indexes into claimed
  std::vector<Outcome> outcomes;                  // not yet recorded
  bool empty() const { return claimed.empty(); }
};

bool Dispatcher::stopping() const {
  std::lock_guard lk(mu_);
  return stopping_;
}

// While one batch is with the provider, the next is claimed and rendered
// and the previous one recorded: the three stages overlap, so neither the
// database nor the templates leave the provider connections idle.
void Dispatcher::loop() {
  auto prepare_async = [this] {
    return std::async(std::launch::async, [this] { return prepare(); });
  };
  std::future<Batch> next;
  std::future<void> recording;
  auto finish_recording = [&] {
    if (!recording.valid()) return;
    try {
      recording.get();
    } catch (const std::exception& e) {
      // The outcomes could not be written: kept, and written with the next
      // claim once the database answers again (never left to the lease).
      failures_log_.log(std::string("recording: ") + e.what(),
                        std::string("dispatcher: recording failed: ") + e.what());
    }
  };
  while (true) {
    {
      std::unique_lock lk(mu_);
      if (stopping_ && !next.valid()) {
        lk.unlock();
        finish_recording();
        write_unwritten_before_stopping();
        return;
      }
    }
    Batch batch;
    try {
      batch = next.valid() ? next.get() : prepare();
    } catch (const std::exception& e) {
      // The database is unwell; the messages stay queued. Try again later.
      failures_log_.log(e.what(), std::string("dispatcher: ") + e.what());
    }
    bool stopping;
    {
      std::lock_guard lk(mu_);
      stopping = stopping_;
      woken_ = false;
    }
    if (batch.empty()) {
      finish_recording();
      if (stopping) {
        write_unwritten_before_stopping();
        return;
      }
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(options_.idle_poll_ms),
                   [&] { return stopping_ || woken_; });
      continue;
    }
    // A claimed batch is always sent (or handed back) and recorded, also
    // when stopping. Its first hand-over mark waits for the previous batch's
    // record, so that a crash never finds two batches' worth unrecorded.
    if (!stopping) next = prepare_async();
    send(batch, finish_recording);
    finish_recording();
    recording =
        std::async(std::launch::async, [this, b = std::move(batch)]() mutable { record(b); });
  }
}

std::size_t Dispatcher::step() {
  auto batch = prepare();
  if (batch.empty()) return 0;
  send(batch, nullptr);
  record(batch);
  return batch.claimed.size();
}

// The writer and the disk are shared with sign-ups: claiming or recording
// hundreds of rows holds the writer for milliseconds, and every message sent
// adds work to the next fsync. While requests keep arriving, each stage
// waits (at most max_yield_ms, so sending always makes progress): a person
// waiting for an answer comes before a message that is safe in the outbox.
void Dispatcher::yield_to_requests() {
  // No request since the last look: go on without waiting at all.
  const auto seen = outbox_.request_jobs();
  if (last_request_jobs_.exchange(seen) == seen) return;
  for (int waited = 0; waited < options_.max_yield_ms; waited += 10) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
    }
    const auto before = outbox_.request_jobs();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Fewer than yield_when_busy requests in 10 ms: quiet enough to go on.
    if (outbox_.request_jobs() - before < options_.yield_when_busy) return;
  }
}

// How many messages of this provider the next claim may take: none while it
// is paused (but one probe when due), and no more than its rate allows now
// less what is already claimed for it.
int Dispatcher::claim_allowance(Provider& p, std::int64_t now_ms) {
  if (p.paused) {
    if (p.probe_claimed || now_ms < p.next_probe_ms) return 0;
    p.probe_claimed = true;
    return 1;
  }
  if (p.bucket.unlimited()) return options_.batch_size;
  return std::clamp(p.bucket.available(now_ms) - p.reserved, 0, options_.batch_size);
}

Dispatcher::Batch Dispatcher::prepare() {
  yield_to_requests();
  Batch b;
  const auto now_ms = clock_.now_ms();
  const auto now = now_ms / 1000;
  const ClaimLimits limits = claim_limits(now_ms);
  // What could not be written while the database was away goes first, in
  // the claim's transaction: a message handed back is claimable again by
  // this very claim.
  std::vector<std::pair<std::int64_t, std::uint64_t>> rewritten;
  Recorded rec;
  try {
    outbox_.run([&](const OutboxTransaction& c) {
      rec = {};  // run again after a conflict
      rewritten = write_unwritten(c, rec);
      c.outbox.release_expired(now);
      if (limits.email > 0 || limits.sms > 0)
        b.claimed = claim_due(c.outbox, now, limits, now + options_.lease_seconds);
    });
  } catch (...) {
    std::lock_guard lk(providers_mu_);
    for (auto& p : providers_) p->probe_claimed = false;
    throw;
  }
  b.serial = next_batch_++;
  {
    std::lock_guard lk(unwritten_mu_);
    for (const auto& m : b.claimed) claimed_by_[m.id] = b.serial;
  }
  forget_written(rewritten);
  committed(rec);
  reserve_claimed(b);
  for (std::size_t i = 0; i < b.claimed.size(); ++i) prepare_one(b, i, now);
  release_unsendable(b);
  return b;
}

// How many of each provider's messages the claim may take now (a probe
// when one is due).
ClaimLimits Dispatcher::claim_limits(std::int64_t now_ms) {
  ClaimLimits limits;
  limits.total = options_.batch_size;
  std::lock_guard lk(providers_mu_);
  limits.email = claim_allowance(*providers_[0], now_ms);
  limits.sms = claim_allowance(*providers_[1], now_ms);
  return limits;
}

// What was claimed is reserved for its provider until it is handed over or back.
void Dispatcher::reserve_claimed(const Batch& b) {
  std::lock_guard lk(providers_mu_);
  int claimed[2] = {0, 0};
  for (const auto& m : b.claimed) ++claimed[m.kind == OutboxKind::kEmail ? 0 : 1];
  for (int i = 0; i < 2; ++i) {
    providers_[i]->reserved += claimed[i];
    // A probe that found nothing to send is not on its way.
    if (claimed[i] == 0) providers_[i]->probe_claimed = false;
  }
}

// Decodes and renders claimed message i for its provider, or gives it an
// outcome now: a payload that does not parse, quiet hours, a render error.
void Dispatcher::prepare_one(Batch& b, std::size_t i, std::int64_t now) {
  auto& m = b.claimed[i];
  try {
    outbox_.decode(m);
  } catch (const std::exception& e) {
    // A payload that does not parse will not parse next time either.
    b.outcomes.push_back({i, SendResult::permanent("payload", e.what())});
    return;
  }
  try {
    if (m.broadcast_id != 0 && m.kind == OutboxKind::kSms && quiet_hours_) {
      // Quiet hours where the recipient is: back in the queue, due when
      // their window opens (not an attempt), and shown as waiting until then.
      if (auto until = quiet_hours_(m.sms.to, now); until > now) {
        b.outcomes.push_back({i, SendResult::retryable(kWaitQuietHours, "outside the send window"),
                              true, until, kWaitQuietHours});
        return;
      }
    }
    if (m.broadcast_id != 0 && broadcasts_ != nullptr) {
      broadcasts_->compose(m, now);
    } else if (m.kind == OutboxKind::kEmail) {
      if (composer_ != nullptr) render_queued(*composer_, m.email);
    } else {
      if (composer_ != nullptr) render_queued(*composer_, m.sms);
    }
  } catch (const std::exception& e) {
    // Recorded as retryable so it ends as failed after max_attempts
    // instead of staying leased and coming back forever.
    b.outcomes.push_back({i, SendResult::retryable("render", e.what())});
    return;
  }
  if (m.kind == OutboxKind::kEmail) {
    b.emails.push_back(std::move(m.email));
    b.email_rows.push_back(i);
  } else {
    b.texts.push_back(std::move(m.sms));
    b.sms_rows.push_back(i);
  }
}

// Messages that failed before reaching a provider were never reserved for sending.
void Dispatcher::release_unsendable(const Batch& b) {
  std::lock_guard lk(providers_mu_);
  for (const auto& o : b.outcomes) {
    auto& p = *providers_[b.claimed[o.row].kind == OutboxKind::kEmail ? 0 : 1];
    p.reserved -= 1;
    if (p.paused) p.probe_claimed = false;
  }
}

// One provider's part of a batch, as its sender's send_stream takes it: a
// message at a time, each only once it is cleared to go. A broadcast message
// is cleared by its hand-over mark, which a marker thread writes a few at a
// time just ahead of the requests, together with the outcomes answered
// since its last mark; the mark is conditional on the broadcast still
// sending. Hence what a crash can leave unknown is at most what is with the
// provider (its in-flight cap) plus what is marked ahead (half that cap),
// and a pause or cancel stops the sending within the same bound.
template <class Message>
class Dispatcher::Stream final : public SendFeed<Message> {
 public:
  Stream(Dispatcher& d, Provider& p, std::string name, std::vector<Message>& messages,
         std::vector<std::size_t>& rows, Batch& b, std::size_t cap,
         const std::function<void()>& before_first_mark)
      : d_(d),
        p_(p),
        name_(std::move(name)),
        messages_(messages),
        rows_(rows),
        b_(b),
        cap_(cap),
        // Marked ahead of the requests: half the cap keeps the provider busy
        // while the next mark is written (a mark takes about a millisecond;
        // the cap's requests take a round trip each); a new mark is written
        // once a quarter of that has gone, so a mark covers several rows.
        ahead_(std::max<std::size_t>(1, cap / 2)),
        min_group_(std::max<std::size_t>(1, ahead_ / 4)),
        before_first_mark_(before_first_mark),
        bulk_(messages.size(), 0),
        marks_(messages.size(), kNone),
        handled_(messages.size(), false) {
    bool bulk = false;
    for (std::size_t k = 0; k < rows_.size(); ++k) {
      if (b_.claimed[rows_[k]].lane == OutboxLane::kBulk) {
        bulk_[k] = 1;
        marks_[k] = kUnmarked;
        bulk = true;
      }
    }
    if (bulk) marker_ = std::thread([this] { mark_loop(); });
  }

  ~Stream() override { stop_marker(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const Message* next(bool wait) override {
    while (true) {
      std::unique_lock plk(d_.providers_mu_);
      if (pos_ == messages_.size()) return nullptr;
      const auto k = pos_;
      const auto now_ms = d_.clock_.now_ms();
      const bool stopping = d_.stopping();
      if (stopping) {
        // Stopping: the requests in flight finish, the rest goes back.
        hand_back_rest(now_ms / 1000, "stopping");
        return nullptr;
      }
      const auto& m = b_.claimed[rows_[k]];
      if (tripped(m.broadcast_id)) {
        hand_back(k, "broadcast pausing", now_ms / 1000);
        continue;
      }
      bool probe = false;
      if (p_.paused) {
        if (!p_.probe_claimed) {
          hand_back_rest(now_ms / 1000, "not sent");
          return nullptr;
        }
        if (probe_out_) return nullptr;  // the probe goes alone
        probe = true;
      }
      if (in_flight_ >= cap_) return nullptr;
      Step step = bulk_[k] != 0 ? cleared(k, m.broadcast_id, wait, plk, now_ms) : Step::kGive;
      if (step == Step::kGive) step = take_token(probe, wait, plk, now_ms);
      if (step == Step::kNone) return nullptr;
      if (step == Step::kAgain) continue;
      return give(k, probe);
    }
  }

  bool finished() override {
    std::lock_guard plk(d_.providers_mu_);
    return pos_ == messages_.size();
  }

  void answer(std::size_t i, SendResult r) override {
    if (i >= given_.size() || answered_[i]) return;  // not a message this stream gave
    answered_[i] = true;
    const auto k = given_[i];
    const auto row = rows_[k];
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - given_at_[i]).count();
    if (d_.observer_) d_.observer_(name_, r, seconds);
    const auto done_ms = d_.clock_.now_ms();
    std::lock_guard plk(d_.providers_mu_);
    --in_flight_;
    const bool probe = probe_out_;  // a probe goes alone: this is its answer
    if (r.auth_refused) {
      // Not the message's fault: every other message would be refused the
      // same way. Handed back without counting the attempt.
      ++p_.counters.auth_refused;
      ++p_.counters.handed_back;
      ++p_.consecutive_auth;
      if (p_.reason.empty() || !p_.paused) p_.reason = r.provider_code + " " + r.provider_message;
      push({row, std::move(r), true, done_ms / 1000});
    } else {
      switch (r.status) {
        case SendStatus::kSent:
          ++p_.counters.sent;
          break;
        case SendStatus::kRetryable:
          ++p_.counters.retryable;
          break;
        case SendStatus::kPermanent:
          ++p_.counters.permanent;
          break;
      }
      // Any answer that is not a refusal of our credentials shows they work.
      p_.consecutive_auth = 0;
      if (p_.paused) {
        std::fprintf(stderr, "dispatcher: %s accepts again, resumed\n", name_.c_str());
        p_.paused = false;
        p_.reason.clear();
        p_.since = 0;
      }
      p_.probe_delay_ms = d_.options_.probe_base_ms;
      if (const auto id = b_.claimed[row].broadcast_id; id != 0)
        errors_in_a_row_[id] = r.status == SendStatus::kSent ? 0 : errors_in_a_row_[id] + 1;
      push({row, std::move(r)});
    }
    if (probe) {
      probe_out_ = false;
      p_.probe_claimed = false;
      if (p_.paused) {
        // Still refused: probe again later, backing off.
        p_.probe_delay_ms = std::min(p_.probe_delay_ms * 2, d_.options_.probe_max_ms);
        p_.next_probe_ms = done_ms + p_.probe_delay_ms;
      }
    } else if (!p_.paused && d_.options_.pause_after_auth_refusals > 0 &&
               p_.consecutive_auth >= d_.options_.pause_after_auth_refusals) {
      p_.paused = true;
      p_.since = done_ms / 1000;
      p_.probe_delay_ms = d_.options_.probe_base_ms;
      p_.next_probe_ms = done_ms + p_.probe_delay_ms;
      std::fprintf(stderr,
                   "dispatcher: %s refused our credentials %d times in a row (%s); paused, probing "
                   "in %lld ms\n",
                   name_.c_str(), p_.consecutive_auth, p_.reason.c_str(),
                   static_cast<long long>(p_.probe_delay_ms));
    }
  }

  // After send_stream: a sender that threw has not told us what happened to
  // what it had in flight (retried later rather than left leased); what it
  // never took goes back. Then the marker stops, and what it has not
  // recorded is left to record().
  void finish(const char* error) {
    if (error != nullptr) {
      for (std::size_t i = 0; i < given_.size(); ++i)
        if (!answered_[i]) answer(i, SendResult::retryable("internal", error));
    }
    {
      std::lock_guard plk(d_.providers_mu_);
      if (probe_out_) {
        probe_out_ = false;
        p_.probe_claimed = false;
      }
      hand_back_rest(d_.clock_.now_unix(), "not sent");
    }
    stop_marker();
    for (auto& o : pending_) b_.outcomes.push_back(std::move(o));
    pending_.clear();
  }

 private:
  enum Mark : std::uint8_t { kNone, kUnmarked, kMarking, kMarked, kRefused, kFailed };

  // What next() does with message pos_ after a check: give it, look again
  // (it was handed back, or a wait ended), or give nothing now.
  enum class Step { kGive, kAgain, kNone };

  // A broadcast message goes only once its hand-over mark is written. With
  // providers_mu_ held through plk (released while it waits for the marker).
  Step cleared(std::size_t k, std::int64_t broadcast_id, bool wait,
               std::unique_lock<std::mutex>& plk, std::int64_t now_ms) {
    std::unique_lock lk(mu_);
    if (stopped_.contains(broadcast_id) && marks_[k] != kRefused) {
      // Paused or cancelled since the claim: not one more of it.
      lk.unlock();
      hand_back(k, "broadcast no longer sending", now_ms / 1000);
      return Step::kAgain;
    }
    if (marks_[k] == kRefused) {
      // Handed back by the store (the broadcast stopped), or no longer
      // ours (its lease ran out): nothing to record here.
      handled_[k] = true;
      lk.unlock();
      --p_.reserved;
      ++p_.counters.handed_back;
      ++pos_;
      return Step::kAgain;
    }
    if (marks_[k] == kFailed || (failed_ && marks_[k] == kUnmarked)) {
      lk.unlock();
      hand_back(k, "not handed over", now_ms / 1000);
      return Step::kAgain;
    }
    if (marks_[k] != kMarked) {
      // Not cleared yet: the marker is on it.
      cv_.notify_all();
      if (!wait) return Step::kNone;
      plk.unlock();
      cv_.wait(lk, [&] {
        return (marks_[k] != kUnmarked && marks_[k] != kMarking) || failed_ ||
               stopped_.contains(broadcast_id);
      });
      return Step::kAgain;
    }
    return Step::kGive;
  }

  // A token of the provider's rate. step() never waits for one: what has
  // none now is handed back, due when a token is.
  // With RateGrants, also a token the database granted this process: once
  // its slot is over, it asks for a slice of the current one (at most one
  // round trip per provider and slot, never per message), with
  // providers_mu_ released meanwhile.
  Step take_token(bool probe, bool wait, std::unique_lock<std::mutex>& plk, std::int64_t now_ms) {
    if (p_.bucket.unlimited()) return Step::kGive;
    std::int64_t at = 0;  // no token before then
    if (p_.bucket.available(now_ms) <= 0) {
      at = p_.bucket.next_available_ms(now_ms);
    } else if (d_.grants_ != nullptr && now_ms < p_.granted_until_ms && p_.granted <= 0) {
      // This slot is spent: a slice is all a slot holds, so asking again
      // before it ends would only be refused.
      at = p_.granted_until_ms;
    } else if (d_.grants_ != nullptr && now_ms >= p_.granted_until_ms) {
      const int rate = p_.bucket.rate();
      plk.unlock();
      RateGrant g;
      std::string error;
      try {
        g = d_.grants_->grant(p_.grant_key, rate, rate_slice(rate));
      } catch (const std::exception& e) {
        error = e.what();
        g = {0, kRateSlotMs};  // none: asked again after a slot
      }
      plk.lock();
      if (!error.empty() && !p_.grant_failing)
        std::fprintf(stderr, "dispatcher: no rate grant for %s: %s\n", p_.grant_key.c_str(),
                     error.c_str());
      p_.grant_failing = !error.empty();
      // Valid from when it was asked for: never past its slot's end.
      p_.granted = g.tokens;
      p_.granted_until_ms = now_ms + g.valid_ms;
      if (g.tokens > 0) return Step::kAgain;  // checked again with the lock held throughout
      at = std::max(p_.granted_until_ms, now_ms + 1);  // the slot is spent: the next one
    }
    if (at != 0) {
      if (!d_.threaded_) {
        // step() never waits: queued again, due when a token is back.
        if (probe) p_.probe_claimed = false;
        hand_back_rest(at / 1000, "not sent");
        return Step::kNone;
      }
      if (!wait) return Step::kNone;
      plk.unlock();
      d_.wait_ms(at - now_ms);
      return Step::kAgain;
    }
    p_.bucket.take(now_ms, 1);
    if (d_.grants_ != nullptr) --p_.granted;
    return Step::kGive;
  }

  // Gives message k to the sender. With providers_mu_ held.
  const Message* give(std::size_t k, bool probe) {
    --p_.reserved;
    if (probe) probe_out_ = true;
    {
      std::lock_guard lk(mu_);
      handled_[k] = true;
      if (marks_[k] == kMarked) --marked_ahead_;
    }
    cv_.notify_all();  // room for the marker
    given_.push_back(k);
    given_at_.push_back(std::chrono::steady_clock::now());
    answered_.push_back(false);
    ++in_flight_;
    ++pos_;
    return &messages_[k];
  }

  void push(Outcome o) {
    std::lock_guard lk(mu_);
    pending_.push_back(std::move(o));
  }

  // A broadcast whose errors in a row reach the pause threshold in this
  // batch sends nothing more from it: its remaining messages are handed
  // back, and the record pauses it.
  bool tripped(std::int64_t broadcast_id) const {
    if (broadcast_id == 0 || d_.options_.broadcast_pause_after_errors <= 0) return false;
    auto it = errors_in_a_row_.find(broadcast_id);
    return it != errors_in_a_row_.end() && it->second >= d_.options_.broadcast_pause_after_errors;
  }

  // With providers_mu_ held.
  void hand_back(std::size_t k, const char* why, std::int64_t due) {
    {
      std::lock_guard lk(mu_);
      handled_[k] = true;
      if (marks_[k] == kMarked) --marked_ahead_;
      if (marks_[k] == kMarking) {
        // Its mark is being written: whether it still needs handing back
        // (marked) or the store already queued it again (refused) is known
        // only once the mark lands; a hand-back now could land after the
        // store's and queue again a row that is no longer ours.
        deferred_back_[k] = {why, due};
      } else if (marks_[k] != kRefused) {
        pending_.push_back({rows_[k], SendResult::retryable("handed-back", why), true, due});
      }
    }
    ++p_.counters.handed_back;
    --p_.reserved;
    ++pos_;
  }
  void hand_back_rest(std::int64_t due, const char* why) {
    while (pos_ < messages_.size()) hand_back(pos_, why, due);
  }

  // The marker: writes the outcomes answered so far and marks the next
  // broadcast messages, keeping at most ahead_ marked and not yet given.
  void mark_loop() {
    bool first = true;
    while (true) {
      std::vector<std::int64_t> ids;
      std::vector<std::size_t> group;
      std::vector<Outcome> outcomes;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || (!failed_ && wants_mark()); });
        if (stop_) return;
        const std::size_t room = ahead_ - marked_ahead_;
        for (; mark_pos_ < marks_.size() && group.size() < room; ++mark_pos_) {
          const auto k = mark_pos_;
          if (marks_[k] != kUnmarked || handled_[k]) continue;
          const auto& m = b_.claimed[rows_[k]];
          if (stopped_.contains(m.broadcast_id)) continue;  // handed back by the sender
          marks_[k] = kMarking;
          group.push_back(k);
          ids.push_back(m.id);
        }
        outcomes.swap(pending_);
      }
      if (first && before_first_mark_) before_first_mark_();
      first = false;
      std::vector<std::int64_t> marked;
      Recorded rec;
      bool ok = true;
      try {
        d_.outbox_.run([&](const OutboxTransaction& c) {
          rec = {};  // run again after a conflict
          d_.write_outcomes(c, b_.claimed, outcomes, rec);
          if (!ids.empty())
            marked =
                c.outbox.mark_handed_over(ids, d_.clock_.now_unix() + d_.options_.lease_seconds);
        });
      } catch (const std::exception& e) {
        // Not marked: not sent; handed back with the batch's record. The
        // outcomes are written again with the next claim (the commit may
        // have landed: see unwritten_).
        d_.failures_log_.log(std::string("handing over: ") + e.what(),
                             std::string("dispatcher: handing over failed: ") + e.what());
        ok = false;
        d_.keep_unwritten(b_, outcomes);
      }
      if (ok) d_.committed(rec);
      std::sort(marked.begin(), marked.end());
      {
        std::lock_guard lk(mu_);
        if (!ok) failed_ = true;
        for (auto k : group) {
          const auto& m = b_.claimed[rows_[k]];
          if (!ok) {
            marks_[k] = kFailed;
          } else if (std::binary_search(marked.begin(), marked.end(), m.id)) {
            marks_[k] = kMarked;
            if (!handled_[k]) ++marked_ahead_;
          } else {
            marks_[k] = kRefused;
            stopped_.insert(m.broadcast_id);
          }
          // Handed back while its mark was being written: still ours to
          // hand back unless the store refused the mark (queued it again).
          if (auto it = deferred_back_.find(k); it != deferred_back_.end()) {
            if (marks_[k] != kRefused)
              pending_.push_back({rows_[k], SendResult::retryable("handed-back", it->second.first),
                                  true, it->second.second});
            deferred_back_.erase(it);
          }
        }
      }
      cv_.notify_all();
    }
  }

  // With mu_ held: room for a group of marks, and something left to mark.
  bool wants_mark() {
    if (marked_ahead_ + min_group_ > ahead_) return false;
    while (mark_pos_ < marks_.size() &&
           (marks_[mark_pos_] != kUnmarked || handled_[mark_pos_] ||
            stopped_.contains(b_.claimed[rows_[mark_pos_]].broadcast_id)))
      ++mark_pos_;
    return mark_pos_ < marks_.size();
  }

  void stop_marker() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (marker_.joinable()) marker_.join();
  }

  Dispatcher& d_;
  Provider& p_;
  const std::string name_;
  std::vector<Message>& messages_;
  std::vector<std::size_t>& rows_;
  Batch& b_;
  const std::size_t cap_, ahead_, min_group_;
  const std::function<void()>& before_first_mark_;
  std::vector<char> bulk_;  // by message index: needs a hand-over mark (set once)

  // The sender's thread only (next and answer), with providers_mu_ held.
  std::size_t pos_ = 0;  // the next message to give or hand back
  std::size_t in_flight_ = 0;
  bool probe_out_ = false;
  std::vector<std::size_t> given_;  // message index, by the order given
  std::vector<std::chrono::steady_clock::time_point> given_at_;
  std::vector<bool> answered_;
  std::map<std::int64_t, int> errors_in_a_row_;  // by broadcast, in the order answered

  // Shared with the marker.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Mark> marks_;    // by message index
  std::vector<bool> handled_;  // given or handed back
  std::size_t mark_pos_ = 0;   // the marker's next candidate
  std::size_t marked_ahead_ = 0;
  std::set<std::int64_t> stopped_;  // broadcasts whose marks the store refused
  std::vector<Outcome> pending_;    // answered or handed back, not yet written
  // Handed back while being marked: why and when due, written once the mark lands.
  std::map<std::size_t, std::pair<const char*, std::int64_t>> deferred_back_;
  bool failed_ = false;  // a mark failed: nothing more is marked
  bool stop_ = false;
  std::thread marker_;
};

template <class Sender, class Message>
void Dispatcher::send_through(Provider& p, Sender& sender, std::vector<Message>& messages,
                              std::vector<std::size_t>& rows, Batch& b,
                              const std::function<void()>& before_first_mark) {
  std::size_t cap = static_cast<std::size_t>(std::max(1, sender.max_in_flight()));
  if (p.limits.concurrency > 0) cap = std::min(cap, static_cast<std::size_t>(p.limits.concurrency));
  Stream<Message> stream(*this, p, sender.name(), messages, rows, b, cap, before_first_mark);
  std::string error;
  try {
    sender.send_stream(stream);
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "the sender failed";
  }
  stream.finish(error.empty() ? nullptr : error.c_str());
}

void Dispatcher::send(Batch& b, const std::function<void()>& before_first_mark) {
  if (!b.emails.empty())
    send_through(*providers_[0], email_, b.emails, b.email_rows, b, before_first_mark);
  if (!b.texts.empty())
    send_through(*providers_[1], sms_, b.texts, b.sms_rows, b, before_first_mark);
}

std::vector<std::int64_t> Dispatcher::record_sent(const OutboxTransaction& c,
                                                  const std::vector<ClaimedMessage>& claimed,
                                                  const std::vector<Outcome>& outcomes,
                                                  std::int64_t now) {
  const auto email_name = email_.name();
  const auto sms_name = sms_.name();
  std::vector<OutboxStore::Sent> sent;
  for (const auto& o : outcomes) {
    if (o.hand_back || o.result.status != SendStatus::kSent) continue;
    const auto& m = claimed[o.row];
    sent.push_back({m.id, m.kind == OutboxKind::kEmail ? &email_name : &sms_name, &o.result});
  }
  auto recorded = c.outbox.mark_sent_many(sent, now);
  std::sort(recorded.begin(), recorded.end());
  return recorded;
}

void Dispatcher::write_outcomes(const OutboxTransaction& c,
                                const std::vector<ClaimedMessage>& claimed,
                                const std::vector<Outcome>& outcomes, Recorded& rec) {
  if (outcomes.empty()) return;
  const auto done = clock_.now_unix();
  // Each mark is fenced on this instance's lease: one that changes nothing found
  // the row taken over by another instance, whose outcome it is; not counted here.
  auto count = [](bool marked, auto& counter) {
    if (marked) ++counter;
    return marked;
  };
  const auto email_name = email_.name();
  const auto sms_name = sms_.name();
  const auto recorded = record_sent(c, claimed, outcomes, done);
  auto record_one = [&](OutboxStore& out, const ClaimedMessage& m, const SendResult& r,
                        const std::string& provider) {
    switch (r.status) {
      case SendStatus::kSent:  // recorded above
        return count(std::binary_search(recorded.begin(), recorded.end(), m.id), rec.sent);
      case SendStatus::kRetryable:
        if (m.attempts >= options_.max_attempts)
          return count(out.mark_failed(m.id, provider, r, done), rec.failed);
        {
          auto delay = jittered_backoff_seconds(m.attempts);
          if (r.retry_after) delay = std::max<std::int64_t>(delay, r.retry_after->count());
          return count(out.mark_retry(m.id, r, done + delay), rec.retried);
        }
      case SendStatus::kPermanent:
        return count(out.mark_failed(m.id, provider, r, done), rec.failed);
    }
    return false;
  };
  // Errors in a row per broadcast, counted in the order the provider answered.
  auto count_for_broadcast = [&](const ClaimedMessage& m, const SendResult& r) {
    if (m.broadcast_id == 0 || options_.broadcast_pause_after_errors <= 0) return;
    std::lock_guard lk(counters_mu_);
    auto& n = broadcast_errors_[m.broadcast_id];
    if (r.status == SendStatus::kSent) {
      n = 0;
      return;
    }
    if (++n >= options_.broadcast_pause_after_errors) {
      rec.pause[m.broadcast_id] = std::to_string(n) +
                                  " errors in a row; the last: " + r.provider_code + " " +
                                  r.provider_message;
      n = 0;
    }
  };
  for (const auto& o : outcomes) {
    const auto& m = claimed[o.row];
    if (o.hand_back) {
      if (o.wait_reason != nullptr)
        c.outbox.hold(m.id, o.due, o.wait_reason);
      else
        c.outbox.hand_back(m.id, o.due);
      continue;
    }
    const auto& provider = m.kind == OutboxKind::kEmail ? email_name : sms_name;
    bool ours = false;
    if (m.lane == OutboxLane::kBulk && o.result.ambiguous && o.result.status != SendStatus::kSent) {
      // The provider may have taken it: never sent again automatically.
      ours = count(c.outbox.mark_unknown(m.id, provider, o.result, done), rec.failed);
    } else {
      ours = record_one(c.outbox, m, o.result, provider);
    }
    if (ours) count_for_broadcast(m, o.result);
    if (m.kind == OutboxKind::kSms && o.result.recipient_opted_out && m.channel_id != 0) {
      record_provider_opt_out(c.consent(), m.channel_id, sms_name + " " + o.result.provider_code,
                              done);
    }
    // The address or number can never be reached (an SMTP 550 for the
    // recipient, Twilio 21211): nothing more goes to it.
    if (o.result.recipient_undeliverable && m.channel_id != 0) {
      std::string report =
          provider + " " + o.result.provider_code + " " + o.result.provider_message.substr(0, 200);
      report = text::strip_crlf(report);
      while (!report.empty() && !text::is_valid_utf8(report)) report.pop_back();  // cut mid-char
      record_provider_undeliverable(c.consent(), m.channel_id, report, done);
    }
  }
  for (const auto& [id, reason] : rec.pause) c.outbox.pause_broadcast(id, reason, done);
}

void Dispatcher::record(Batch& b) {
  if (b.outcomes.empty()) {  // all written with the hand-over marks
    release_batch(b);
    return;
  }
  yield_to_requests();
  Recorded rec;
  try {
    outbox_.run([&](const OutboxTransaction& c) {
      rec = {};  // run again after a conflict
      write_outcomes(c, b.claimed, b.outcomes, rec);
    });
  } catch (...) {
    // Kept (the rows stay leased meanwhile) and written with the next claim.
    keep_unwritten(b, b.outcomes);
    release_batch(b);
    throw;
  }
  b.outcomes.clear();
  release_batch(b);
  committed(rec);
}

void Dispatcher::committed(const Recorded& rec) {
  sent_ += rec.sent;
  retried_ += rec.retried;
  failed_ += rec.failed;
  for (const auto& [id, reason] : rec.pause)
    std::fprintf(stderr, "dispatcher: broadcast %lld paused: %s\n", static_cast<long long>(id),
                 reason.c_str());
}

void Dispatcher::keep_unwritten(const Batch& b, std::vector<Outcome>& outcomes) {
  std::lock_guard lk(unwritten_mu_);
  for (auto& o : outcomes) {
    Unwritten u;
    u.message = b.claimed[o.row];
    u.message.email = {};  // write_outcomes needs the row, not the message
    u.message.sms = {};
    u.message.payload.clear();
    u.outcome = std::move(o);
    u.outcome.row = 0;
    u.batch = b.serial;
    unwritten_.push_back(std::move(u));
  }
  outcomes.clear();
}

void Dispatcher::release_batch(const Batch& b) {
  std::lock_guard lk(unwritten_mu_);
  std::set<std::int64_t> kept;
  for (const auto& u : unwritten_)
    if (u.batch == b.serial) kept.insert(u.message.id);
  for (const auto& m : b.claimed) {
    auto it = claimed_by_.find(m.id);
    if (it != claimed_by_.end() && it->second == b.serial && !kept.contains(m.id))
      claimed_by_.erase(it);
  }
}

std::vector<std::pair<std::int64_t, std::uint64_t>> Dispatcher::write_unwritten(
    const OutboxTransaction& c, Recorded& rec) {
  std::vector<std::pair<std::int64_t, std::uint64_t>> done;  // (row, batch)
  std::vector<ClaimedMessage> claimed;
  std::vector<Outcome> outcomes;
  {
    std::lock_guard lk(unwritten_mu_);
    for (const auto& u : unwritten_) {
      done.emplace_back(u.message.id, u.batch);
      // Claimed again since (by this process): the first write did land
      // (the row was queued again), and the outcome is no longer this row's.
      auto it = claimed_by_.find(u.message.id);
      if (it == claimed_by_.end() || it->second != u.batch) continue;
      claimed.push_back(u.message);
      outcomes.push_back(u.outcome);
      outcomes.back().row = claimed.size() - 1;
    }
  }
  // Written again: a mark fenced on the row's state and lease owner changes
  // nothing when its first write landed, or when the row is no longer ours.
  write_outcomes(c, claimed, outcomes, rec);
  return done;
}

void Dispatcher::forget_written(
    const std::vector<std::pair<std::int64_t, std::uint64_t>>& written) {
  if (written.empty()) return;
  std::lock_guard lk(unwritten_mu_);
  const std::set<std::pair<std::int64_t, std::uint64_t>> gone(written.begin(), written.end());
  std::erase_if(unwritten_, [&](const Unwritten& u) {
    return gone.contains({u.message.id, u.batch});
  });
  for (const auto& [id, batch] : written) {
    auto it = claimed_by_.find(id);
    if (it != claimed_by_.end() && it->second == batch) claimed_by_.erase(it);
  }
}

void Dispatcher::write_unwritten_before_stopping() {
  {
    std::lock_guard lk(unwritten_mu_);
    if (unwritten_.empty()) return;
  }
  std::vector<std::pair<std::int64_t, std::uint64_t>> written;
  Recorded rec;
  try {
    outbox_.run([&](const OutboxTransaction& c) {
      rec = {};
      written = write_unwritten(c, rec);
    });
  } catch (const std::exception& e) {
    // Left leased: the next start hands them back (release_own).
    failures_log_.log(std::string("recording: ") + e.what(),
                      std::string("dispatcher: recording failed: ") + e.what());
    return;
  }
  forget_written(written);
  committed(rec);
}

}  // namespace sc
