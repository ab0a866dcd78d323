// Outbound messages as the dispatcher hands them to providers, and the
// provider-neutral outcome of one send attempt.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc {

// A mailbox: "Display Name <addr@domain>". display_name may be empty.
struct Mailbox {
  std::string address;
  std::string display_name;
};

// One email, fully rendered. Everything a provider needs to send it, nothing
// it must look up. message_id is without angle brackets ("x.y@domain").
struct OutboundEmail {
  std::int64_t outbox_id = 0;
  std::string message_id;
  std::int64_t date_unix = 0;  // the Date: header, seconds since epoch (UTC)
  Mailbox from;
  Mailbox to;
  std::string envelope_from;  // SMTP MAIL FROM / bounce address; empty means from.address
  std::string reply_to;
  std::string subject;
  std::string text;  // text/plain body, UTF-8, LF or CRLF line ends
  std::string html;  // text/html body, UTF-8; may be empty (then the mail is text only)
  std::string list_unsubscribe_url;     // https one-click URL (RFC 8058)
  std::string list_unsubscribe_mailto;  // optional "mailto:..." alternative
  std::string list_id;                  // optional List-Id value, e.g. "News <news.example.org>"
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // When set, subject/text/html are rendered from this template with these
  // values just before sending (by the dispatcher, off the commit path).
  std::string template_name;
  std::map<std::string, std::string> template_vars;
};

struct OutboundSms {
  std::int64_t outbox_id = 0;
  std::string to;  // E.164
  std::string body;
  std::string template_name;  // as for OutboundEmail
  std::map<std::string, std::string> template_vars;
};

enum class SendStatus { kSent, kRetryable, kPermanent };

// The outcome of one attempt, with the provider's own code and text kept.
struct SendResult {
  SendStatus status = SendStatus::kRetryable;
  std::string provider_code;        // "250", "202", "429", "curl:7", "smtp:550" …
  std::string provider_message;     // the provider's reply text / error body
  std::string provider_message_id;  // X-Message-Id, Twilio SM…, Message-ID for files
  std::optional<std::chrono::seconds> retry_after;  // provider asked us to wait
  // The provider says the recipient has opted out with it (Twilio 21610: they
  // replied STOP to this sender); the channel is then unsubscribed here too.
  bool recipient_opted_out = false;
  // The provider refused our credentials (SMTP 535, SendGrid 401/403, Twilio
  // 20003, SES 403): every other message would fail the same way, so the
  // dispatcher pauses that provider instead of burning through the queue.
  bool auth_refused = false;
  // The answer never came (a timeout, a reset after the request was sent) or
  // was a 500, 502 or 504: the provider may or may not have taken the
  // message. Retryable for a confirmation (at least once); a broadcast
  // message is marked unknown instead and never resent automatically.
  bool ambiguous = false;
  // The provider says the address or number can never be reached (Twilio
  // 21211/21614, an SMTP 550/551/553 recipient rejection, a hard bounce):
  // the channel becomes undeliverable.
  bool recipient_undeliverable = false;

  static SendResult sent(std::string code, std::string id, std::string msg = {}) {
    return {SendStatus::kSent, std::move(code), std::move(msg), std::move(id), std::nullopt};
  }
  static SendResult retryable(std::string code, std::string msg,
                              std::optional<std::chrono::seconds> after = std::nullopt) {
    return {SendStatus::kRetryable, std::move(code), std::move(msg), {}, after};
  }
  static SendResult permanent(std::string code, std::string msg) {
    return {SendStatus::kPermanent, std::move(code), std::move(msg), {}, std::nullopt};
  }
};

const char* to_string(SendStatus s);

