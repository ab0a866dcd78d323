#include "support/memory_outbox.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

namespace sc::unit {

std::int64_t MemoryOutbox::add_email(std::int64_t channel_id, const OutboundEmail& m,
                                     std::int64_t broadcast_id, std::int64_t due) {
  std::lock_guard lk(mu_);
  Row r;
  r.id = next_id_++;
  r.kind = OutboxKind::kEmail;
  r.channel_id = channel_id;
  r.broadcast_id = broadcast_id;
  r.purpose = broadcast_id != 0 ? "broadcast" : "confirm";
  OutboxEntry e;
  e.broadcast_id = broadcast_id;
  r.lane = lane_for(e);
  r.next_attempt_at = due;
  r.email = m;
  r.email.outbox_id = r.id;
  rows_[r.id] = r;
  return r.id;
}

std::int64_t MemoryOutbox::add_sms(std::int64_t channel_id, const OutboundSms& m, std::int64_t due,
                                   std::int64_t broadcast_id) {
  std::lock_guard lk(mu_);
  Row r;
  r.id = next_id_++;
  r.kind = OutboxKind::kSms;
  r.channel_id = channel_id;
  r.broadcast_id = broadcast_id;
  r.lane = broadcast_id != 0 ? OutboxLane::kBulk : OutboxLane::kTransactional;
  r.purpose = broadcast_id != 0 ? "broadcast" : "confirm";
  r.next_attempt_at = due;
  r.sms = m;
  r.sms.outbox_id = r.id;
  rows_[r.id] = r;
  return r.id;
}

void MemoryOutbox::add_bulk_emails(int n, std::int64_t broadcast_id, std::int64_t due) {
  OutboundEmail m;
  m.from = {"news@example.org", "News"};
  m.subject = "Broadcast";
  m.text = "news";
  for (int i = 0; i < n; ++i) {
    m.to = {"reader" + std::to_string(i) + "@example.org", ""};
    add_email(1000 + i, m, broadcast_id, due);
  }
}

MemoryOutbox::Row MemoryOutbox::row(std::int64_t id) const {
  std::lock_guard lk(mu_);
  auto it = rows_.find(id);
  if (it == rows_.end()) {
    ADD_FAILURE() << "no outbox row " << id;
    return {};
  }
  return it->second;
}

void MemoryOutbox::set_payload(std::int64_t id, std::string payload) {
  std::lock_guard lk(mu_);
  rows_.at(id).payload = std::move(payload);
}

std::size_t MemoryOutbox::count(const std::string& state) const {
  std::lock_guard lk(mu_);
  return static_cast<std::size_t>(std::count_if(
      rows_.begin(), rows_.end(), [&](const auto& kv) { return kv.second.state == state; }));
}

void MemoryOutbox::set_channel_state(std::int64_t channel_id, ConsentState s) {
  std::lock_guard lk(mu_);
  channel_states_[channel_id] = s;
}

void MemoryOutbox::run(const std::function<void(const OutboxTransaction&)>& fn) {
  std::lock_guard lk(mu_);
  ++transactions_;
  // No rollback: the dispatcher's jobs only throw when the database does,
  // which this fake never does.
  fn(OutboxTransaction{*this, consent_, consent_});
}

void MemoryOutbox::decode(ClaimedMessage& m) const {
  if (m.payload.empty()) return;  // stored decoded already
  throw std::runtime_error("outbox message " + std::to_string(m.id) + " has a corrupt payload");
}

OutboxDepth MemoryOutbox::depth(std::int64_t now) {
  std::lock_guard lk(mu_);
  OutboxDepth d;
  for (auto lane : {OutboxLane::kTransactional, OutboxLane::kBulk}) {
    for (const char* state : {"queued", "sending"}) {
      OutboxDepth::Cell c;
      c.lane = lane;
      c.state = state;
      for (const auto& [id, r] : rows_) {
        if (r.lane == lane && r.state == state) ++c.count;
      }
      d.cells.push_back(c);
    }
  }
  for (const auto& [id, r] : rows_) {
    if (r.state == "queued" && r.next_attempt_at <= now &&
        (d.oldest_due_since == 0 || r.next_attempt_at < d.oldest_due_since))
      d.oldest_due_since = r.next_attempt_at;  // the fake has no queue time
  }
  return d;
}

std::vector<ClaimedMessage> MemoryOutbox::claim(std::int64_t now, ClaimLimits limits,
                                                std::int64_t lease_until) {
  std::vector<ClaimedMessage> out;
  int total = limits.total, email = limits.email, sms = limits.sms;
  for (auto lane : {OutboxLane::kTransactional, OutboxLane::kBulk}) {
    std::vector<Row*> due;
    for (auto& [id, r] : rows_) {
      if (r.state == "queued" && r.lane == lane && r.next_attempt_at <= now &&
          !paused_broadcasts.contains(r.broadcast_id))
        due.push_back(&r);
    }
    std::stable_sort(due.begin(), due.end(), [](const Row* a, const Row* b) {
      return a->next_attempt_at < b->next_attempt_at;
    });
    for (Row* r : due) {
      if (total <= 0) return out;
      int& left = r->kind == OutboxKind::kEmail ? email : sms;
      if (left <= 0) continue;
      auto cs = channel_states_.find(r->channel_id);
      const bool unsubscribed =
          cs != channel_states_.end() &&
          (cs->second == ConsentState::kUnsubscribed || cs->second == ConsentState::kUndeliverable);
      const bool confirmed = cs == channel_states_.end() || cs->second == ConsentState::kConfirmed;
      if (unsubscribed || (r->broadcast_id != 0 && !confirmed)) {
        r->state = "skipped";
        r->last_error = "recipient no longer consents";
        continue;
      }
      --left;
      --total;
      r->state = "sending";
      r->attempts += 1;
      r->lease_until = lease_until;
      r->handed_over = false;
      r->wait_reason.clear();
      ClaimedMessage m;
      m.id = r->id;
      m.kind = r->kind;
      m.lane = r->lane;
      m.purpose = r->purpose;
      m.broadcast_id = r->broadcast_id;
      m.channel_id = r->channel_id;
      m.attempts = r->attempts;
      m.email = r->email;
      m.sms = r->sms;
      m.payload = r->payload;
      out.push_back(std::move(m));
    }
  }
  return out;
}

MemoryOutbox::Row& MemoryOutbox::sending(std::int64_t id) {
  auto& r = rows_.at(id);
  if (r.state != "sending") ADD_FAILURE() << "outbox row " << id << " recorded while " << r.state;
  return r;
}

void MemoryOutbox::mark_sent(std::int64_t id, const std::string& provider, const SendResult& res,
                             std::int64_t) {
  auto& r = sending(id);
  r.state = "sent";
  r.provider = provider;
  r.provider_message_id = res.provider_message_id;
  r.last_code = res.provider_code;
  r.last_error.clear();
  r.lease_until = 0;
}

void MemoryOutbox::mark_retry(std::int64_t id, const SendResult& res,
                              std::int64_t next_attempt_at) {
  auto& r = sending(id);
  r.state = "queued";
  r.next_attempt_at = next_attempt_at;
  r.last_code = res.provider_code;
  r.last_error = res.provider_message;
  r.lease_until = 0;
}

void MemoryOutbox::mark_failed(std::int64_t id, const std::string& provider, const SendResult& res,
                               std::int64_t) {
  auto& r = sending(id);
  r.state = "failed";
  r.provider = provider;
  r.last_code = res.provider_code;
  r.last_error = res.provider_message;
  r.lease_until = 0;
}

void MemoryOutbox::hand_back(std::int64_t id, std::int64_t next_attempt_at) {
  auto& r = sending(id);
  r.state = "queued";
  r.attempts -= 1;
  r.next_attempt_at = next_attempt_at;
  r.lease_until = 0;
}

void MemoryOutbox::hold(std::int64_t id, std::int64_t until, const std::string& reason) {
  hand_back(id, until);
  rows_.at(id).wait_reason = reason;
}

void MemoryOutbox::mark_unknown(std::int64_t id, const std::string& provider, const SendResult& res,
                                std::int64_t) {
  auto& r = sending(id);
  r.state = "unknown";
  r.provider = provider;
  r.last_code = res.provider_code;
  r.last_error = res.provider_message;
  r.lease_until = 0;
}

void MemoryOutbox::pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                                   std::int64_t) {
  paused_broadcasts.emplace(broadcast_id, reason);
}

