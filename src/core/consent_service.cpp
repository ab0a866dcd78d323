#include "sc/core/consent_service.h"

#include <algorithm>
#include <functional>

#include "sc/core/erasure.h"
#include "sc/core/person_name.h"
#include "sc/core/sms_keywords.h"
#include "sc/core/text.h"

namespace sc {
namespace {

bool present(const std::optional<std::string>& v) { return v && !text::trim(*v).empty(); }

// Names reach messages sent to addresses nobody has confirmed yet; the
// rules are in person_name.h.
Result<std::string> check_name(const std::optional<std::string>& raw) {
  if (!present(raw)) return std::string();
  static const std::string kField = "first_name";
  return check_person_name(*raw, kField);
}

Result<std::string> check_postal(const std::optional<std::string>& raw) {
  if (!present(raw)) return std::string();
  auto t = text::trim(*raw);
  if (t.size() > ConsentService::kMaxPostalLength) {
    return invalid("invalid_postal_code", "postal_code is longer than 16 characters",
                   "postal_code");
  }
  for (char c : t) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == ' ' || c == '-';
    if (!ok)
      return invalid("invalid_postal_code",
                     "postal_code may hold only letters, digits, spaces and hyphens",
                     "postal_code");
  }
  return std::string(t);
}

Result<std::vector<std::string>> check_topics(const std::vector<std::string>& raw) {
  if (raw.size() > ConsentService::kMaxTopics) {
    return invalid("invalid_topics", "at most 20 topics", "topics");
  }
  std::vector<std::string> out;
  for (const auto& r : raw) {
    auto t = text::to_lower_ascii(text::trim(r));
    if (t.empty()) continue;
    if (t.size() > ConsentService::kMaxTopicLength)
      return invalid("invalid_topics", "a topic is longer than 64 characters", "topics");
    for (char c : t) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok)
        return invalid("invalid_topics", "topics may hold only letters, digits, '-' and '_'",
                       "topics");
    }
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
  }
  return out;
}

Result<std::string> check_source(const std::optional<std::string>& raw) {
  if (!present(raw)) return std::string();
  auto t = text::trim(*raw);
  if (t.size() > ConsentService::kMaxSourceLength)
    return invalid("invalid_source", "source is longer than 64 characters", "source");
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E)
      return invalid("invalid_source", "source may hold only printable ASCII without spaces",
                     "source");
  }
  return std::string(t);
}

// A state change and its consent-log row, always together.
// `evidence` carries what an inbound text adds to the row (detail, text,
// MessageSid, OptOutType).
void change_state(ConsentWrites w, Channel& ch, ConsentState state, ConsentAction action,
                  ConsentSource source, const RequestContext& ctx, std::int64_t now,
                  std::string_view detail = {}, const ConsentEvent* evidence = nullptr) {
  w.subscribers.update_channel_state(ch.id, state, now);
  ch.state = state;
  ch.updated_at = now;
  ++ch.state_version;  // as the store counts it: links sent before now confirm nothing
  ConsentEvent e = evidence != nullptr ? *evidence : ConsentEvent{};
  e.subscriber_id = ch.subscriber_id;
  e.channel_id = ch.id;
  e.channel = ch.kind;
  e.address = ch.address;
  e.action = action;
  e.source = source;
  if (evidence == nullptr) e.detail = std::string(detail);
  e.context = ctx;
  e.at = now;
  w.log.append_consent(e, nullptr);
}

// Topics asked for through a channel, no later than `until`, become the
// subscriber's once its owner has answered through that channel, up to the
// cap (requests held on several channels could add up past it); the rest
// are forgotten.
void apply_topic_requests(TopicStore& store, const Channel& ch, std::int64_t until) {
  const auto topics = store.take_topic_requests(ch.id, until);
  if (topics.empty()) return;
  const auto existing = store.topics_of(ch.subscriber_id);
  std::size_t count = existing.size();
  std::vector<std::string> add;
  for (const auto& t : topics) {
    if (count >= ConsentService::kMaxSubscriberTopics) break;
    if (std::find(existing.begin(), existing.end(), t) != existing.end()) continue;
    add.push_back(t);
    ++count;
  }
  if (!add.empty()) store.add_topics(ch.subscriber_id, add);
}

