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

std::vector<LeasedMessage> MemoryOutbox::lease_due(OutboxLane lane, OutboxKind kind, int limit,
                                                   std::int64_t now, std::int64_t lease_until,
                                                   LeaseState state) {
  std::vector<Row*> due;
  for (auto& [id, r] : rows_) {
    if (r.state == "queued" && r.lane == lane && r.kind == kind && r.next_attempt_at <= now &&
        (lane == OutboxLane::kTransactional || !paused_broadcasts.contains(r.broadcast_id)))
      due.push_back(&r);
  }
  // Oldest due first (rows_ is in id order, the tie-break).
  std::stable_sort(due.begin(), due.end(), [](const Row* a, const Row* b) {
    return a->next_attempt_at < b->next_attempt_at;
  });
  if (due.size() > static_cast<std::size_t>(std::max(limit, 0)))
    due.resize(static_cast<std::size_t>(std::max(limit, 0)));
  std::vector<LeasedMessage> out;
  for (Row* r : due) {
    LeasedMessage l;
    l.due = r->next_attempt_at;
    auto cs = channel_states_.find(r->channel_id);
    l.channel_state = cs == channel_states_.end() ? ConsentState::kConfirmed : cs->second;
    r->state = "sending";
    r->attempts += 1;
    r->lease_until = lease_until;
    r->lease = state;
    r->wait_reason.clear();
    auto& m = l.message;
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
    out.push_back(std::move(l));
  }
  return out;
}

void MemoryOutbox::skip(const std::vector<std::int64_t>& ids, std::int64_t) {
  for (auto id : ids) {
    auto& r = sending(id);
    r.state = "skipped";
    r.attempts -= 1;
    r.lease_until = 0;
    r.last_error = "recipient no longer consents";
  }
}

MemoryOutbox::Row& MemoryOutbox::sending(std::int64_t id) {
  auto& r = rows_.at(id);
  if (r.state != "sending") ADD_FAILURE() << "outbox row " << id << " recorded while " << r.state;
  return r;
}

bool MemoryOutbox::finish(std::int64_t id, Finish how, const std::string& provider,
                          const SendResult& res, std::int64_t) {
  auto& r = sending(id);
  r.provider = provider;
  r.last_code = res.provider_code;
  r.lease_until = 0;
  switch (how) {
    case Finish::kSent:
      r.state = "sent";
      r.provider_message_id = res.provider_message_id;
      r.last_error.clear();
      break;
    case Finish::kFailed:
      r.state = "failed";
      r.last_error = res.provider_message;
      break;
    case Finish::kUnknown:
      r.state = "unknown";
      r.last_error = res.provider_message;
      break;
  }
  return true;
}

bool MemoryOutbox::mark_retry(std::int64_t id, const SendResult& res,
                              std::int64_t next_attempt_at) {
  auto& r = sending(id);
  r.state = "queued";
  r.next_attempt_at = next_attempt_at;
  r.last_code = res.provider_code;
  r.last_error = res.provider_message;
  r.lease_until = 0;
  return true;
}

bool MemoryOutbox::requeue(std::int64_t id, std::int64_t due, const std::string& wait_reason) {
  auto& r = sending(id);
  r.state = "queued";
  r.attempts -= 1;
  r.next_attempt_at = due;
  r.lease_until = 0;
  r.wait_reason = wait_reason;
  return true;
}

void MemoryOutbox::pause_broadcast(std::int64_t broadcast_id, const std::string& reason,
                                   std::int64_t) {
  paused_broadcasts.emplace(broadcast_id, reason);
}

std::size_t MemoryOutbox::count_handed_over_unrecorded() const {
  std::lock_guard lk(mu_);
  std::size_t n = 0;
  for (const auto& [id, r] : rows_) n += r.lane == OutboxLane::kBulk && r.handed_over() ? 1 : 0;
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
    if (it == rows_.end() || it->second.state != "sending" ||
        it->second.lease != LeaseState::kClaimed)
      continue;
    if (paused_broadcasts.contains(it->second.broadcast_id)) {
      // No longer sending: back to the queue unsent (as the SQLite store does).
      it->second.state = "queued";
      it->second.attempts -= 1;
      it->second.lease_until = 0;
      continue;
    }
    it->second.lease = LeaseState::kHandedOver;
    it->second.lease_until = lease_until;
    out.push_back(id);
  }
  return out;
}

// A bulk row handed over may have gone (unknown); one only claimed is
// queued again with its attempt given back.
static void release(MemoryOutbox::Row& r) {
  if (r.lane == OutboxLane::kBulk && r.lease == LeaseState::kClaimed) {
    r.state = "queued";
    r.attempts -= 1;
  } else {
    r.state = r.lane == OutboxLane::kBulk ? "unknown" : "queued";
  }
  r.lease_until = 0;
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

int MemoryOutbox::release_own(std::int64_t) {
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
