#include "sc/core/model.h"

#include "sc/core/message.h"

namespace sc {

const char* to_string(ChannelKind k) { return k == ChannelKind::kEmail ? "email" : "sms"; }

const char* to_string(ConsentState s) {
  switch (s) {
    case ConsentState::kPending:
      return "pending";
    case ConsentState::kConfirmed:
      return "confirmed";
    case ConsentState::kUnsubscribed:
      return "unsubscribed";
    case ConsentState::kUndeliverable:
      return "undeliverable";
  }
  return "unknown";
}

const char* to_string(ConsentAction a) {
  switch (a) {
    case ConsentAction::kGrant:
      return "grant";
    case ConsentAction::kConfirm:
      return "confirm";
    case ConsentAction::kWithdraw:
      return "withdraw";
    case ConsentAction::kUndeliverable:
      return "undeliverable";
    case ConsentAction::kHelp:
      return "help";
    case ConsentAction::kReceived:
      return "received";
  }
  return "unknown";
}

const char* to_string(ConsentSource s) {
  switch (s) {
    case ConsentSource::kForm:
      return "form";
    case ConsentSource::kLink:
      return "link";
    case ConsentSource::kOneClick:
      return "one-click";
    case ConsentSource::kKeyword:
      return "keyword";
    case ConsentSource::kAdmin:
      return "admin";
    case ConsentSource::kComplaint:
      return "complaint";
    case ConsentSource::kProvider:
      return "provider";
    case ConsentSource::kImport:
      return "import";
  }
  return "unknown";
}

const char* to_string(SendStatus s) {
  switch (s) {
    case SendStatus::kSent:
      return "sent";
    case SendStatus::kRetryable:
      return "retryable";
    case SendStatus::kPermanent:
      return "permanent";
  }
  return "unknown";
}

std::optional<ChannelKind> channel_kind_from(std::string_view s) {
  if (s == "email") return ChannelKind::kEmail;
  if (s == "sms") return ChannelKind::kSms;
  return std::nullopt;
}

std::optional<ConsentState> consent_state_from(std::string_view s) {
  if (s == "pending") return ConsentState::kPending;
  if (s == "confirmed") return ConsentState::kConfirmed;
  if (s == "unsubscribed") return ConsentState::kUnsubscribed;
  if (s == "undeliverable") return ConsentState::kUndeliverable;
  return std::nullopt;
}

}  // namespace sc