// The name a message to this subscriber may greet with: names stored before
// the rules of person_name.h (or that got in any other way) are left out.
std::string greeting_name(const Subscriber& sub) {
  return is_acceptable_person_name(sub.first_name) ? sub.first_name : std::string();
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// The topics as a text can hold them: as many whole names as fit in about
// 60 characters, then how many more (a text is 160 characters a segment).
std::string topics_for_text(const std::vector<std::string>& topics) {
  constexpr std::size_t kRoom = 60;
  std::string out;
  std::size_t shown = 0;
  for (const auto& t : topics) {
    if (shown > 0 && out.size() + 2 + t.size() > kRoom) break;
    if (shown > 0) out += ", ";
    out += t;
    ++shown;
  }
  if (shown < topics.size()) out += " and " + std::to_string(topics.size() - shown) + " more";
  return out;
}

}  // namespace

ConsentService::ConsentService(ServiceConfig config, const Signer& signer, const Composer& composer,
                               const PhoneNormalizer* phones, IdSource& ids)
    : config_(std::move(config)),
      signer_(signer),
      tokens_(signer),
      composer_(composer),
      phones_(phones),
      ids_(ids) {
  while (!config_.public_url.empty() && config_.public_url.back() == '/')
    config_.public_url.pop_back();
}

Result<ValidatedSignup> ConsentService::validate(const SignupRequest& r) const {
  ValidatedSignup v;
  if (present(r.email)) {
    auto e = Email::parse(*r.email);
    if (!e) return e.error();
    v.email = std::move(e).value();
  }
  if (present(r.phone)) {
    if (!r.sms_consent) {
      return invalid("sms_consent_required", "texting needs the SMS consent box ticked",
                     "sms_consent");
    }
    if (phones_ == nullptr)
      return Error{ErrorCode::kUnsupported, "sms_unavailable", "this service does not send texts",
                   "phone"};
    auto p = phones_->normalize(*r.phone);
    if (!p) return p.error();
    v.phone = std::move(p).value();
  }
  if (!v.email && !v.phone) {
    return invalid("missing_contact", "give an email address or a mobile number", "email");
  }
  auto name = check_name(r.first_name);
  if (!name) return name.error();
  v.first_name = std::move(name).value();
  auto postal = check_postal(r.postal_code);
  if (!postal) return postal.error();
  v.postal_code = std::move(postal).value();
  auto topics = check_topics(r.topics);
  if (!topics) return topics.error();
  v.topics = std::move(topics).value();
  auto source = check_source(r.source);
  if (!source) return source.error();
  v.source = std::move(source).value();
  v.honeypot = present(r.honeypot);
  return v;
}

// What one form asks of one channel: its address, the consent wording shown
// for it, and whether its confirmation may go now (the pumping limits).
struct SignupChannel {
  ChannelKind kind;
  const std::string& address;
  const ConsentText& consent;
  const std::function<bool(ChannelKind)>& limits_allow;
};

namespace {

// Topics for someone who exists wait on this channel until its owner
// confirms through it; asking for new ones is worth a confirmation. They
// count against the subscriber's cap with the topics they hold and those
// already waiting: new ones past it are dropped, silently, so the answer
// stays the same as for a new address. True when new ones were asked for.
bool hold_topic_requests(const Transaction& tx, const Channel& ch, const Subscriber& sub,
                         const std::vector<std::string>& topics, std::int64_t now) {
  if (topics.empty()) return false;
  const auto existing = tx.topics.topics_of(sub.id);
  const auto waiting = tx.topics.topic_requests_of(ch.id);
  std::size_t count = existing.size() + waiting.size();
  std::vector<std::string> wanted;
  for (const auto& t : topics) {
    if (std::find(existing.begin(), existing.end(), t) != existing.end()) continue;
    if (std::find(waiting.begin(), waiting.end(), t) == waiting.end()) {
      if (count >= ConsentService::kMaxSubscriberTopics) continue;
      ++count;
    }
    wanted.push_back(t);
  }
  if (!wanted.empty()) tx.topics.request_topics(ch.id, wanted, now);
  return !wanted.empty();
}

// The consent-log row of a form's grant, with the wording the person saw.
void log_form_grant(const Transaction& tx, const Channel& ch, const SignupChannel& sc,
                    const ValidatedSignup& v, const RequestContext& ctx, std::int64_t now) {
  ConsentEvent e;
  e.subscriber_id = ch.subscriber_id;
  e.channel_id = ch.id;
  e.channel = sc.kind;
  e.address = sc.address;
  e.action = ConsentAction::kGrant;
  e.source = ConsentSource::kForm;
  e.detail = v.source;
  e.context = ctx;
  e.consent_text_version = sc.consent.version;
  e.consent_text_sha256 = sc.consent.sha256_hex;
  e.at = now;
  tx.consent_log.append_consent(e, &sc.consent);
}

}  // namespace

