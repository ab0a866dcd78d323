// The domain model: an identity (Subscriber), its per-channel consent state
// (Channel), and the append-only consent log (ConsentEvent) kept apart.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sc {

enum class ChannelKind { kEmail, kSms };
// kUndeliverable: a provider reported that the address or number can never
// be reached (hard bounce, invalid number); nothing is sent to it until its
// owner signs up again.
enum class ConsentState { kPending, kConfirmed, kUnsubscribed, kUndeliverable };
// kUndeliverable: the channel was found unreachable; kHelp: HELP was answered;
// kReceived: an inbound text that changed nothing was kept as evidence.
enum class ConsentAction { kGrant, kConfirm, kWithdraw, kUndeliverable, kHelp, kReceived };
// kComplaint: a spam report; kProvider: a provider's report (bounce, invalid
// number, the provider's own opt-out list); kImport: an operator's import.
enum class ConsentSource {
  kForm,
  kLink,
  kOneClick,
  kKeyword,
  kAdmin,
  kComplaint,
  kProvider,
  kImport
};

const char* to_string(ChannelKind k);
const char* to_string(ConsentState s);
const char* to_string(ConsentAction a);
const char* to_string(ConsentSource s);
std::optional<ChannelKind> channel_kind_from(std::string_view s);
std::optional<ConsentState> consent_state_from(std::string_view s);

struct Subscriber {
  std::int64_t id = 0;
  std::string first_name;
  std::string postal_code;
  std::int64_t created_at = 0;
};

struct Channel {
  std::int64_t id = 0;
  std::int64_t subscriber_id = 0;
  ChannelKind kind = ChannelKind::kEmail;
  std::string address;  // normalised email or E.164 number
  ConsentState state = ConsentState::kPending;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;       // the latest state change
  std::int64_t confirm_sent_at = 0;  // last confirmation message queued (for the cooldown)
  // Counts the channel's state changes; a confirm link carries the version it
  // was sent at, so a link sent before the latest change (even in the same
  // second) confirms nothing.
  std::int64_t state_version = 0;
};

// The exact consent text a person was shown, identified by version and hash.
struct ConsentText {
  std::string version;  // e.g. "email-v1"
  std::string text;
  std::string sha256_hex;
};

// Who did what, from where: one row of the append-only consent log.
struct RequestContext {
  std::string ip;
  std::string user_agent;
};

struct ConsentEvent {
  std::int64_t subscriber_id = 0;
  std::int64_t channel_id = 0;
  ChannelKind channel = ChannelKind::kEmail;
  std::string address;
  ConsentAction action = ConsentAction::kGrant;
  ConsentSource source = ConsentSource::kForm;
  std::string detail;  // the form's `source` field, the keyword, the admin key name …
  RequestContext context;
  std::string consent_text_version;
  std::string consent_text_sha256;
  std::int64_t at = 0;
  // An inbound text that caused or was answered by this row: its MessageSid,
  // what it said, and Twilio's OptOutType when Twilio answered it itself.
  std::string message_sid;
  std::string text_received;
  std::string opt_out_type;
};

// An inbound text as stored (every processed MessageSid; the ones that are
// not a keyword are listed for review).
struct StoredInboundText {
  std::int64_t id = 0;
  std::string message_sid;
  std::string from;
  std::string body;
  std::string keyword;  // none, opt_in, opt_out, help
  std::string opt_out_type;
  std::string outcome;  // confirmed, unsubscribed, answered, ignored
  std::int64_t received_at = 0;
  std::int64_t reviewed_at = 0;  // 0: not reviewed
  std::string reviewed_by;
  std::string review_action;  // "opt_out"
};

// The outbox row a provider's message id names, as a delivery report needs it.
struct SentMessageRef {
  std::int64_t outbox_id = 0;
  std::int64_t channel_id = 0;
  std::int64_t broadcast_id = 0;
  std::string delivery_state;  // "" until the provider reports
};

enum class OutboxKind { kEmail, kSms };

// A message waiting in the outbox; the payload is fully rendered so a retry
// sends the same bytes (same Message-ID) as the first attempt.
struct OutboxEntry {
  std::int64_t id = 0;
  OutboxKind kind = OutboxKind::kEmail;
  std::int64_t channel_id = 0;
  std::int64_t broadcast_id = 0;  // 0 for transactional messages
  std::string purpose;            // "confirm", "welcome", "broadcast", "test"
  std::int64_t queued_at = 0;     // when it was queued (the service's clock), unix seconds
  // Not to be sent before this (unix seconds); 0: at once. An import's
  // confirmations are paced this way (sc/core/import.h).
  std::int64_t due_at = 0;
};

}  // namespace sc
