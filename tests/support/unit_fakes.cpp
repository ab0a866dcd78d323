#include "support/unit_fakes.h"

#include <stdexcept>

#include "sc/core/text.h"

namespace sc::unit {

std::string FakeSigner::sign(std::string_view data) const {
  std::string out;
  for (std::uint64_t lane = 0; lane < 4; ++lane) {
    std::uint64_t h = 1469598103934665603ULL ^ (lane * 0x9E3779B97F4A7C15ULL);
    auto mix = [&h](std::string_view s) {
      for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
      }
      h ^= 0xFF;
      h *= 1099511628211ULL;
    };
    mix(key_);
    mix(data);
    mix(key_);
    for (int b = 0; b < 8; ++b) out += static_cast<char>((h >> (8 * b)) & 0xFF);
  }
  return out;
}

bool FakeSigner::verify(std::string_view data, std::string_view mac) const {
  return text::constant_time_equal(sign(data), mac);
}

namespace {
std::string dump(std::string_view name, const std::map<std::string, std::string>& vars) {
  std::string s = "template=" + std::string(name) + "\n";
  for (const auto& [k, v] : vars) s += k + "=" + v + "\n";
  return s;
}
}  // namespace

ComposedEmail RecordingComposer::email(std::string_view name,
                                       const std::map<std::string, std::string>& vars) const {
  email_calls.push_back({std::string(name), vars});
  return {"subject:" + std::string(name), "text:" + dump(name, vars),
          "<p>html:" + dump(name, vars) + "</p>"};
}

std::string RecordingComposer::sms(std::string_view name,
                                   const std::map<std::string, std::string>& vars) const {
  sms_calls.push_back({std::string(name), vars});
  return "sms:" + dump(name, vars);
}

namespace {
std::string escape_html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A template whose {{name}} tags are replaced by the values; nothing else.
class SubstitutingTemplate final : public InlineTemplate {
 public:
  SubstitutingTemplate(std::string_view source, bool html) : source_(source), html_(html) {}
  std::string render(const std::map<std::string, std::string>& vars) const override {
    std::string out;
    std::size_t at = 0;
    while (true) {
      const auto open = source_.find("{{", at);
      if (open == std::string::npos) break;
      const auto close = source_.find("}}", open);  // there is one: inline_error said so
      out += source_.substr(at, open - at);
      const auto it = vars.find(source_.substr(open + 2, close - open - 2));
      if (it != vars.end()) out += html_ ? escape_html(it->second) : it->second;
      at = close + 2;
    }
    return out + source_.substr(at);
  }
  std::size_t memory_bytes() const override { return source_.size(); }

 private:
  std::string source_;
  bool html_;
};
}  // namespace

std::shared_ptr<const InlineTemplate> RecordingComposer::prepare_inline(std::string_view source,
                                                                        bool html) const {
  if (auto e = inline_error(source); !e.empty()) throw std::runtime_error(e);
  return std::make_shared<SubstitutingTemplate>(source, html);
}

std::string RecordingComposer::inline_error(std::string_view source) const {
  for (std::size_t at = source.find("{{"); at != std::string_view::npos;
       at = source.find("{{", at + 2)) {
    if (source.find("}}", at) == std::string_view::npos)
      return "unclosed tag at " + std::to_string(at);
  }
  return "";
}

namespace {
// channels.address is COLLATE NOCASE in the schema (ASCII case folding).
bool same_address(std::string_view a, std::string_view b) {
  return text::to_lower_ascii(a) == text::to_lower_ascii(b);
}
}  // namespace

std::optional<Channel> MemoryConsentStore::find_channel(ChannelKind kind,
                                                        std::string_view address) {
  for (const auto& [id, c] : channels) {
    if (c.kind == kind && same_address(c.address, address)) return c;
  }
  return std::nullopt;
}

std::optional<Channel> MemoryConsentStore::channel_by_id(std::int64_t id) {
  auto it = channels.find(id);
  if (it == channels.end()) return std::nullopt;
  return it->second;
}

std::optional<Subscriber> MemoryConsentStore::subscriber_by_id(std::int64_t id) {
  auto it = subscribers.find(id);
  if (it == subscribers.end()) return std::nullopt;
  return it->second;
}

std::int64_t MemoryConsentStore::insert_subscriber(const Subscriber& s) {
  ++writes_;
  auto id = next_id_++;
  subscribers[id] = s;
  subscribers[id].id = id;
  return id;
}

std::int64_t MemoryConsentStore::insert_channel(const Channel& c) {
  ++writes_;
  if (find_channel(c.kind, c.address)) throw std::logic_error("UNIQUE(kind, address) violated");
  if (!subscribers.count(c.subscriber_id)) throw std::logic_error("channel for unknown subscriber");
  auto id = next_id_++;
  channels[id] = c;
  channels[id].id = id;
  return id;
}