// A new channel, pending, whose confirmation goes with it unless a limit
// holds it back (then it is owed: confirm_sent_at stays 0).
bool ConsentService::add_signup_channel(const Transaction& tx, const SignupChannel& sc,
                                        std::optional<Channel>& ch, const Subscriber& sub,
                                        std::int64_t now) {
  Channel c;
  c.subscriber_id = sub.id;
  c.kind = sc.kind;
  c.address = sc.address;
  c.state = ConsentState::kPending;
  c.created_at = now;
  c.updated_at = now;
  const bool send = sc.limits_allow(sc.kind);
  c.confirm_sent_at = send ? now : 0;
  c.id = tx.subscribers.insert_channel(c);
  ch = c;
  return send;
}

// A form for a channel that exists: topics held on it, a fresh double
// opt-in for one that left or bounced, a confirmation again once the
// cooldown has passed. True when a confirmation is to go now.
bool ConsentService::renew_signup_channel(const Transaction& tx, const ValidatedSignup& v,
                                          const SignupChannel& sc, Channel& ch,
                                          const Subscriber& sub, std::int64_t now) {
  const bool asked = hold_topic_requests(tx, ch, sub, v.topics, now);
  const bool cooled_down = now - ch.confirm_sent_at >= config_.confirm_cooldown_seconds;
  bool send = false;
  if (ch.state == ConsentState::kUnsubscribed || ch.state == ConsentState::kUndeliverable) {
    // Coming back after leaving needs a fresh double opt-in. An email
    // gets it now whatever the cooldown: leaving took the owner's own
    // link. A number waits for the cooldown since its last confirmation:
    // a STOP may answer a text someone else asked for, and the form
    // proves nothing, so the next form must not text the number at once;
    // its owner can come back at once by texting START or YES. An
    // address that bounced starts over the same way, as if new (it may
    // work again; a new bounce makes it undeliverable again).
    tx.subscribers.update_channel_state(ch.id, ConsentState::kPending, now);
    ch.state = ConsentState::kPending;
    ch.updated_at = now;
    ++ch.state_version;
    send = sc.kind == ChannelKind::kEmail || cooled_down;
  } else if (ch.state == ConsentState::kPending || asked) {
    send = cooled_down;
  }
  return send && sc.limits_allow(sc.kind);
}

