#include "sc/dispatch/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <thread>
#include <exception>
#include <utility>
#include <vector>

#include "sc/core/consent_service.h"

namespace sc {

Dispatcher::Dispatcher(storage::WriteQueue& writer, EmailSender& email, SmsSender& sms, const Clock& clock,
                       Options options)
    : writer_(writer), email_(email), sms_(sms), clock_(clock), options_(options) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  // Anything still leased belongs to a process that is gone: send it again.
  // (At-least-once: a message the provider took just before a crash may go
  // twice; the file provider overwrites, so it stays exactly once there.)
  writer_.run([](storage::WriteContext& c) { return c.outbox().release_all(); });
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

std::int64_t Dispatcher::backoff_seconds(int attempts) const {
  std::int64_t d = options_.base_backoff_seconds;
  for (int i = 1; i < attempts && d < options_.max_backoff_seconds; ++i) d *= 2;
  return std::min(d, options_.max_backoff_seconds);
}

// One claimed batch as it moves through the stages.
struct Dispatcher::Batch {
  std::vector<storage::ClaimedMessage> claimed;
  std::vector<OutboundEmail> emails;
  std::vector<OutboundSms> texts;
  std::vector<std::size_t> email_rows, sms_rows;  // indexes into claimed
  // Messages that failed before reaching a provider (a payload that does
  // not parse, a template that will not render).
  std::vector<std::pair<std::size_t, SendResult>> unsent;
  std::vector<SendResult> email_results, sms_results;
  bool empty() const { return claimed.empty(); }
};

// While one batch is with the provider, the next is claimed and rendered
// and the previous one recorded: the three stages overlap, so neither the
// database nor the templates leave the provider connections idle.
void Dispatcher::loop() {
  auto prepare_async = [this] { return std::async(std::launch::async, [this] { return prepare(); }); };
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
      cv_.wait_for(lk, std::chrono::milliseconds(options_.idle_poll_ms), [&] { return stopping_ || woken_; });
      continue;
    }
    // A claimed batch is always sent and recorded, also when stopping.
    if (!stopping) next = prepare_async();
    send(batch);
    finish_recording();
    recording = std::async(std::launch::async, [this, b = std::move(batch)]() mutable { record(b); });
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
  const auto seen = writer_.request_jobs();
  if (last_request_jobs_.exchange(seen) == seen) return;
  for (int waited = 0; waited < options_.max_yield_ms; waited += 10) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
    }
    const auto before = writer_.request_jobs();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Fewer than yield_when_busy requests in 10 ms: quiet enough to go on.
    if (writer_.request_jobs() - before < options_.yield_when_busy) return;
  }
}

Dispatcher::Batch Dispatcher::prepare() {
  yield_to_requests();
  Batch b;
  const auto now = clock_.now_unix();
  b.claimed = writer_.run_background([&](storage::WriteContext& c) {
    c.outbox().release_expired(now);
    return c.outbox().claim(now, options_.batch_size, now + options_.lease_seconds);
  });
  for (std::size_t i = 0; i < b.claimed.size(); ++i) {
    auto& m = b.claimed[i];
    try {
      storage::decode_payload(m);
    } catch (const std::exception& e) {
      // A payload that does not parse will not parse next time either.
      b.unsent.emplace_back(i, SendResult::permanent("payload", e.what()));
      continue;
    }
    try {
      if (m.kind == OutboxKind::kEmail) {
        if (composer_ != nullptr) render_queued(*composer_, m.email);
      } else {
        if (composer_ != nullptr) render_queued(*composer_, m.sms);
      }
    } catch (const std::exception& e) {
      // Recorded as retryable so it ends as failed after max_attempts
      // instead of staying leased and coming back forever.
      b.unsent.emplace_back(i, SendResult::retryable("render", e.what()));
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
  return b;
}

void Dispatcher::send(Batch& b) {
  // A provider that throws has not told us what happened: retry later
  // rather than leave the batch leased until the lease runs out.
  auto send_all = [](auto& sender, const auto& batch) {
    try {
      return sender.send_batch(batch);
    } catch (const std::exception& e) {
      return std::vector<SendResult>(batch.size(), SendResult::retryable("internal", e.what()));
    }
  };
  if (!b.emails.empty()) b.email_results = send_all(email_, b.emails);
  if (!b.texts.empty()) b.sms_results = send_all(sms_, b.texts);
}

void Dispatcher::record(Batch& b) {
  yield_to_requests();
  const auto done = clock_.now_unix();
  auto record_one = [&](storage::OutboxStore& out, const storage::ClaimedMessage& m, const SendResult& r,
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
          auto delay = backoff_seconds(m.attempts);
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
  writer_.run_background([&](storage::WriteContext& c) {
    const auto email_name = email_.name();
    const auto sms_name = sms_.name();
    for (std::size_t i = 0; i < b.email_rows.size(); ++i) {
      record_one(c.outbox(), b.claimed[b.email_rows[i]],
                 i < b.email_results.size() ? b.email_results[i] : SendResult::retryable("internal", "no result"),
                 email_name);
    }
    for (std::size_t i = 0; i < b.sms_rows.size(); ++i) {
      const auto& m = b.claimed[b.sms_rows[i]];
      const auto r = i < b.sms_results.size() ? b.sms_results[i] : SendResult::retryable("internal", "no result");
      record_one(c.outbox(), m, r, sms_name);
      if (r.recipient_opted_out && m.channel_id != 0) {
        record_provider_opt_out(c.consent(), m.channel_id, sms_name + " " + r.provider_code, done);
      }
    }
    for (const auto& [i, r] : b.unsent) {
      const auto& m = b.claimed[i];
      record_one(c.outbox(), m, r, m.kind == OutboxKind::kEmail ? email_name : sms_name);
    }
  });
}

}  // namespace sc
