#include "sc/core/subscriber_list.h"

#include <algorithm>

#include "sc/core/broadcast.h"
#include "sc/core/text.h"

namespace sc {

namespace {

Error invalid_q(const std::string& why) { return invalid("invalid_q", why, "q"); }

std::string folded(std::string_view s) { return text::to_lower_ascii(s); }

bool starts_with_folded(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && folded(s.substr(0, prefix.size())) == prefix;
}

// A number as people type one: digits and + ( ) - . and spaces only.
bool phone_like(std::string_view q) {
  return !q.empty() && std::all_of(q.begin(), q.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '+' || c == ' ' || c == '-' || c == '.' || c == '(' ||
           c == ')';
  });
}

}  // namespace

Result<SubscriberSearch> interpret_search(std::string_view raw) {
  const auto q = text::trim(raw);
  SubscriberSearch s;
  if (q.empty()) return s;
  if (raw.size() > kMaxSearchBytes)
    return invalid_q("q is longer than " + std::to_string(kMaxSearchBytes) + " bytes");
  if (!text::is_valid_utf8(q)) return invalid_q("q is not UTF-8");
  if (text::has_control(q)) return invalid_q("q holds a control character");
  if (q.find('@') != std::string_view::npos) {
    s.kind = SubscriberSearch::Kind::kEmail;
    s.prefix = folded(q);
    return s;
  }
  if (phone_like(q)) {
    std::string digits;
    for (char c : q)
      if (c >= '0' && c <= '9') digits += c;
    if (digits.size() < 2) return invalid_q("a number to search for needs at least 2 digits");
    s.kind = SubscriberSearch::Kind::kPhone;
    s.prefix = "+" + digits;
    return s;
  }
  s.kind = SubscriberSearch::Kind::kNameOrEmail;
  s.prefix = folded(q);
  return s;
}

Result<SubscriberQuery> subscriber_query(const SubscriberFilterArgs& a) {
  SubscriberQuery q;
  if (a.q) {
    auto s = interpret_search(*a.q);
    if (!s) return s.error();
    q.search = s.value();
  }
  if (a.channel) {
    q.channel = channel_kind_from(*a.channel);
    if (!q.channel) return invalid("invalid_channel", "channel is email or sms", "channel");
  }
  if (a.state) {
    q.state = consent_state_from(*a.state);
    if (!q.state)
      return invalid("invalid_state", "state is pending, confirmed, unsubscribed or undeliverable",
                     "state");
  }
  if (a.topic) {
    q.topic = text::to_lower_ascii(text::trim(*a.topic));
    const bool ok =
        !q.topic.empty() && q.topic.size() <= 64 &&
        std::all_of(q.topic.begin(), q.topic.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        });
    if (!ok)
      return invalid("invalid_topic",
                     "topic is up to 64 letters, digits, '-' and '_', as sign-ups name topics",
                     "topic");
  }
  auto time = [](const std::optional<std::string>& v, const char* name,
                 std::int64_t& out) -> std::optional<Error> {
    if (!v) return std::nullopt;
    auto t = parse_rfc3339(*v);
    if (!t || *t <= 0)
      return invalid(std::string("invalid_") + name,
                     std::string(name) + " is an RFC 3339 time, such as 2026-12-01T00:00:00Z",
                     name);
    out = *t;
    return std::nullopt;
  };
  if (auto e = time(a.created_after, "created_after", q.created_after)) return *e;
  if (auto e = time(a.created_before, "created_before", q.created_before)) return *e;
  return q;
}

bool matches(const SubscriberQuery& q, const SubscriberSummary& s) {
  const auto& sub = s.subscriber;
  if (q.created_after != 0 && sub.created_at < q.created_after) return false;
  if (q.created_before != 0 && sub.created_at >= q.created_before) return false;
  if (!q.topic.empty() && std::find(s.topics.begin(), s.topics.end(), q.topic) == s.topics.end())
    return false;
  if (q.channel || q.state) {
    const bool any = std::any_of(s.channels.begin(), s.channels.end(), [&](const ChannelView& c) {
      return (!q.channel || c.kind == *q.channel) && (!q.state || c.state == *q.state);
    });
    if (!any) return false;
  }
  using K = SubscriberSearch::Kind;
  const auto& p = q.search.prefix;
  auto address_starts = [&](ChannelKind kind) {
    return std::any_of(s.channels.begin(), s.channels.end(), [&](const ChannelView& c) {
      return c.kind == kind && starts_with_folded(c.address, p);
    });
  };
  switch (q.search.kind) {
    case K::kNone:
      return true;
    case K::kEmail:
      return address_starts(ChannelKind::kEmail);
    case K::kPhone:
      return address_starts(ChannelKind::kSms);
    case K::kNameOrEmail:
      return starts_with_folded(sub.first_name, p) || address_starts(ChannelKind::kEmail);
  }
  return false;
}

void add_evidence(ChannelEvidence& e, std::string_view action, std::int64_t at,
                  std::string_view source, std::string_view ip, std::string_view text_version) {
  if (action == "grant") {
    e.granted_at = at;
    e.grant_source = std::string(source);
    e.grant_ip = std::string(ip);
    e.consent_text_version = std::string(text_version);
  } else if (action == "confirm") {
    e.confirmed_at = at;
  } else if (action == "withdraw") {
    e.withdrawn_at = at;
    e.withdraw_source = std::string(source);
  }
}

}  // namespace sc