SignupOutcome ConsentService::sign_up(const Transaction& tx, const ValidatedSignup& v,
                                      const RequestContext& ctx, std::int64_t now,
                                      std::string_view client_key) {
  SignupOutcome out;
  out.email = v.email.has_value();
  out.sms = v.phone.has_value();
  // The trap field: answered like any sign-up, and nothing is read or kept.
  if (v.honeypot) {
    out.honeypot = true;
    return out;
  }

  // A confirmation text goes only while the pumping limits allow one more
  // (sms_limits.h). One held back is not retried: the channel is kept (with
  // its consent-log row, the evidence of who asked) and the next sign-up of
  // the number sends it once the limits allow. The answer stays the same,
  // so a pumper learns nothing of the limits.
  SmsConfirmKeys sms_keys;
  if (v.phone) {
    sms_keys.client = std::string(client_key.empty() ? std::string_view(ctx.ip) : client_key);
    sms_keys.number = *v.phone;
    sms_keys.prefix = number_prefix(*v.phone);
  }
  const std::function<bool(ChannelKind)> limits_allow = [&](ChannelKind kind) {
    if (kind != ChannelKind::kSms) return true;
    out.sms_limited =
        exceeded_sms_confirm_limit(tx.sms_confirms, config_.sms_limits, sms_keys, now);
    return out.sms_limited == SmsLimit::kNone;
  };

  std::optional<Channel> email_ch, sms_ch;
  if (v.email) email_ch = tx.subscribers.find_channel(ChannelKind::kEmail, v.email->str());
  if (v.phone) sms_ch = tx.subscribers.find_channel(ChannelKind::kSms, *v.phone);

  // Identity. A channel that exists keeps its own subscriber; a new channel
  // never joins someone who already exists. An anonymous form proves nothing
  // about who owns the other address, and joining would show that person's
  // name to whoever owns the new one (in its confirmation) and attach them
  // to the record. The channels of one form share a subscriber only when
  // both are new. Profile fields go only to a subscriber this form created:
  // an anonymous form must not be able to rename someone who exists.
  std::optional<Subscriber> created;
  auto new_subscriber = [&]() -> Subscriber {
    if (!created) {
      Subscriber s;
      s.first_name = v.first_name;
      s.postal_code = v.postal_code;
      s.created_at = now;
      s.id = tx.subscribers.insert_subscriber(s);
      created = s;
      if (!v.topics.empty()) tx.topics.add_topics(s.id, v.topics);
    }
    return *created;
  };
  std::optional<Subscriber> email_sub, sms_sub;
  if (email_ch) email_sub = tx.subscribers.subscriber_by_id(email_ch->subscriber_id);
  if (sms_ch) sms_sub = tx.subscribers.subscriber_by_id(sms_ch->subscriber_id);
  if (v.email && !email_sub) email_sub = new_subscriber();
  if (v.phone && !sms_sub) sms_sub = new_subscriber();

  auto handle = [&](const SignupChannel& sc, std::optional<Channel>& ch, const Subscriber& sub) {
    const bool send = ch ? renew_signup_channel(tx, v, sc, *ch, sub, now)
                         : add_signup_channel(tx, sc, ch, sub, now);
    log_form_grant(tx, *ch, sc, v, ctx, now);
    return send;
  };
  if (v.email && handle({ChannelKind::kEmail, v.email->str(), config_.email_consent, limits_allow},
                        email_ch, *email_sub)) {
    queue_email_confirmation(tx, *email_ch, *email_sub, now);
    out.queued_email = true;
  }
  if (v.phone &&
      handle({ChannelKind::kSms, *v.phone, config_.sms_consent, limits_allow}, sms_ch, *sms_sub)) {
    queue_sms_confirmation(tx, *sms_ch, now);
    out.queued_sms = true;
    if (config_.sms_limits.enabled)
      tx.sms_confirms.record_sms_confirm(sms_keys, now, now - SmsConfirmLimits::kLongestWindow);
  }
  return out;
}

std::string ConsentService::confirm_url(std::int64_t channel_id, std::int64_t now,
                                        std::int64_t state_version) const {
  return config_.public_url + "/confirm/" +
         tokens_.issue({TokenPurpose::kConfirm, channel_id, now + config_.confirm_ttl_seconds,
                        state_version});
}

std::string ConsentService::unsubscribe_url(std::int64_t channel_id) const {
  return config_.public_url + "/unsubscribe/" +
         tokens_.issue({TokenPurpose::kUnsubscribe, channel_id, 0});
}

std::string ConsentService::preferences_url(std::int64_t channel_id) const {
  return config_.public_url + "/preferences/" +
         tokens_.issue({TokenPurpose::kPreferences, channel_id, 0});
}

Result<TokenClaims> ConsentService::check_preferences_token(std::string_view token) const {
  return tokens_.verify(token, TokenPurpose::kPreferences, 0);
}

OutboundEmail ConsentService::templated_email(const Channel& ch, std::string template_name,
                                              std::map<std::string, std::string> vars,
                                              std::int64_t now) {
  auto m = build_email(ch, {}, now);
  // Only what differs per message is stored; org name and address come
  // from the renderer's common values when the dispatcher renders it.
  vars["unsubscribe_url"] = m.list_unsubscribe_url;
  vars["preferences_url"] = preferences_url(ch.id);
  m.template_name = std::move(template_name);
  m.template_vars = std::move(vars);
  return m;
}

OutboundEmail ConsentService::build_email(const Channel& ch, const ComposedEmail& content,
                                          std::int64_t now) {
  OutboundEmail m;
  auto domain = config_.from.address.substr(config_.from.address.rfind('@') + 1);
  m.message_id = ids_.next_id() + "@" + domain;
  m.date_unix = now;
  m.from = config_.from;
  m.to = Mailbox{ch.address, ""};
  m.envelope_from = config_.envelope_from;
  m.subject = content.subject;
  m.text = content.text;
  m.html = content.html;
  m.list_unsubscribe_url = unsubscribe_url(ch.id);
  m.list_unsubscribe_mailto = config_.list_unsubscribe_mailto;
  return m;
}

