#include "sc/dispatch/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>
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
  int reserved = 0;  // claimed and not yet handed over or back: not to be claimed twice
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
    p->counters.channel = p->channel;
    providers_[i] = std::move(p);
  }
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  // Anything still leased belongs to a process that is gone. A confirmation
  // is sent again (at least once: a second one does no harm, a lost one
  // does); a broadcast message may have reached the provider, so it becomes
  // unknown and is never sent twice without an operator asking.
  outbox_.run([](OutboxContext& c) { c.outbox().release_all(); });
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

// One claimed batch as it moves through the stages.
struct Dispatcher::Batch {
  std::vector<ClaimedMessage> claimed;
  std::vector<OutboundEmail> emails;
  std::vector<OutboundSms> texts;
  std::vector<std::size_t> email_rows, sms_rows;  // indexes into claimed
  // The outcome of each claimed message, by index into claimed.
  struct Outcome {
    std::size_t row = 0;
    SendResult result;
    bool hand_back = false;  // not sent: queued again without counting the attempt
    std::int64_t due = 0;    // when handed back
    // Why it waits until `due`, shown to operators (OutboxStore::hold); null: it does not.
    const char* wait_reason = nullptr;
  };
  std::vector<Outcome> outcomes;
  bool empty() const { return claimed.empty(); }
};

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
      // The outcome could not be written; the lease runs out and the
      // messages are sent again (at least once, never lost).
      std::fprintf(stderr, "dispatcher: recording failed: %s\n", e.what());
    }
  };
  while (true) {
    {
      std::unique_lock lk(mu_);
      if (stopping_ && !next.valid()) {
        lk.unlock();
        finish_recording();
        return;
      }
    }
    Batch batch;
    try {
      batch = next.valid() ? next.get() : prepare();
    } catch (const std::exception& e) {
      // The database is unwell; the messages stay queued. Try again later.
      std::fprintf(stderr, "dispatcher: %s\n", e.what());
    }
    bool stopping;
    {
      std::lock_guard lk(mu_);
      stopping = stopping_;
      woken_ = false;
    }
    if (batch.empty()) {
      finish_recording();
      if (stopping) return;
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(options_.idle_poll_ms),
                   [&] { return stopping_ || woken_; });
      continue;
    }
    // A claimed batch is always sent (or handed back) and recorded, also
    // when stopping.
    if (!stopping) next = prepare_async();
    send(batch);
    finish_recording();
    recording =
        std::async(std::launch::async, [this, b = std::move(batch)]() mutable { record(b); });
  }
}