// What a sender's send_stream takes its messages from: the dispatcher
// clears each message just before it may go (a broadcast message is first
// marked as handed over, and only while its broadcast is still sending), so
// a sender asks for the next one only when it is about to send it.
template <class Message>
class SendFeed {
 public:
  virtual ~SendFeed() = default;
  // The next message to send now, in order. With `wait` (the sender has
  // nothing in flight) it blocks until one is cleared, and nullptr means
  // there are no more. Without, nullptr also when the next one is not
  // cleared yet: ask again soon (within a few ms), or after an answer.
  virtual const Message* next(bool wait) = 0;
  // No message is left to give: next() will only return nullptr.
  virtual bool finished() = 0;
  // The answer to the i-th message next() gave (counted from 0), on the
  // thread that called next(), as soon as it is known.
  virtual void answer(std::size_t i, SendResult result) = 0;
};

// The default send_stream: up to max_in_flight messages at a time through
// send_batch (one request after another for a sender that sends one at a
// time), each window's answers as it returns.
template <class Message, class SendBatch>
void send_in_windows(SendFeed<Message>& feed, int max_in_flight, SendBatch&& send_batch) {
  const auto cap = static_cast<std::size_t>(max_in_flight < 1 ? 1 : max_in_flight);
  std::vector<Message> window;
  std::size_t first = 0;
  while (true) {
    window.clear();
    for (const Message* m = feed.next(true); m != nullptr;
         m = window.size() < cap ? feed.next(false) : nullptr)
      window.push_back(*m);
    if (window.empty()) return;
    auto results = send_batch(std::span<const Message>(window));
    results.resize(window.size(), SendResult::retryable("internal", "no result"));
    for (std::size_t k = 0; k < window.size(); ++k) feed.answer(first + k, std::move(results[k]));
    first += window.size();
  }
}

// Port: every email provider (file, smtp, sendgrid, …) implements this.
// send_batch may send concurrently; it returns one result per message, in order.
class EmailSender {
 public:
  virtual ~EmailSender() = default;
  virtual std::string name() const = 0;
  virtual SendResult send(const OutboundEmail& message) = 0;
  virtual std::vector<SendResult> send_batch(std::span<const OutboundEmail> messages) {
    std::vector<SendResult> out;
    out.reserve(messages.size());
    for (const auto& m : messages) out.push_back(send(m));
    return out;
  }
  // Requests this sender has with the provider at once, at most.
  virtual int max_in_flight() const { return 1; }
  // An erased recipient (sc/core/erasure.h): forgets the copies this sender
  // keeps of the messages `outbox_ids` sent to `address`, where it keeps
  // any (the file provider's .eml files). A real provider keeps its own,
  // out of reach here (docs/operator-guide.md says how to ask it).
  virtual void forget(std::string_view /*address*/, std::span<const std::int64_t> /*outbox_ids*/) {}
  // Sends what the feed gives, up to max_in_flight at once, starting a
  // request as soon as one is answered and the next message is cleared.
  virtual void send_stream(SendFeed<OutboundEmail>& feed) {
    send_in_windows(feed, max_in_flight(),
                    [this](std::span<const OutboundEmail> ms) { return send_batch(ms); });
  }
};

// Port: every SMS provider (log, twilio) implements this.
class SmsSender {
 public:
  virtual ~SmsSender() = default;
  virtual std::string name() const = 0;
  virtual SendResult send(const OutboundSms& message) = 0;
  virtual std::vector<SendResult> send_batch(std::span<const OutboundSms> messages) {
    std::vector<SendResult> out;
    out.reserve(messages.size());
    for (const auto& m : messages) out.push_back(send(m));
    return out;
  }
  virtual int max_in_flight() const { return 1; }  // as EmailSender's
  // As EmailSender's: the log provider's lines.
  virtual void forget(std::string_view /*number*/, std::span<const std::int64_t> /*outbox_ids*/) {}
  virtual void send_stream(SendFeed<OutboundSms>& feed) {
    send_in_windows(feed, max_in_flight(),
                    [this](std::span<const OutboundSms> ms) { return send_batch(ms); });
  }
};

}  // namespace sc