void ConsentService::queue_confirmation(const Transaction& tx, const Channel& ch,
                                        const Subscriber& sub, std::int64_t now,
                                        std::int64_t due_at) {
  if (ch.kind == ChannelKind::kEmail)
    queue_email_confirmation(tx, ch, sub, now, due_at);
  else
    queue_sms_confirmation(tx, ch, now, due_at);
}

void ConsentService::queue_email_confirmation(const Transaction& tx, const Channel& ch,
                                              const Subscriber& sub, std::int64_t now,
                                              std::int64_t due_at) {
  OutboxEntry entry;
  entry.queued_at = now;
  entry.due_at = due_at;
  entry.kind = OutboxKind::kEmail;
  entry.channel_id = ch.id;
  entry.purpose = "confirm";
  std::map<std::string, std::string> vars = {
      {"confirm_url", confirm_url(ch.id, now, ch.state_version)},
      {"first_name", greeting_name(sub)},
      {"expires_days", std::to_string(config_.confirm_ttl_seconds / 86400)}};
  // Someone confirmed already is asked only about the topics a form wants
  // to add: the email names them (all of those its link would add) and
  // says that ignoring it changes nothing.
  const bool topics_only = ch.state == ConsentState::kConfirmed;
  if (topics_only) vars["topics"] = join(tx.topics.topic_requests_of(ch.id), ", ");
  // Rendering waits for the dispatcher: the commit path stays SQL only.
  tx.messages.enqueue_email(
      entry, templated_email(ch, topics_only ? "confirm_topics" : "confirm", std::move(vars), now));
  if (ch.confirm_sent_at != now) tx.subscribers.mark_confirm_sent(ch.id, now);
}

void ConsentService::queue_sms_confirmation(const Transaction& tx, const Channel& ch,
                                            std::int64_t now, std::int64_t due_at) {
  OutboxEntry entry;
  entry.queued_at = now;
  entry.due_at = due_at;
  entry.kind = OutboxKind::kSms;
  entry.channel_id = ch.id;
  entry.purpose = "confirm";
  OutboundSms sms;
  sms.to = ch.address;
  sms.template_name = "sms_confirm";
  // A confirmed number is asked only about new topics, and told which.
  if (ch.state == ConsentState::kConfirmed) {
    sms.template_name = "sms_confirm_topics";
    sms.template_vars = {{"topics", topics_for_text(tx.topics.topic_requests_of(ch.id))}};
  }
  tx.messages.enqueue_sms(entry, sms);
  if (ch.confirm_sent_at != now) tx.subscribers.mark_confirm_sent(ch.id, now);
}

Result<TokenClaims> ConsentService::check_confirm_token(std::string_view token,
                                                        std::int64_t now) const {
  return tokens_.verify(token, TokenPurpose::kConfirm, now);
}

Result<TokenClaims> ConsentService::check_unsubscribe_token(std::string_view token) const {
  return tokens_.verify(token, TokenPurpose::kUnsubscribe, 0);
}

bool record_provider_opt_out(ConsentWrites consent, std::int64_t channel_id,
                             std::string_view report, std::int64_t now) {
  auto ch = consent.subscribers.channel_by_id(channel_id);
  if (!ch || ch->state == ConsentState::kUnsubscribed) return false;
  // The STOP went to the provider, not to us: still a keyword, with its report.
  change_state(consent, *ch, ConsentState::kUnsubscribed, ConsentAction::kWithdraw,
               ConsentSource::kKeyword, {}, now, report);
  return true;
}

bool record_provider_unsubscribe(ConsentWrites consent, std::int64_t channel_id,
                                 ConsentSource source, std::string_view report, std::int64_t now) {
  auto ch = consent.subscribers.channel_by_id(channel_id);
  if (!ch || ch->state == ConsentState::kUnsubscribed) return false;
  change_state(consent, *ch, ConsentState::kUnsubscribed, ConsentAction::kWithdraw, source, {}, now,
               report);
  return true;
}

bool record_provider_undeliverable(ConsentWrites consent, std::int64_t channel_id,
                                   std::string_view report, std::int64_t now) {
  auto ch = consent.subscribers.channel_by_id(channel_id);
  if (!ch || ch->state == ConsentState::kUnsubscribed || ch->state == ConsentState::kUndeliverable)
    return false;
  change_state(consent, *ch, ConsentState::kUndeliverable, ConsentAction::kUndeliverable,
               ConsentSource::kProvider, {}, now, report);
  return true;
}

