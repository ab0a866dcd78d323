#include "sc/dispatch/dispatcher.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

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
    // Sending is asynchronous and paced by providers; answering a sign-up is
    // not. Under a burst the request path gets the CPU first and the outbox
    // catches up after (a thread's nice value is per thread on Linux).
    if (options_.nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.nice);
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

void Dispatcher::loop() {
  while (true) {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return;
      woken_ = false;
    }
    std::size_t n = 0;
    try {
      n = step();
    } catch (const std::exception& e) {
      // The database is unwell; the messages stay queued. Try again later.
      std::fprintf(stderr, "dispatcher: %s\n", e.what());
    }
    if (n > 0) continue;
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(options_.idle_poll_ms), [&] { return stopping_ || woken_; });
  }
}

std::size_t Dispatcher::step() {
  const auto now = clock_.now_unix();
  auto claimed = writer_.run([&](storage::WriteContext& c) {
    c.outbox().release_expired(now);
    return c.outbox().claim(now, options_.batch_size, now + options_.lease_seconds);
  });
  if (claimed.empty()) return 0;

  std::vector<OutboundEmail> emails;
  std::vector<OutboundSms> texts;
  std::vector<const storage::ClaimedMessage*> email_rows, sms_rows;
  // Messages that failed before reaching a provider (a template that will
  // not render). Recorded as retryable so they end as failed after
  // max_attempts instead of staying leased and coming back forever.
  std::vector<std::pair<const storage::ClaimedMessage*, SendResult>> unsent;
  for (auto& m : claimed) {
    try {
      storage::decode_payload(m);
    } catch (const std::exception& e) {
      // A payload that does not parse will not parse next time either.
      unsent.emplace_back(&m, SendResult::permanent("payload", e.what()));
      continue;
    }
    try {
      if (m.kind == OutboxKind::kEmail) {
        if (composer_ != nullptr) render_queued(*composer_, m.email);
      } else {
        if (composer_ != nullptr) render_queued(*composer_, m.sms);
      }
    } catch (const std::exception& e) {
      unsent.emplace_back(&m, SendResult::retryable("render", e.what()));
      continue;
    }
    if (m.kind == OutboxKind::kEmail) {
      emails.push_back(std::move(m.email));
      email_rows.push_back(&m);
    } else {
      texts.push_back(std::move(m.sms));
      sms_rows.push_back(&m);
    }
  }
  // A provider that throws has not told us what happened: retry later
  // rather than leave the batch leased until the lease runs out.
  auto send_all = [](auto& sender, const auto& batch) {
    try {
      return sender.send_batch(batch);
    } catch (const std::exception& e) {
      return std::vector<SendResult>(batch.size(), SendResult::retryable("internal", e.what()));
    }
  };
  std::vector<SendResult> email_results, sms_results;
  if (!emails.empty()) email_results = send_all(email_, emails);
  if (!texts.empty()) sms_results = send_all(sms_, texts);

  const auto done = clock_.now_unix();
  auto record = [&](storage::OutboxStore& out, const storage::ClaimedMessage& m, const SendResult& r,
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
  writer_.run([&](storage::WriteContext& c) {
    const auto email_name = email_.name();
    const auto sms_name = sms_.name();
    for (std::size_t i = 0; i < email_rows.size(); ++i) {
      record(c.outbox(), *email_rows[i],
             i < email_results.size() ? email_results[i] : SendResult::retryable("internal", "no result"),
             email_name);
    }
    for (std::size_t i = 0; i < sms_rows.size(); ++i) {
      record(c.outbox(), *sms_rows[i],
             i < sms_results.size() ? sms_results[i] : SendResult::retryable("internal", "no result"), sms_name);
    }
    for (const auto& [m, r] : unsent) record(c.outbox(), *m, r, m->kind == OutboxKind::kEmail ? email_name : sms_name);
  });
  return claimed.size();
}

}  // namespace sc
