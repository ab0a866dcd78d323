// The broadcast state machine: which operator action may take a broadcast
// from which status to which, with which reason, what happens to its
// recipients, and the refusals (their codes and messages are the admin
// API's). The HTTP handler and any other front end call it; storage only
// stores the status it is given.
//
//   draft ─send─► scheduled (send_at ahead) or sending
//   scheduled, sending ─pause─► paused ─resume─► scheduled (not started, send_at ahead) or sending
//   any but completed and cancelled ─cancel─► cancelled
//   sending, paused, completed ─retry-failed / retry-unknown─► those recipients queued again;
//     a completed broadcast goes back to sending when any was
//
//   scheduled ─send_at comes─► sending ─ledger done─► completed   (advance_broadcast, the runner's)
//
// The dispatcher pauses a sending broadcast after repeated errors
// (OutboxStore::pause_broadcast, which changes only a broadcast still sending).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sc/core/broadcast.h"
#include "sc/core/result.h"

namespace sc {

// What an operator asks of a broadcast (POST …/broadcasts/{id}/<action>).
enum class BroadcastAction { kSend, kPause, kResume, kCancel, kRetryFailed, kRetryUnknown };
// "send", "pause", "resume", "cancel", "retry-failed", "retry-unknown": the
// route's last segment and the audit row's "broadcast.<action>".
const char* to_string(BroadcastAction a);
std::optional<BroadcastAction> broadcast_action_from(std::string_view s);

// What an allowed action does.
struct BroadcastTransition {
  // The status it moves to (with `reason` shown beside it); none: it stays.
  std::optional<BroadcastStatus> to;
  std::string reason;
  // send: refused (empty_audience) when no confirmed channel would enter its
  // ledger (BroadcastLedger::has_audience).
  bool needs_audience = false;
  // retry: the recipients in this state ("failed" or "unknown") are queued
  // again, before any change of status.
  std::string requeue;
  // retry of a completed broadcast: `to` only when any recipient was queued again.
  bool only_if_requeued = false;
};

// Plans `a` on `b` at `now` for the admin key named `who`, or refuses it:
// 409 invalid_transition for a status that does not allow it, 422
// send_at_in_past for a send whose send_at has passed. What needs the ledger
// (the audience, the recipients queued again) is in the plan, for
// apply_broadcast_action.
Result<BroadcastTransition> plan_transition(const Broadcast& b, BroadcastAction a, std::int64_t now,
                                            std::string_view who);

// Runs `a` on broadcast `id` inside the caller's transaction: reads it (404
// not_found when there is none), plans it, checks the audience, queues
// recipients again and stores the new status. Returns how many recipients
// were queued again (0 for all but retry). Nothing is written when it refuses.
Result<int> apply_broadcast_action(BroadcastDrafts& drafts, BroadcastLedger& ledger,
                                   std::int64_t id, BroadcastAction a, std::int64_t now,
                                   std::string_view who);

// What one step of the runner did to a broadcast.
struct BroadcastProgress {
  bool changed = false;  // its status or its ledger moved (the runner goes on at once)
  bool queued = false;   // recipients entered its ledger (the dispatcher wakes)
};

// The runner's part (sc/dispatch/broadcast_runner.h), for one broadcast it
// has work for (BroadcastDrafts::active), inside one background transaction:
// a scheduled broadcast whose send_at has come starts sending; a sending one
// takes up to chunk_rows more recipients into its ledger until the snapshot
// is done, and then completes once none is unfinished; a cancelled one has up
// to chunk_rows of its queued recipients skipped. Read again by id, since an
// operator may have paused or cancelled it since the runner listed it.
// written_ahead: a range BroadcastLedger::snapshot_ahead wrote (committed);
// when the cursor stands at its start, the chunk begins after its end (the
// cursor moves past it with this chunk's).
BroadcastProgress advance_broadcast(BroadcastDrafts& drafts, BroadcastLedger& ledger,
                                    std::int64_t id, int chunk_rows, std::int64_t now,
                                    const SnapshotAhead* written_ahead = nullptr);

// Only a draft can be edited: 409 invalid_transition otherwise.
std::optional<Error> check_editable(const Broadcast& b);

// A send_at that has passed would send at once: an operator who meant a
// time asks for "now" instead (or leaves send_at out). 422 send_at_in_past
// (at create, edit and send).
std::optional<Error> send_at_in_past(const Broadcast& b, std::int64_t now);

// 404 not_found: no broadcast has this id.
Error no_such_broadcast();

// 409 empty_audience: nobody to send to (refused, instead of "completed"
// with 0 recipients).
Error empty_audience(const Broadcast& b);

}  // namespace sc