SmsKeywordOutcome ConsentService::receive_text(const Transaction& tx, const InboundText& text,
                                               const RequestContext& ctx, std::int64_t now) {
  // Each MessageSid once: Twilio retries a slow answer with the same sid,
  // and a captured request replayed later carries its sid too (the
  // signature covers it). Every processed sid is kept, so neither a retried
  // YES nor an old YES replayed after a STOP changes anything.
  if (!text.message_id.empty() && tx.inbound_texts.inbound_text_seen(text.message_id)) {
    SmsKeywordOutcome dup;
    dup.duplicate = true;
    return dup;
  }
  ConsentEvent evidence;
  evidence.channel = ChannelKind::kSms;
  evidence.address = text.from;
  evidence.detail = text.message_id.empty() ? std::string() : "sms " + text.message_id;
  evidence.message_sid = text.message_id;
  evidence.text_received = text.body;
  evidence.opt_out_type = text.opt_out_type;
  auto out = keyword_reply(tx, text.from, text.keyword, evidence, ctx, now);
  if (text.provider_answered) {
    out.reply_template.clear();
    out.reply_vars.clear();
  }
  const bool answered = !out.reply_template.empty() || text.provider_answered;
  // Answered without a change (HELP, a STOP from someone unsubscribed, a
  // YES from a number we do not know): the text is evidence all the same.
  if (!out.changed && text.keyword != SmsKeyword::kNone && answered) {
    ConsentEvent e = evidence;
    if (out.channel) {
      e.subscriber_id = out.channel->subscriber_id;
      e.channel_id = out.channel->id;
    }
    e.action = text.keyword == SmsKeyword::kHelp ? ConsentAction::kHelp : ConsentAction::kReceived;
    // A STOP from a number we do not know is still a revocation: logged as
    // one, so it is on record if the number is ever signed up.
    if (!out.channel && text.keyword == SmsKeyword::kOptOut) e.action = ConsentAction::kWithdraw;
    e.source = ConsentSource::kKeyword;
    e.context = ctx;
    e.at = now;
    tx.consent_log.append_consent(e, nullptr);
  }
  if (!text.message_id.empty()) {
    StoredInboundText stored;
    stored.message_sid = text.message_id;
    stored.from = text.from;
    stored.body = text.body;
    stored.keyword = to_string(text.keyword);
    stored.opt_out_type = text.opt_out_type;
    stored.received_at = now;
    if (out.changed && out.channel) {
      stored.outcome =
          out.channel->state == ConsentState::kConfirmed ? "confirmed" : "unsubscribed";
    } else {
      stored.outcome = answered ? "answered" : "ignored";
    }
    tx.inbound_texts.insert_inbound_text(stored);
  }
  return out;
}

Result<ChannelOutcome> ConsentService::opt_out_inbound_text(const Transaction& tx,
                                                            std::int64_t inbound_id,
                                                            std::string_view who,
                                                            const RequestContext& ctx,
                                                            std::int64_t now) {
  auto text = tx.inbound_texts.inbound_text_by_id(inbound_id);
  if (!text) return Error{ErrorCode::kNotFound, "not_found", "no such inbound text", ""};
  // Only a text that is no keyword is for an operator to read: a keyword was
  // acted on as what it says when it came, and a YES or a HELP is no request
  // to stop. A plain-language opt-out ("please stop texting me") may be marked.
  const bool exact_keyword = classify_exact_sms_keyword(text->body) != SmsKeyword::kNone ||
                             !text->opt_out_type.empty() ||
                             (text->keyword != "none" && text->keyword != "opt_out");
  if (exact_keyword) {
    return Error{ErrorCode::kConflict, "inbound_is_keyword",
                 "inbound text " + std::to_string(inbound_id) +
                     " is a keyword reply, acted on when it came; only a text that is no "
                     "keyword can be marked as a request to stop",
                 ""};
  }
  auto ch = tx.subscribers.find_channel(ChannelKind::kSms, text->from);
  if (!ch)
    return Error{ErrorCode::kNotFound, "not_found",
                 "the number that sent this text is not subscribed to anything", ""};
  if (text->reviewed_at == 0)
    tx.inbound_texts.mark_inbound_text_reviewed(inbound_id, who, "opt_out", now);
  if (ch->state == ConsentState::kUnsubscribed) return ChannelOutcome{*ch, false};
  ConsentEvent evidence;
  evidence.detail = std::string(who) + " reviewed inbound " + std::to_string(inbound_id);
  evidence.message_sid = text->message_sid;
  evidence.text_received = text->body;
  change_state(tx.consent(), *ch, ConsentState::kUnsubscribed, ConsentAction::kWithdraw,
               ConsentSource::kAdmin, ctx, now, {}, &evidence);
  return ChannelOutcome{*ch, true};
}