void MemoryConsentStore::update_channel_state(std::int64_t channel_id, ConsentState state,
                                              std::int64_t at) {
  ++writes_;
  auto& c = channels.at(channel_id);
  c.state = state;
  c.updated_at = at;
  ++c.state_version;
}

void MemoryConsentStore::mark_confirm_sent(std::int64_t channel_id, std::int64_t at) {
  ++writes_;
  channels.at(channel_id).confirm_sent_at = at;
}

std::vector<Channel> MemoryConsentStore::channels_of(std::int64_t subscriber_id) {
  std::vector<Channel> out;
  for (auto kind : {ChannelKind::kEmail, ChannelKind::kSms})
    for (const auto& [id, c] : channels)
      if (c.subscriber_id == subscriber_id && c.kind == kind) out.push_back(c);
  return out;
}

void MemoryConsentStore::update_profile(std::int64_t subscriber_id, std::string_view first_name,
                                        std::string_view postal_code) {
  ++writes_;
  auto it = subscribers.find(subscriber_id);
  if (it == subscribers.end()) return;
  it->second.first_name = std::string(first_name);
  it->second.postal_code = std::string(postal_code);
}

void MemoryConsentStore::replace_topics(std::int64_t subscriber_id,
                                        const std::vector<std::string>& t) {
  ++writes_;
  topics.erase(subscriber_id);
  if (!t.empty()) topics[subscriber_id].insert(t.begin(), t.end());
}

void MemoryConsentStore::suppress(ChannelKind kind, std::string_view key, std::string_view,
                                  std::int64_t) {
  ++writes_;
  suppressions.emplace(kind, std::string(key));
}

bool MemoryConsentStore::is_suppressed(ChannelKind kind, std::string_view key) {
  return suppressions.contains({kind, std::string(key)});
}

std::vector<std::int64_t> MemoryConsentStore::erase_channel(const Channel& ch,
                                                            std::string_view pseudonym,
                                                            std::int64_t) {
  ++writes_;
  std::vector<std::int64_t> ids;
  for (const auto& q : emails)
    if (q.entry.channel_id == ch.id) ids.push_back(q.id);
  for (const auto& q : texts)
    if (q.entry.channel_id == ch.id) ids.push_back(q.id);
  std::erase_if(emails, [&](const auto& q) { return q.entry.channel_id == ch.id; });
  std::erase_if(texts, [&](const auto& q) { return q.entry.channel_id == ch.id; });
  for (auto& e : events) {
    if (e.channel_id != ch.id) continue;
    e.address = std::string(pseudonym);
    e.context = RequestContext{};
    e.text_received.clear();
    if (text::to_lower_ascii(e.detail).find(text::to_lower_ascii(ch.address)) != std::string::npos)
      e.detail.clear();
  }
  topic_requests.erase(ch.id);
  channels.erase(ch.id);
  return ids;
}

void MemoryConsentStore::erase_subscriber(std::int64_t subscriber_id) {
  ++writes_;
  topics.erase(subscriber_id);
  subscribers.erase(subscriber_id);
}

void MemoryConsentStore::add_topics(std::int64_t subscriber_id, const std::vector<std::string>& t) {
  ++writes_;
  topics[subscriber_id].insert(t.begin(), t.end());
}

