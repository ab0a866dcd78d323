// Delivery reports: what a provider says became of a message after it took
// it (Twilio's status callback). The state only moves forward, so reports
// that arrive late or twice change nothing; a report that the number can
// never get a text makes its channel undeliverable.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "sc/core/ports/stores.h"

namespace sc {

// A Twilio status callback as received: MessageSid, MessageStatus and
// ErrorCode (empty when absent).
struct SmsStatusReport {
  std::string message_sid;
  std::string status;
  std::string error_code;
};

// How far a delivery state is along: queued/accepted/scheduled 1, sending 2,
// sent 3, delivered/undelivered/failed/canceled 4 (final), read 5; 0 for a
// status that is not an outbound message's (receiving, received, unknown).
int delivery_rank(std::string_view state);

// What one report did.
struct DeliveryOutcome {
  bool known_message = false;          // the sid names a message we sent
  bool changed = false;                // its delivery state moved forward
  bool channel_undeliverable = false;  // the report made the channel undeliverable
  std::string state;                   // the state recorded ("" when unchanged)
};

// Twilio's asynchronous error codes (docs/api.md, POST /webhooks/twilio/status):
// true for those that say the number can never get a text (30005 unknown
// handset, 30006 landline or unreachable carrier).
bool twilio_code_undeliverable(std::string_view code);

// Records a status callback in the outbox row of provider "twilio" whose
// provider_message_id is the report's MessageSid (broadcast messages are
// outbox rows too). Unknown sids and statuses change nothing.
DeliveryOutcome record_sms_status(ConsentWrites consent, DeliveryStore& deliveries,
                                  const SmsStatusReport& report, std::int64_t now);

}  // namespace sc