SmsKeywordOutcome ConsentService::keyword_reply(const Transaction& tx, std::string_view from,
                                                SmsKeyword keyword, const ConsentEvent& evidence,
                                                const RequestContext& ctx, std::int64_t now) {
  SmsKeywordOutcome out;
  out.reply_vars = {{"public_url", config_.public_url}};
  if (keyword == SmsKeyword::kNone) return out;
  out.channel = tx.subscribers.find_channel(ChannelKind::kSms, from);
  const std::string& detail = evidence.detail;
  switch (keyword) {
    case SmsKeyword::kOptOut:
      // One confirmation of the opt-out, also for a number we do not know
      // (it may have been texted before it was erased here).
      out.reply_template = "sms_stopped";
      if (out.channel && out.channel->state != ConsentState::kUnsubscribed) {
        change_state(tx.consent(), *out.channel, ConsentState::kUnsubscribed,
                     ConsentAction::kWithdraw, ConsentSource::kKeyword, ctx, now, detail,
                     &evidence);
        out.changed = true;
      }
      break;
    case SmsKeyword::kOptIn:
      if (!out.channel) {
        // No consent to confirm: texting YES is not a sign-up (no consent
        // text was shown). Point to the form.
        out.reply_template = "sms_unknown";
        break;
      }
      out.reply_template = "sms_subscribed";
      // The owner of the number answers from it: topics asked for it so far are theirs.
      apply_topic_requests(tx.topics, *out.channel, now);
      if (out.channel->state != ConsentState::kConfirmed) {
        change_state(tx.consent(), *out.channel, ConsentState::kConfirmed, ConsentAction::kConfirm,
                     ConsentSource::kKeyword, ctx, now, detail, &evidence);
        out.changed = true;
      }
      break;
    case SmsKeyword::kHelp:
      out.reply_template = "sms_help";
      break;
    case SmsKeyword::kNone:
      break;
  }
  return out;
}

Result<ChannelOutcome> ConsentService::confirm(const Transaction& tx, std::string_view token,
                                               const RequestContext& ctx, std::int64_t now) {
  auto claims = check_confirm_token(token, now);
  if (!claims) return claims.error();
  auto ch = tx.subscribers.channel_by_id(claims->channel_id);
  if (!ch)
    return Error{ErrorCode::kNotFound, "not_found", "This subscription no longer exists.", ""};
  // Unsubscribed: an old confirmation link must not undo a later unsubscribe
  // (nor add topics for someone who left).
  if (ch->state == ConsentState::kUnsubscribed) return ChannelOutcome{*ch, false};
  // Only a link sent since the channel's latest state change counts. The
  // version decides even within one second; links from before versions
  // (version 0) are judged by their issue time against that change.
  const auto issued_at = claims->expires_at - config_.confirm_ttl_seconds;
  if (claims->version != ch->state_version || issued_at < ch->updated_at) {
    // A repeat click on the link that confirmed (which changed the state) is fine.
    if (ch->state == ConsentState::kConfirmed) return ChannelOutcome{*ch, false};
    return Error{ErrorCode::kExpired, "superseded_token",
                 "This confirmation link was replaced by a newer one. Please use the link in the "
                 "latest email, or sign up again.",
                 ""};
  }
  // The owner has shown they hold this address: the topics asked for
  // through it before this link was sent are theirs now.
  apply_topic_requests(tx.topics, *ch, claims->expires_at - config_.confirm_ttl_seconds);
  // Already confirmed: a repeat click is fine.
  if (ch->state == ConsentState::kConfirmed) return ChannelOutcome{*ch, false};
  change_state(tx.consent(), *ch, ConsentState::kConfirmed, ConsentAction::kConfirm,
               ConsentSource::kLink, ctx, now);
  if (ch->kind == ChannelKind::kEmail) {
    auto sub = tx.subscribers.subscriber_by_id(ch->subscriber_id);
    OutboxEntry entry;
    entry.queued_at = now;
    entry.kind = OutboxKind::kEmail;
    entry.channel_id = ch->id;
    entry.purpose = "welcome";
    tx.messages.enqueue_email(
        entry,
        templated_email(*ch, "welcome", {{"first_name", sub ? greeting_name(*sub) : ""}}, now));
  }
  return ChannelOutcome{*ch, true};
}