std::size_t MemoryOutbox::count_handed_over_unrecorded() const {
  std::lock_guard lk(mu_);
  std::size_t n = 0;
  for (const auto& [id, r] : rows_) n += r.state == "sending" && r.handed_over ? 1 : 0;
  return n;
}

void MemoryOutbox::pause(std::int64_t broadcast_id, const std::string& reason) {
  std::lock_guard lk(mu_);
  paused_broadcasts.emplace(broadcast_id, reason);
}

std::vector<std::int64_t> MemoryOutbox::mark_handed_over(const std::vector<std::int64_t>& ids,
                                                         std::int64_t lease_until) {
  std::lock_guard lk(mu_);
  std::vector<std::int64_t> out;
  for (auto id : ids) {
    auto it = rows_.find(id);
    if (it == rows_.end() || it->second.state != "sending" || it->second.handed_over) continue;
    if (paused_broadcasts.contains(it->second.broadcast_id)) {
      // No longer sending: back to the queue unsent (as the SQLite store does).
      it->second.state = "queued";
      it->second.attempts -= 1;
      it->second.lease_until = 0;
      continue;
    }
    it->second.handed_over = true;
    it->second.lease_until = lease_until;
    out.push_back(id);
  }
  return out;
}

// A bulk row handed over may have gone (unknown); one never handed over is
// queued again with its attempt given back.
static void release(MemoryOutbox::Row& r) {
  if (r.lane == OutboxLane::kBulk && !r.handed_over) {
    r.state = "queued";
    r.attempts -= 1;
  } else {
    r.state = r.lane == OutboxLane::kBulk ? "unknown" : "queued";
  }
  r.lease_until = 0;
  r.handed_over = false;
}

int MemoryOutbox::release_expired(std::int64_t now) {
  int n = 0;
  for (auto& [id, r] : rows_) {
    if (r.state == "sending" && r.lease_until < now) {
      release(r);
      ++n;
    }
  }
  return n;
}

int MemoryOutbox::release_all() {
  int n = 0;
  for (auto& [id, r] : rows_) {
    if (r.state == "sending") {
      release(r);
      ++n;
    }
  }
  return n;
}

}  // namespace sc::unit
