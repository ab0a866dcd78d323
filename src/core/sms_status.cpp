#include "sc/core/sms_status.h"

#include "sc/core/consent_service.h"

namespace sc {

int delivery_rank(std::string_view s) {
  if (s == "queued" || s == "accepted" || s == "scheduled") return 1;
  if (s == "sending") return 2;
  if (s == "sent") return 3;
  if (s == "delivered" || s == "undelivered" || s == "failed" || s == "canceled" ||
      s == "partially_delivered")
    return 4;
  if (s == "read") return 5;
  return 0;
}

bool twilio_code_undeliverable(std::string_view code) { return code == "30005" || code == "30006"; }

DeliveryOutcome record_sms_status(ConsentWrites consent, DeliveryStore& deliveries,
                                  const SmsStatusReport& report, std::int64_t now) {
  DeliveryOutcome out;
  const int rank = delivery_rank(report.status);
  if (report.message_sid.empty() || rank == 0) return out;
  auto msg = deliveries.sent_message("twilio", report.message_sid);
  if (!msg) return out;
  out.known_message = true;
  // Callbacks arrive out of order: a late "sent" never overwrites
  // "delivered", and the first final state stays.
  if (rank <= delivery_rank(msg->delivery_state)) return out;
  deliveries.set_delivery(msg->outbox_id, report.status, report.error_code, now);
  out.changed = true;
  out.state = report.status;
  // 30003 (handset off), 30004, 30007, 30008, 30034 and 30450 (Twilio's
  // pumping protection) are kept on the message only: nothing resends a
  // message once Twilio took it, and the number may work tomorrow.
  if ((report.status == "undelivered" || report.status == "failed") &&
      twilio_code_undeliverable(report.error_code)) {
    out.channel_undeliverable = record_provider_undeliverable(
        consent, msg->channel_id, "twilio " + report.error_code + " " + report.message_sid, now);
  }
  return out;
}

}  // namespace sc