Result<ChannelOutcome> ConsentService::unsubscribe(const Transaction& tx, std::string_view token,
                                                   ConsentSource source, const RequestContext& ctx,
                                                   std::int64_t now) {
  auto claims = check_unsubscribe_token(token);
  if (!claims) return claims.error();
  auto ch = tx.subscribers.channel_by_id(claims->channel_id);
  if (!ch)
    return Error{ErrorCode::kNotFound, "not_found", "This subscription no longer exists.", ""};
  if (ch->state == ConsentState::kUnsubscribed) return ChannelOutcome{*ch, false};
  change_state(tx.consent(), *ch, ConsentState::kUnsubscribed, ConsentAction::kWithdraw, source,
               ctx, now);
  return ChannelOutcome{*ch, true};
}

Result<ProfileChange> ConsentService::validate_profile(const ProfileChange& raw) const {
  ProfileChange out;
  if (raw.first_name) {
    auto name = check_name(raw.first_name);
    if (!name) return name.error();
    out.first_name = name.value();
  }
  if (raw.postal_code) {
    auto postal = check_postal(raw.postal_code);
    if (!postal) return postal.error();
    out.postal_code = postal.value();
  }
  if (raw.topics) {
    auto topics = check_topics(*raw.topics);
    if (!topics) return topics.error();
    out.topics = topics.value();
  }
  return out;
}

Result<std::vector<std::string>> ConsentService::update_profile(const Transaction& tx,
                                                                std::int64_t subscriber_id,
                                                                const ProfileChange& change) const {
  auto sub = tx.subscribers.subscriber_by_id(subscriber_id);
  if (!sub) return Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""};
  std::vector<std::string> changed;
  Subscriber next = *sub;
  if (change.first_name && *change.first_name != sub->first_name) {
    next.first_name = *change.first_name;
    changed.emplace_back("first_name");
  }
  if (change.postal_code && *change.postal_code != sub->postal_code) {
    next.postal_code = *change.postal_code;
    changed.emplace_back("postal_code");
  }
  if (!changed.empty())
    tx.subscribers.update_profile(subscriber_id, next.first_name, next.postal_code);
  if (change.topics) {
    auto wanted = *change.topics;
    std::sort(wanted.begin(), wanted.end());
    if (tx.topics.topics_of(subscriber_id) != wanted) {
      tx.topics.replace_topics(subscriber_id, wanted);
      changed.emplace_back("topics");
    }
  }
  return changed;
}

Result<std::vector<ChannelOutcome>> ConsentService::unsubscribe_subscriber(
    const Transaction& tx, std::int64_t subscriber_id, std::optional<ChannelKind> only,
    ConsentSource source, std::string_view who, const RequestContext& ctx, std::int64_t now) {
  if (!tx.subscribers.subscriber_by_id(subscriber_id))
    return Error{ErrorCode::kNotFound, "not_found", "no such subscriber", ""};
  std::vector<ChannelOutcome> out;
  for (auto& ch : tx.subscribers.channels_of(subscriber_id)) {
    if (only && ch.kind != *only) continue;
    if (ch.state == ConsentState::kUnsubscribed) {
      out.push_back(ChannelOutcome{ch, false});
      continue;
    }
    change_state(tx.consent(), ch, ConsentState::kUnsubscribed, ConsentAction::kWithdraw, source,
                 ctx, now, who);
    out.push_back(ChannelOutcome{ch, true});
  }
  if (only && out.empty())
    return Error{
        ErrorCode::kNotFound, "not_found",
        "subscriber " + std::to_string(subscriber_id) + " has no " + to_string(*only) + " channel",
        ""};
  return out;
}

Result<ErasureOutcome> ConsentService::erase(const Transaction& tx, std::int64_t subscriber_id,
                                             std::string_view reason, std::int64_t now) const {
  return erase_subscriber(tx, signer_, subscriber_id, reason, now);
}

bool ConsentService::is_suppressed(const Transaction& tx, ChannelKind kind,
                                   std::string_view address) const {
  return tx.suppressions.is_suppressed(kind, suppression_key(signer_, kind, address));
}

}  // namespace sc
