#include "sc/core/broadcast_lifecycle.h"

#include <array>
#include <utility>

namespace sc {

namespace {

constexpr std::array<std::pair<BroadcastAction, const char*>, 6> kActions = {{
    {BroadcastAction::kSend, "send"},
    {BroadcastAction::kPause, "pause"},
    {BroadcastAction::kResume, "resume"},
    {BroadcastAction::kCancel, "cancel"},
    {BroadcastAction::kRetryFailed, "retry-failed"},
    {BroadcastAction::kRetryUnknown, "retry-unknown"},
}};

Error conflict(const std::string& message) {
  return Error{ErrorCode::kConflict, "invalid_transition", message, ""};
}

}  // namespace

const char* to_string(BroadcastAction a) {
  for (const auto& [action, name] : kActions)
    if (action == a) return name;
  return "send";
}

std::optional<BroadcastAction> broadcast_action_from(std::string_view s) {
  for (const auto& [action, name] : kActions)
    if (s == name) return action;
  return std::nullopt;
}

Result<BroadcastTransition> plan_transition(const Broadcast& b, BroadcastAction a, std::int64_t now,
                                            std::string_view who) {
  using S = BroadcastStatus;
  const auto st = b.status;
  const std::string is = std::string("this broadcast is ") + to_string(st);
  BroadcastTransition t;
  switch (a) {
    case BroadcastAction::kSend:
      if (st != S::kDraft) return conflict("only a draft can be sent; " + is);
      // A time that passed while it waited as a draft: not at once.
      if (auto e = send_at_in_past(b, now)) return *e;
      t.to = b.send_at > now ? S::kScheduled : S::kSending;
      t.needs_audience = true;
      return t;
    case BroadcastAction::kPause:
      if (st != S::kSending && st != S::kScheduled)
        return conflict("only a sending or scheduled broadcast can be paused; " + is);
      t.to = S::kPaused;
      t.reason = "paused by " + std::string(who);
      return t;
    case BroadcastAction::kResume:
      if (st != S::kPaused) return conflict("only a paused broadcast can be resumed; " + is);
      // Paused before its time came: it waits for send_at again.
      t.to = b.started_at == 0 && b.send_at > now ? S::kScheduled : S::kSending;
      return t;
    case BroadcastAction::kCancel:
      if (st == S::kCompleted || st == S::kCancelled)
        return conflict("a completed or cancelled broadcast cannot be cancelled; " + is);
      t.to = S::kCancelled;
      t.reason = "cancelled by " + std::string(who);
      return t;
    case BroadcastAction::kRetryFailed:
    case BroadcastAction::kRetryUnknown:
      if (st == S::kDraft || st == S::kCancelled || st == S::kScheduled)
        return conflict("only a broadcast that has sent can retry recipients; " + is);
      t.requeue = a == BroadcastAction::kRetryFailed ? "failed" : "unknown";
      // Sending or paused: the runner and the dispatcher take them as they are.
      if (st == S::kCompleted) {
        t.to = S::kSending;
        t.only_if_requeued = true;
      }
      return t;
  }
  return conflict("unknown action; " + is);
}

Result<int> apply_broadcast_action(BroadcastDrafts& drafts, BroadcastLedger& ledger,
                                   std::int64_t id, BroadcastAction a, std::int64_t now,
                                   std::string_view who) {
  auto b = drafts.find(id);
  if (!b) return no_such_broadcast();
  auto t = plan_transition(*b, a, now, who);
  if (!t) return t.error();
  if (t->needs_audience && !ledger.has_audience(*b)) return empty_audience(*b);
  int requeued = 0;
  if (!t->requeue.empty()) requeued = ledger.requeue(id, t->requeue, now);
  if (t->to && (!t->only_if_requeued || requeued > 0))
    drafts.set_status(id, *t->to, t->reason, now);
  return requeued;
}

BroadcastProgress advance_broadcast(BroadcastDrafts& drafts, BroadcastLedger& ledger,
                                    std::int64_t id, int chunk_rows, std::int64_t now,
                                    const SnapshotAhead* written_ahead) {
  BroadcastProgress p;
  auto b = drafts.find(id);
  if (!b) return p;
  switch (b->status) {
    case BroadcastStatus::kScheduled:
      if (b->send_at <= now) {
        drafts.set_status(b->id, BroadcastStatus::kSending, "", now);
        p.changed = true;
      }
      break;
    case BroadcastStatus::kSending:
      if (!b->snapshot_done) {
        // Written ahead from where this chunk would start: it starts after.
        // (From anywhere else, another runner moved the cursor since.)
        if (written_ahead != nullptr && written_ahead->from == b->snapshot_cursor &&
            written_ahead->to > written_ahead->from)
          b->snapshot_cursor = written_ahead->to;
        if (ledger.snapshot_chunk(*b, chunk_rows, now) > 0) p.queued = true;
        p.changed = true;
      } else if (!ledger.has_unfinished(b->id)) {
        drafts.set_status(b->id, BroadcastStatus::kCompleted, "", now);
        p.changed = true;
      }
      break;
    case BroadcastStatus::kCancelled:
      if (ledger.skip_queued(b->id, chunk_rows, now) > 0) p.changed = true;
      break;
    default:
      break;
  }
  return p;
}

std::optional<Error> check_editable(const Broadcast& b) {
  if (b.status == BroadcastStatus::kDraft) return std::nullopt;
  return conflict(std::string("only a draft can be edited; this broadcast is ") +
                  to_string(b.status));
}

std::optional<Error> send_at_in_past(const Broadcast& b, std::int64_t now) {
  if (b.send_at == 0 || b.send_at >= now) return std::nullopt;
  return invalid("send_at_in_past",
                 "send_at " + format_rfc3339(b.send_at) + " has passed (it is now " +
                     format_rfc3339(now) +
                     "); give a later time, or \"now\" to send as soon as it is sent",
                 "send_at");
}

Error no_such_broadcast() {
  return Error{ErrorCode::kNotFound, "not_found", "no such broadcast", ""};
}

Error empty_audience(const Broadcast& b) {
  return Error{ErrorCode::kConflict, "empty_audience",
               std::string("no confirmed ") +
                   (b.channel == ChannelKind::kEmail ? "email address" : "phone number") +
                   (b.topics.empty() ? "" : " in the broadcast's topics") +
                   " matches this broadcast; nothing was sent and it stays a draft",
               ""};
}

}  // namespace sc
