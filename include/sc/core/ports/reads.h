// ReadStore: the read-side lookups the HTTP layer needs (the admin view of a
// subscriber, the health check), served from read connections that never
// wait for the writer.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sc/core/model.h"

namespace sc {

struct ChannelView {
  ChannelKind kind;
  std::string address;
  ConsentState state;
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t channel_id = 0;
};

struct ConsentLogView {
  std::int64_t at = 0;
  std::string channel, address, action, source, detail, ip, user_agent, consent_text_version;
  std::string message_sid, text_received, opt_out_type;  // of an inbound text
};

// A subscriber with every channel, topic and consent-log row, as an admin sees it.
struct SubscriberView {
  Subscriber subscriber;
  std::vector<ChannelView> channels;
  std::vector<std::string> topics;
  std::vector<ConsentLogView> consent_log;
};

class ReadStore {
 public:
  virtual ~ReadStore() = default;
  // The subscriber owning a channel (address normalised as stored).
  virtual std::optional<SubscriberView> subscriber_by_channel(ChannelKind kind,
                                                              const std::string& address) = 0;
  // The consent-log rows of a number no subscriber holds (a STOP or HELP
  // from a number we do not know), oldest first.
  virtual std::vector<ConsentLogView> unknown_number_log(const std::string& address) = 0;
  // Inbound texts that were not a keyword, newest first: up to `limit` with
  // an id below `before` (0: from the newest).
  virtual std::vector<StoredInboundText> inbound_for_review(int limit, std::int64_t before) = 0;
  // True while the database answers a trivial query.
  virtual bool healthy() = 0;
};

}  // namespace sc