std::size_t Dispatcher::step() {
  auto batch = prepare();
  if (batch.empty()) return 0;
  send(batch);
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
  ClaimLimits limits;
  limits.total = options_.batch_size;
  {
    std::lock_guard lk(providers_mu_);
    limits.email = claim_allowance(*providers_[0], now_ms);
    limits.sms = claim_allowance(*providers_[1], now_ms);
  }
  try {
    outbox_.run([&](OutboxContext& c) {
      c.outbox().release_expired(now);
      if (limits.email > 0 || limits.sms > 0)
        b.claimed = c.outbox().claim(now, limits, now + options_.lease_seconds);
    });
  } catch (...) {
    std::lock_guard lk(providers_mu_);
    for (auto& p : providers_) p->probe_claimed = false;
    throw;
  }
  {
    std::lock_guard lk(providers_mu_);
    int claimed[2] = {0, 0};
    for (const auto& m : b.claimed) ++claimed[m.kind == OutboxKind::kEmail ? 0 : 1];
    for (int i = 0; i < 2; ++i) {
      providers_[i]->reserved += claimed[i];
      // A probe that found nothing to send is not on its way.
      if (claimed[i] == 0) providers_[i]->probe_claimed = false;
    }
  }
  for (std::size_t i = 0; i < b.claimed.size(); ++i) {
    auto& m = b.claimed[i];
    try {
      outbox_.decode(m);
    } catch (const std::exception& e) {
      // A payload that does not parse will not parse next time either.
      b.outcomes.push_back({i, SendResult::permanent("payload", e.what())});
      continue;
    }
    try {
      if (m.broadcast_id != 0 && m.kind == OutboxKind::kSms && quiet_hours_) {
        // Quiet hours where the recipient is: back in the queue, due when
        // their window opens (not an attempt), and shown as waiting until then.
        if (auto until = quiet_hours_(m.sms.to, now); until > now) {
          b.outcomes.push_back({i,
                                SendResult::retryable(kWaitQuietHours, "outside the send window"),
                                true, until, kWaitQuietHours});
          continue;
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
      continue;
    }
    if (m.kind == OutboxKind::kEmail) {
      b.emails.push_back(std::move(m.email));
      b.email_rows.push_back(i);
    } else {
      b.texts.push_back(std::move(m.sms));
      b.sms_rows.push_back(i);
    }
  }
  {
    // Messages that failed before reaching a provider were never reserved for sending.
    std::lock_guard lk(providers_mu_);
    for (const auto& o : b.outcomes) {
      auto& p = *providers_[b.claimed[o.row].kind == OutboxKind::kEmail ? 0 : 1];
      p.reserved -= 1;
      if (p.paused) p.probe_claimed = false;
    }
  }
  return b;
}

// Hands the provider its messages in chunks of at most its concurrency, each
// within its rate; stops handing over (and hands the rest back) when it is
// paused, and sends a paused provider's one probe alone.
template <class Sender, class Message>
void Dispatcher::send_through(Provider& p, Sender& sender, std::vector<Message>& messages,
                              std::vector<std::size_t>& rows, Batch& b) {
  const std::string name = sender.name();
  std::size_t i = 0;
  auto hand_back_rest = [&](std::int64_t due) {
    for (; i < messages.size(); ++i) {
      b.outcomes.push_back({rows[i], SendResult::retryable("handed-back", "not sent"), true, due});
      ++p.counters.handed_back;
      --p.reserved;
    }
  };
  // A broadcast whose errors in a row reach the pause threshold in this batch
  // sends nothing more from it: its remaining messages are handed back, and
  // record() pauses it. Without this a whole claimed batch (SC_DISPATCH_BATCH)
  // would go to a provider that refuses every one.
  std::map<std::int64_t, int> errors_in_a_row;
  auto tripped = [&](std::size_t k) {
    const auto id = b.claimed[rows[k]].broadcast_id;
    if (id == 0 || options_.broadcast_pause_after_errors <= 0) return false;
    auto it = errors_in_a_row.find(id);
    return it != errors_in_a_row.end() && it->second >= options_.broadcast_pause_after_errors;
  };
  std::unique_lock lk(providers_mu_);
  while (i < messages.size()) {
    const auto now_ms = clock_.now_ms();
    if (tripped(i)) {
      b.outcomes.push_back({rows[i], SendResult::retryable("handed-back", "broadcast pausing"),
                            true, now_ms / 1000});
      ++p.counters.handed_back;
      --p.reserved;
      ++i;
      continue;
    }
    bool probe = false;
    if (p.paused) {
      if (!p.probe_claimed) {
        hand_back_rest(now_ms / 1000);
        break;
      }
      probe = true;  // the first message after a pause is the probe, alone
    }
    std::size_t n = messages.size() - i;
    if (p.limits.concurrency > 0)
      n = std::min<std::size_t>(n, static_cast<std::size_t>(p.limits.concurrency));
    if (probe) n = 1;
    if (!p.bucket.unlimited()) {
      const int avail = p.bucket.available(now_ms);
      if (avail <= 0) {
        const auto at = p.bucket.next_available_ms(now_ms);
        bool stopping;
        {
          std::lock_guard slk(mu_);
          stopping = stopping_;
        }
        if (!threaded_ || stopping) {
          // step() never waits, nor does a stop: queued again, due when a token is back.
          if (probe) p.probe_claimed = false;
          hand_back_rest(at / 1000);
          break;
        }
        lk.unlock();
        wait_ms(at - now_ms);
        lk.lock();
        continue;
      }
      n = std::min<std::size_t>(n, static_cast<std::size_t>(avail));
    }
    for (std::size_t k = 1; k < n; ++k) {
      if (tripped(i + k)) {
        n = k;
        break;
      }
    }
    if (!p.bucket.unlimited()) p.bucket.take(now_ms, static_cast<int>(n));
    p.reserved -= static_cast<int>(n);
    lk.unlock();
    // A provider that throws has not told us what happened: retry later
    // rather than leave the batch leased until the lease runs out.
    std::vector<SendResult> results;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      results = sender.send_batch(std::span<const Message>(messages.data() + i, n));
    } catch (const std::exception& e) {
      results.assign(n, SendResult::retryable("internal", e.what()));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (results.size() != n) results.resize(n, SendResult::retryable("internal", "no result"));
    if (observer_) {
      for (const auto& r : results) observer_(name, r, seconds);
    }
    const auto done_ms = clock_.now_ms();
    lk.lock();
    for (std::size_t k = 0; k < n; ++k) {
      auto& r = results[k];
      const auto row = rows[i + k];
      if (r.auth_refused) {
        // Not the message's fault: every other message would be refused the
        // same way. Handed back without counting the attempt.
        ++p.counters.auth_refused;
        ++p.counters.handed_back;
        ++p.consecutive_auth;
        if (p.reason.empty() || !p.paused) p.reason = r.provider_code + " " + r.provider_message;
        b.outcomes.push_back({row, std::move(r), true, done_ms / 1000});
        continue;
      }
      switch (r.status) {
        case SendStatus::kSent:
          ++p.counters.sent;
          break;
        case SendStatus::kRetryable:
          ++p.counters.retryable;
          break;
        case SendStatus::kPermanent:
          ++p.counters.permanent;
          break;
      }
      // Any answer that is not a refusal of our credentials shows they work.
      p.consecutive_auth = 0;
      if (p.paused) {
        std::fprintf(stderr, "dispatcher: %s accepts again, resumed\n", name.c_str());
        p.paused = false;
        p.reason.clear();
        p.since = 0;
      }
      p.probe_delay_ms = options_.probe_base_ms;
      if (const auto id = b.claimed[row].broadcast_id; id != 0)
        errors_in_a_row[id] = r.status == SendStatus::kSent ? 0 : errors_in_a_row[id] + 1;
      b.outcomes.push_back({row, std::move(r)});
    }
    i += n;
    if (probe) {
      p.probe_claimed = false;
      if (p.paused) {
        // Still refused: probe again later, backing off.
        p.probe_delay_ms = std::min(p.probe_delay_ms * 2, options_.probe_max_ms);
        p.next_probe_ms = done_ms + p.probe_delay_ms;
      }
    } else if (!p.paused && options_.pause_after_auth_refusals > 0 &&
               p.consecutive_auth >= options_.pause_after_auth_refusals) {
      p.paused = true;
      p.since = done_ms / 1000;
      p.probe_delay_ms = options_.probe_base_ms;
      p.next_probe_ms = done_ms + p.probe_delay_ms;
      std::fprintf(stderr,
                   "dispatcher: %s refused our credentials %d times in a row (%s); paused, probing "
                   "in %lld ms\n",
                   name.c_str(), p.consecutive_auth, p.reason.c_str(),
                   static_cast<long long>(p.probe_delay_ms));
    }
  }
}

// The next batch is claimed while this one is with the provider; only now
// does it leave. Written before the first request so that a crash before it
// queues the batch again (it never left) and a crash after it makes the
// batch unknown (it may have left). Transactional messages are sent again
// after a crash anyway.
void Dispatcher::hand_over(Batch& b) {
  std::vector<std::int64_t> bulk;
  for (const auto* rows : {&b.email_rows, &b.sms_rows})
    for (auto row : *rows)
      if (b.claimed[row].lane == OutboxLane::kBulk) bulk.push_back(b.claimed[row].id);
  if (bulk.empty()) return;
  std::vector<std::int64_t> marked;
  bool failed = false;
  try {
    outbox_.run([&](OutboxContext& c) {
      marked = c.outbox().mark_handed_over(bulk, clock_.now_unix() + options_.lease_seconds);
    });
  } catch (const std::exception& e) {
    // Not marked: not sent. They are handed back, or queued again when their lease runs out.
    std::fprintf(stderr, "dispatcher: handing over failed: %s\n", e.what());
    failed = true;
  }
  if (marked.size() == bulk.size()) return;
  std::sort(marked.begin(), marked.end());
  const auto now = clock_.now_unix();
  // A bulk message not marked is not sent: handed back when the write
  // failed; left alone when its lease ran out (queued again, maybe claimed
  // by now: no longer this batch's to record).
  auto keep = [&](auto& messages, auto& rows, Provider& p) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& m = b.claimed[rows[i]];
      if (m.lane == OutboxLane::kBulk && !std::binary_search(marked.begin(), marked.end(), m.id)) {
        if (failed)
          b.outcomes.push_back(
              {rows[i], SendResult::retryable("handed-back", "not handed over"), true, now});
        std::lock_guard lk(providers_mu_);
        --p.reserved;
        continue;
      }
      if (out != i) {
        messages[out] = std::move(messages[i]);
        rows[out] = rows[i];
      }
      ++out;
    }
    messages.resize(out);
    rows.resize(out);
  };
  keep(b.emails, b.email_rows, *providers_[0]);
  keep(b.texts, b.sms_rows, *providers_[1]);
}