std::vector<std::string> MemoryConsentStore::topics_of(std::int64_t subscriber_id) {
  auto it = topics.find(subscriber_id);
  if (it == topics.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void MemoryConsentStore::request_topics(std::int64_t channel_id, const std::vector<std::string>& t,
                                        std::int64_t at) {
  ++writes_;
  for (const auto& topic : t) topic_requests[channel_id][topic] = at;
}

std::vector<std::string> MemoryConsentStore::take_topic_requests(std::int64_t channel_id,
                                                                 std::int64_t requested_until) {
  std::vector<std::string> out;
  auto& held = topic_requests[channel_id];
  for (auto it = held.begin(); it != held.end();) {
    if (it->second <= requested_until) {
      out.push_back(it->first);
      it = held.erase(it);
    } else {
      ++it;
    }
  }
  if (!out.empty()) ++writes_;
  return out;
}

std::vector<std::string> MemoryConsentStore::topic_requests_of(std::int64_t channel_id) {
  std::vector<std::string> out;
  auto it = topic_requests.find(channel_id);
  if (it != topic_requests.end()) {
    for (const auto& [topic, at] : it->second) out.push_back(topic);
  }
  return out;
}

void MemoryConsentStore::append_consent(const ConsentEvent& e, const ConsentText* text) {
  ++writes_;
  events.push_back(e);
  event_texts.push_back(text ? std::optional<ConsentText>(*text) : std::nullopt);
}

std::int64_t MemoryConsentStore::enqueue_email(const OutboxEntry& entry,
                                               const OutboundEmail& email) {
  ++writes_;
  auto id = next_id_++;
  emails.push_back({id, entry, email});
  return id;
}

std::int64_t MemoryConsentStore::enqueue_sms(const OutboxEntry& entry, const OutboundSms& sms) {
  ++writes_;
  auto id = next_id_++;
  texts.push_back({id, entry, sms});
  return id;
}

bool MemoryConsentStore::inbound_text_seen(std::string_view message_sid) {
  for (const auto& [id, t] : inbound) {
    if (t.message_sid == message_sid) return true;
  }
  return false;
}

std::int64_t MemoryConsentStore::insert_inbound_text(const StoredInboundText& t) {
  ++writes_;
  if (inbound_text_seen(t.message_sid))
    throw std::runtime_error("UNIQUE constraint failed: inbound_texts.message_sid");
  auto id = next_id_++;
  inbound[id] = t;
  inbound[id].id = id;
  return id;
}

std::optional<StoredInboundText> MemoryConsentStore::inbound_text_by_id(std::int64_t id) {
  auto it = inbound.find(id);
  if (it == inbound.end()) return std::nullopt;
  return it->second;
}

void MemoryConsentStore::mark_inbound_text_reviewed(std::int64_t id, std::string_view by,
                                                    std::string_view action, std::int64_t at) {
  ++writes_;
  auto& t = inbound.at(id);
  t.reviewed_at = at;
  t.reviewed_by = std::string(by);
  t.review_action = std::string(action);
}

std::optional<SentMessageRef> MemoryConsentStore::sent_message(
    std::string_view provider, std::string_view provider_message_id) {
  auto it = sent.find({std::string(provider), std::string(provider_message_id)});
  if (it == sent.end()) return std::nullopt;
  return it->second.ref;
}

std::optional<OutboxDelivery> MemoryConsentStore::email_delivery(std::int64_t outbox_id) {
  for (const auto& q : emails) {
    if (q.id != outbox_id) continue;
    OutboxDelivery d;
    auto it = delivery.find(outbox_id);
    if (it != delivery.end()) d = it->second;
    d.id = q.id;
    d.channel_id = q.entry.channel_id;
    d.broadcast_id = q.entry.broadcast_id;
    return d;
  }
  return std::nullopt;
}

std::optional<OutboxDelivery> MemoryConsentStore::email_delivery_by_provider_id(
    std::string_view provider_message_id) {
  for (const auto& [id, pid] : provider_ids) {
    if (pid == provider_message_id) return email_delivery(id);
  }
  return std::nullopt;
}

void MemoryConsentStore::set_delivery(std::int64_t outbox_id, std::string_view state,
                                      std::string_view code, std::int64_t at) {
  ++writes_;
  for (auto& [key, row] : sent) {
    if (row.ref.outbox_id != outbox_id) continue;
    row.ref.delivery_state = std::string(state);
    row.delivery_code = std::string(code);
    row.delivery_at = at;
  }
  auto& d = delivery[outbox_id];
  d.delivery_state = std::string(state);
  d.delivery_at = at;
  delivery_codes[outbox_id] = std::string(code);
}

std::int64_t MemoryConsentStore::count_sms_confirms(SmsLimit scope, std::string_view key,
                                                    std::int64_t since) {
  std::int64_t n = 0;
  for (const auto& s : sms_confirms) {
    if (s.at <= since) continue;
    const std::string* k = scope == SmsLimit::kClient   ? &s.keys.client
                           : scope == SmsLimit::kNumber ? &s.keys.number
                           : scope == SmsLimit::kPrefix ? &s.keys.prefix
                                                        : nullptr;
    if (k == nullptr || *k == key) ++n;
  }
  return n;
}

void MemoryConsentStore::record_sms_confirm(const SmsConfirmKeys& keys, std::int64_t at,
                                            std::int64_t forget_before) {
  ++writes_;
  std::erase_if(sms_confirms, [&](const SmsConfirm& s) { return s.at < forget_before; });
  sms_confirms.push_back({keys, at});
}

bool MemoryConsentStore::first_provider_event(std::string_view provider, std::string_view event_id,
                                              std::int64_t) {
  ++writes_;
  return provider_events.insert(std::string(provider) + "/" + std::string(event_id)).second;
}

Channel& MemoryConsentStore::channel(ChannelKind kind, std::string_view address) {
  for (auto& [id, c] : channels) {
    if (c.kind == kind && same_address(c.address, address)) return c;
  }
  throw std::out_of_range("no channel " + std::string(address));
}

SmsKeywordOutcome text_keyword(ConsentService& svc, MemoryConsentStore& store,
                               std::string_view from, SmsKeyword keyword, std::string_view sid,
                               const RequestContext& ctx, std::int64_t now) {
  InboundText t;
  t.from = std::string(from);
  t.keyword = keyword;
  t.message_id = std::string(sid);
  t.body = keyword == SmsKeyword::kOptOut  ? "STOP"
           : keyword == SmsKeyword::kOptIn ? "YES"
           : keyword == SmsKeyword::kHelp  ? "HELP"
                                           : "hello";
  return svc.receive_text(store.tx(), t, ctx, now);
}

}  // namespace sc::unit
