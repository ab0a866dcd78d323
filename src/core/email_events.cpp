#include "sc/core/email_events.h"

#include <charconv>

#include "sc/core/consent_service.h"
#include "sc/core/text.h"

namespace sc {
namespace {

constexpr std::string_view kProvider = "sendgrid";

// The event types we act on or count by name; anything else is "other", so
// a provider's new event types cannot grow the metrics without bound.
constexpr std::string_view kKnownEvents[] = {
    "processed", "dropped",    "delivered",   "deferred",          "bounce",           "open",
    "click",     "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"};

std::string metric_name(std::string_view event) {
  for (auto known : kKnownEvents)
    if (event == known) return std::string(known);
  return "other";
}

// Reasons SendGrid drops a message because the address itself is bad (it
// bounced before or is malformed). Others ("Invalid SMTPAPI header", "Spam
// Content", over quota) are about the message or the account.
bool invalid_address_drop(std::string_view reason) {
  return reason == "Invalid" || reason == "Bounced Address";
}

// At most n bytes, never cutting a UTF-8 sequence in two (the admin API
// serialises what is stored here as JSON, which refuses broken UTF-8).
std::string cut(std::string s, std::size_t n) {
  if (s.size() <= n) return s;
  s.resize(n);
  while (!s.empty() && !text::is_valid_utf8(s)) s.pop_back();
  return s;
}

// The leading SMTP reply code of a server's answer ("250 2.0.0 OK" -> "250").
std::string reply_code(std::string_view response) {
  auto t = text::trim(response);
  std::size_t n = 0;
  while (n < t.size() && n < 3 && t[n] >= '0' && t[n] <= '9') ++n;
  return n == 3 ? std::string(t.substr(0, 3)) : std::string();
}

// What goes into the consent log: who reported what, bounded in length
// and on one line (reasons are the receiving server's free text).
std::string report(const EmailEvent& e, std::string_view what) {
  std::string out = "sendgrid " + std::string(what);
  if (!e.status.empty()) out += " " + e.status;
  if (!e.reason.empty()) out += " " + e.reason;
  out = cut(text::strip_crlf(out), 300);
  if (!e.event_id.empty()) out += " (" + cut(text::strip_crlf(e.event_id), 64) + ")";
  return out;
}

struct Effect {
  std::string delivery_state;  // empty: the row's delivery state is not changed
  std::string delivery_code;
  enum class Channel { kNone, kUndeliverable, kUnsubscribed } channel = Channel::kNone;
  ConsentSource source = ConsentSource::kProvider;
};

std::optional<Effect> effect_of(const EmailEvent& e) {
  Effect f;
  if (e.event == "delivered") {
    f.delivery_state = "delivered";
    f.delivery_code = reply_code(e.response);
  } else if (e.event == "deferred") {
    f.delivery_state = "deferred";
    f.delivery_code = reply_code(e.response);
  } else if (e.event == "bounce") {
    // "blocked" is a refusal of this message (reputation, content, a full
    // mailbox at times), not proof that the address does not exist.
    const bool hard = e.type == "bounce" || e.type.empty();
    f.delivery_state = hard ? "bounced" : "blocked";
    f.delivery_code = e.status;
    if (hard) f.channel = Effect::Channel::kUndeliverable;
  } else if (e.event == "dropped") {
    f.delivery_state = "dropped";
    f.delivery_code = e.reason;
    if (invalid_address_drop(e.reason)) f.channel = Effect::Channel::kUndeliverable;
  } else if (e.event == "spamreport") {
    f.channel = Effect::Channel::kUnsubscribed;
    f.source = ConsentSource::kComplaint;
  } else if (e.event == "unsubscribe" || e.event == "group_unsubscribe") {
    f.channel = Effect::Channel::kUnsubscribed;
  } else {
    return std::nullopt;
  }
  f.delivery_code = cut(text::strip_crlf(f.delivery_code), 64);
  return f;
}

}  // namespace

bool event_timestamp_fresh(std::string_view timestamp, std::int64_t now) {
  std::int64_t t = 0;
  if (timestamp.empty() || timestamp.size() > 12) return false;
  auto [p, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), t);
  if (ec != std::errc() || p != timestamp.data() + timestamp.size() || t <= 0) return false;
  return t >= now - kEventMaxAgeSeconds && t <= now + kEventMaxAheadSeconds;
}

int email_delivery_rank(std::string_view state) {
  if (state.empty()) return 0;
  if (state == "deferred" || state == "queued" || state == "sending" || state == "sent" ||
      state == "accepted" || state == "scheduled")
    return 1;
  return 2;  // delivered, bounced, blocked, dropped, undelivered, failed …
}

EmailEventsOutcome apply_email_events(ConsentWrites consent, DeliveryStore& deliveries,
                                      const std::vector<EmailEvent>& events, std::int64_t now) {
  EmailEventsOutcome out;
  for (const auto& e : events) {
    auto& counts = out.counts[metric_name(e.event)];
    // SendGrid sends both on every event. Without the address the event
    // cannot be checked against the row's channel; without sg_event_id a
    // replay (within the signed timestamp's 10 minutes) cannot be told from
    // a new event. Neither is acted on.
    if (e.email.empty() || e.event_id.empty()) {
      ++counts["ignored"];
      ++out.incomplete;
      continue;
    }
    const auto effect = effect_of(e);
    std::optional<OutboxDelivery> row;
    if (effect) {
      if (e.outbox_id) row = deliveries.email_delivery(*e.outbox_id);
      if (!row && !e.message_id.empty())
        row = deliveries.email_delivery_by_provider_id(e.message_id);
    }
    std::optional<Channel> ch;
    if (row) ch = consent.subscribers.channel_by_id(row->channel_id);
    // The address the event names must be the row's: an id from another
    // installation (or a database restored from before) changes nothing.
    if (ch && (ch->kind != ChannelKind::kEmail || !text::iequals_ascii(e.email, ch->address)))
      ch.reset();
    if (!effect || !row || !ch) {
      ++counts["ignored"];
      continue;
    }
    if (!deliveries.first_provider_event(kProvider, e.event_id, now)) {
      ++counts["duplicate"];
      continue;
    }
    const std::int64_t at = e.timestamp > 0 ? e.timestamp : now;
    if (!effect->delivery_state.empty()) {
      const int have = email_delivery_rank(row->delivery_state);
      const int want = email_delivery_rank(effect->delivery_state);
      // Forward only; among deferrals the latest report wins.
      if (want > have || (want == have && want < 2 && at >= row->delivery_at))
        deliveries.set_delivery(row->id, effect->delivery_state, effect->delivery_code, at);
    }
    switch (effect->channel) {
      case Effect::Channel::kUndeliverable:
        record_provider_undeliverable(consent, ch->id, report(e, e.event), now);
        break;
      case Effect::Channel::kUnsubscribed:
        record_provider_unsubscribe(consent, ch->id, effect->source, report(e, e.event), now);
        break;
      case Effect::Channel::kNone:
        break;
    }
    ++counts["applied"];
    ++out.applied;
  }
  return out;
}

}  // namespace sc