void Dispatcher::send(Batch& b) {
  hand_over(b);
  if (!b.emails.empty()) send_through(*providers_[0], email_, b.emails, b.email_rows, b);
  if (!b.texts.empty()) send_through(*providers_[1], sms_, b.texts, b.sms_rows, b);
}

void Dispatcher::record(Batch& b) {
  yield_to_requests();
  const auto done = clock_.now_unix();
  auto record_one = [&](OutboxStore& out, const ClaimedMessage& m, const SendResult& r,
                        const std::string& provider) {
    switch (r.status) {
      case SendStatus::kSent:
        out.mark_sent(m.id, provider, r, done);
        ++sent_;
        break;
      case SendStatus::kRetryable:
        if (m.attempts >= options_.max_attempts) {
          out.mark_failed(m.id, provider, r, done);
          ++failed_;
        } else {
          auto delay = jittered_backoff_seconds(m.attempts);
          if (r.retry_after) delay = std::max<std::int64_t>(delay, r.retry_after->count());
          out.mark_retry(m.id, r, done + delay);
          ++retried_;
        }
        break;
      case SendStatus::kPermanent:
        out.mark_failed(m.id, provider, r, done);
        ++failed_;
        break;
    }
  };
  // Errors in a row per broadcast, counted in the order the provider answered.
  std::map<std::int64_t, std::string> pause;  // broadcast → reason
  auto count_for_broadcast = [&](const ClaimedMessage& m, const SendResult& r) {
    if (m.broadcast_id == 0 || options_.broadcast_pause_after_errors <= 0) return;
    auto& n = broadcast_errors_[m.broadcast_id];
    if (r.status == SendStatus::kSent) {
      n = 0;
      return;
    }
    if (++n >= options_.broadcast_pause_after_errors) {
      pause[m.broadcast_id] = std::to_string(n) + " errors in a row; the last: " + r.provider_code +
                              " " + r.provider_message;
      n = 0;
    }
  };
  outbox_.run([&](OutboxContext& c) {
    const auto email_name = email_.name();
    const auto sms_name = sms_.name();
    for (const auto& o : b.outcomes) {
      const auto& m = b.claimed[o.row];
      if (o.hand_back) {
        if (o.wait_reason != nullptr)
          c.outbox().hold(m.id, o.due, o.wait_reason);
        else
          c.outbox().hand_back(m.id, o.due);
        continue;
      }
      const auto& provider = m.kind == OutboxKind::kEmail ? email_name : sms_name;
      count_for_broadcast(m, o.result);
      if (m.lane == OutboxLane::kBulk && o.result.ambiguous &&
          o.result.status != SendStatus::kSent) {
        // The provider may have taken it: never sent again automatically.
        c.outbox().mark_unknown(m.id, provider, o.result, done);
        ++failed_;
      } else {
        record_one(c.outbox(), m, o.result, provider);
      }
      if (m.kind == OutboxKind::kSms && o.result.recipient_opted_out && m.channel_id != 0) {
        record_provider_opt_out(c.consent(), m.channel_id, sms_name + " " + o.result.provider_code,
                                done);
      }
      // The address or number can never be reached (an SMTP 550 for the
      // recipient, Twilio 21211): nothing more goes to it.
      if (o.result.recipient_undeliverable && m.channel_id != 0) {
        std::string report = provider + " " + o.result.provider_code + " " +
                             o.result.provider_message.substr(0, 200);
        report = text::strip_crlf(report);
        while (!report.empty() && !text::is_valid_utf8(report)) report.pop_back();  // cut mid-char
        record_provider_undeliverable(c.consent(), m.channel_id, report, done);
      }
    }
    for (const auto& [id, reason] : pause) c.outbox().pause_broadcast(id, reason, done);
  });
  for (const auto& [id, reason] : pause)
    std::fprintf(stderr, "dispatcher: broadcast %lld paused: %s\n", static_cast<long long>(id),
                 reason.c_str());
}

}  // namespace sc
