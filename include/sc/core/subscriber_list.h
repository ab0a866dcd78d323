// The operators' list (GET /api/v1/admin/subscribers, …/{id}): what a search
// means, the filters, and the read port that answers them. Every search is
// by the start of something, through an index (docs/operator-guide.md says
// which): an email address, a number in international form, a first name.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sc/core/model.h"
#include "sc/core/ports/reads.h"
#include "sc/core/result.h"

namespace sc {

// What `q` asks for.
struct SubscriberSearch {
  enum class Kind {
    kNone,         // no q: every subscriber
    kEmail,        // q has an '@': addresses starting with it
    kPhone,        // q is a number (digits, '+', spaces, '-', '.', '(' and ')'):
                   // numbers starting with it in international form
    kNameOrEmail,  // anything else: first names or addresses starting with it
  };
  Kind kind = Kind::kNone;
  // Email and name: lower-case (ASCII letters folded, as the indexes fold
  // them); phone: '+' and the digits.
  std::string prefix;
};

inline constexpr std::size_t kMaxSearchBytes = 254;

// Reads q: trimmed; empty means no search. Refused (400 invalid_q): longer
// than kMaxSearchBytes, not UTF-8, or holding a control character; a number
// with fewer than 2 digits.
Result<SubscriberSearch> interpret_search(std::string_view q);

struct SubscriberQuery {
  SubscriberSearch search;
  std::optional<ChannelKind> channel;  // with a channel of this kind (in `state` if given)
  std::optional<ConsentState> state;   // with a channel in this state (of `channel` if given)
  std::string topic;                   // who chose this topic
  std::int64_t created_after = 0;      // created at or after (unix s); 0: no bound
  std::int64_t created_before = 0;     // created before; 0: no bound
  std::int64_t before_id = 0;          // ids below this (the next page); 0: from the newest
  int limit = 50;
};

// One subscriber as the list shows them.
struct SubscriberSummary {
  Subscriber subscriber;
  std::vector<ChannelView> channels;  // in the order they were added
  std::vector<std::string> topics;    // sorted
};

// A message sent (or to be sent) to one of the subscriber's channels.
struct MessageView {
  std::int64_t id = 0;
  ChannelKind kind = ChannelKind::kEmail;
  std::string purpose;            // "confirm", "broadcast", …
  std::int64_t broadcast_id = 0;  // 0: not a broadcast's
  std::string state;              // queued, sending, sent, failed, skipped, unknown
  std::string delivery_state;     // the provider's report, when one came
  std::string provider;
  std::int64_t created_at = 0, finished_at = 0;
};

struct SubscriberDetail {
  SubscriberSummary summary;
  std::vector<ConsentLogView> consent;  // oldest first
  std::vector<MessageView> messages;    // newest first, at most kMaxMessagesShown
};

inline constexpr int kMaxMessagesShown = 200;

// The list's filters as given (query parameters; absent: nullopt), checked
// into a query: q (interpret_search), channel (email, sms), state (pending,
// confirmed, unsubscribed, undeliverable), topic (a topic as sign-ups name
// them: letters, digits, '-' and '_', any case), created_after and
// created_before (RFC 3339). Refused: 400 invalid_<name>, naming the field.
struct SubscriberFilterArgs {
  std::optional<std::string> q, channel, state, topic, created_after, created_before;
};
Result<SubscriberQuery> subscriber_query(const SubscriberFilterArgs& args);

// Channels by kind and state (kinds and states with none are absent).
struct ChannelCount {
  ChannelKind kind = ChannelKind::kEmail;
  ConsentState state = ConsentState::kPending;
  std::int64_t count = 0;
};

inline constexpr int kStatsDays = 30;

// GET /api/v1/admin/stats, read from the database (it survives restarts).
struct SubscriberStats {
  std::int64_t subscribers = 0;
  std::vector<ChannelCount> channels;
  std::vector<std::pair<std::string, std::int64_t>> topics;  // subscribers per topic, by topic
  // The last kStatsDays UTC days, oldest first, today last: subscribers
  // created (sign-ups), consent-log confirmations and withdrawals.
  struct Day {
    std::int64_t start = 0;  // unix seconds of the day's midnight (UTC)
    std::int64_t signups = 0, confirmations = 0, unsubscribes = 0;
  };
  std::vector<Day> days;
};

// The first second of the oldest day SubscriberStats::days covers at `now`.
constexpr std::int64_t stats_first_day(std::int64_t now) {
  return (now / 86400 - (kStatsDays - 1)) * 86400;
}

// What the consent log proves about one channel, for an export: its latest
// grant (when, how, from which address, the wording's version), its latest
// confirmation and its latest withdrawal (0 and "" when there was none).
struct ChannelEvidence {
  std::int64_t granted_at = 0;
  std::string grant_source, grant_ip, consent_text_version;
  std::int64_t confirmed_at = 0;
  std::int64_t withdrawn_at = 0;
  std::string withdraw_source;
};

// Folds one consent-log row of the channel, oldest first, into its evidence
// (actions other than grant, confirm and withdraw prove nothing here).
void add_evidence(ChannelEvidence& e, std::string_view action, std::int64_t at,
                  std::string_view source, std::string_view ip, std::string_view text_version);

struct ExportedChannel {
  ChannelView channel;
  ChannelEvidence evidence;
};

// One subscriber as the export writes them.
struct ExportedSubscriber {
  Subscriber subscriber;
  std::vector<std::string> topics;        // sorted
  std::vector<ExportedChannel> channels;  // email before sms
};

// An erased person's entry on the suppression list (sc/core/erasure.h).
struct SuppressionView {
  std::string reason;  // who asked: "admin" or "self"
  std::int64_t created_at = 0;
};

// Read port (read connections; never waits for the writer).
class SubscriberReads {
 public:
  virtual ~SubscriberReads() = default;
  // Newest first (by id): up to q.limit subscribers matching every filter
  // given, with ids below q.before_id.
  virtual std::vector<SubscriberSummary> list(const SubscriberQuery& q) = 0;
  // With the newest `max_messages` messages (-1: all of them, for the
  // person's own copy of their data).
  virtual std::optional<SubscriberDetail> find(std::int64_t id,
                                               int max_messages = kMaxMessagesShown) = 0;
  // The subscriber a channel belongs to (a preferences link names a channel).
  virtual std::optional<std::int64_t> subscriber_of_channel(std::int64_t channel_id) = 0;
  virtual std::vector<ChannelCount> channel_counts() = 0;  // also /metrics, at every scrape
  virtual SubscriberStats stats(std::int64_t now) = 0;
  // Oldest first (by id): up to `limit` subscribers with ids above
  // `after_id`, each with every channel, its evidence, and their topics. An
  // export reads page after page, so it holds one page in memory.
  virtual std::vector<ExportedSubscriber> export_page(std::int64_t after_id, int limit) = 0;
  // The suppression list's entry under a key, and the consent-log rows an
  // erasure left under a pseudonym (erased_pseudonym), oldest first: the
  // proof an operator shows when asked again about an erased address.
  virtual std::optional<SuppressionView> suppression(ChannelKind kind, const std::string& key) = 0;
  virtual std::vector<ConsentLogView> erased_consent(const std::string& pseudonym) = 0;
};

// The tests' and the memory backend's reading of a query, and the rule every
// backend follows: whether `s` (with its channels and topics) is in it
// (before_id and limit aside).
bool matches(const SubscriberQuery& q, const SubscriberSummary& s);

}  // namespace sc
