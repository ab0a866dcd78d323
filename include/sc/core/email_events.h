// Email events: what an email provider reports about messages after it took
// them (SendGrid's Event Webhook): deliveries, deferrals, bounces, drops,
// spam complaints and unsubscribes. Each event names its outbox row (the
// sc_outbox_id we send in custom_args) or the provider's message id; its
// effects on the channel and on the row's delivery state are core's.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/ports/stores.h"

namespace sc {

// One event as the provider sent it; nothing trusted but the signature.
struct EmailEvent {
  std::string event;     // "bounce", "delivered", "spamreport" …
  std::string event_id;  // sg_event_id: the same event posted twice changes nothing more
                         // (without one, the event is ignored)
  std::optional<std::int64_t> outbox_id;  // custom_args sc_outbox_id
  std::string message_id;                 // X-Message-Id (sg_message_id up to the first '.')
  std::string email;                      // must be the row's address (without one, ignored)
  std::string type;                       // bounce: "bounce" (hard) or "blocked"
  std::string reason;                     // bounce and dropped
  std::string status;                     // bounce: enhanced status code, "5.1.1"
  std::string response;                   // delivered and deferred: the receiving server's answer
  std::int64_t timestamp = 0;
};

// SendGrid's signed timestamp: older than 10 minutes or more than 5 ahead
// of our clock is refused, so a captured request cannot be replayed later.
inline constexpr std::int64_t kEventMaxAgeSeconds = 600;
inline constexpr std::int64_t kEventMaxAheadSeconds = 300;
bool event_timestamp_fresh(std::string_view timestamp, std::int64_t now);

// Delivery states only move forward: "deferred" may become anything, and
// a final state ("delivered", "bounced", "blocked", "dropped") stays.
int email_delivery_rank(std::string_view state);

struct EmailEventsOutcome {
  // event type ("other" for those we do not know) -> result
  // ("applied", "duplicate", "ignored") -> count; for metrics.
  std::map<std::string, std::map<std::string, int>> counts;
  int applied = 0;
  // Events without email or sg_event_id: ignored (and in counts as such).
  int incomplete = 0;
};

// Applies a batch of events. Unknown events, events for rows we do not
// know and events without email or sg_event_id are ignored. Runs in the caller's transaction:
// either all of a request's events count, or none.
EmailEventsOutcome apply_email_events(ConsentWrites consent, DeliveryStore& deliveries,
                                      const std::vector<EmailEvent>& events, std::int64_t now);

}  // namespace sc
