// ConsentService: sign-up, double opt-in confirmation and unsubscribe, as
// pure logic over the stores of one transaction (sc/core/ports/stores.h).
// Every state change, its consent-log row and the message it causes are
// written in that one transaction, so a message is queued exactly when its state change commits.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/email.h"
#include "sc/core/erasure.h"
#include "sc/core/inbound_text.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/stores.h"
#include "sc/core/result.h"
#include "sc/core/sms_keywords.h"
#include "sc/core/sms_limits.h"
#include "sc/core/tokens.h"

namespace sc {

// Produces the unique left part of Message-IDs (random in production).
class IdSource {
 public:
  virtual ~IdSource() = default;
  virtual std::string next_id() = 0;
};

struct ServiceConfig {
  std::string public_url = "http://127.0.0.1:8080";
  std::string org_name = "Stay Connected";
  std::string postal_address;
  Mailbox from{"no-reply@localhost", "Stay Connected"};
  std::string envelope_from;            // bounce address; empty: from.address
  std::string list_unsubscribe_mailto;  // optional "mailto:…"
  std::int64_t confirm_ttl_seconds = 7 * 24 * 3600;
  std::int64_t confirm_cooldown_seconds = 10 * 60;
  SmsConfirmLimits sms_limits;  // confirmation texts per client, number, prefix, day
  ConsentText email_consent;
  ConsentText sms_consent;
};

// Raw fields as a form or JSON body gave them; nothing trusted yet.
struct SignupRequest {
  std::optional<std::string> email;
  std::optional<std::string> phone;
  bool sms_consent = false;
  std::optional<std::string> first_name;
  std::optional<std::string> postal_code;
  std::vector<std::string> topics;
  std::optional<std::string> source;
  // The form's hidden trap field (`website`): people never see it, scripts
  // that fill every field do. Anything in it makes the sign-up a no-op.
  std::optional<std::string> honeypot;
};

struct ValidatedSignup {
  std::optional<Email> email;
  std::optional<std::string> phone;  // E.164
  std::string first_name;
  std::string postal_code;
  std::vector<std::string> topics;
  std::string source;
  bool honeypot = false;  // the trap field was filled: answer as usual, keep nothing
};

// What the client is told: one state per channel asked for. It is the same
// for a new and a known address, so the answer enumerates nobody.
struct SignupOutcome {
  bool email = false;
  bool sms = false;
  bool queued_email = false;  // for tests and metrics only, never shown
  bool queued_sms = false;
  // For metrics only, never shown: the trap field was filled (nothing was
  // kept), or the limit that held back the confirmation text.
  bool honeypot = false;
  SmsLimit sms_limited = SmsLimit::kNone;
};

// An operator's change of a subscriber (PATCH): a field left out stays as it
// is; "" clears a name or a postal code; topics replace those followed.
struct ProfileChange {
  std::optional<std::string> first_name;
  std::optional<std::string> postal_code;
  std::optional<std::vector<std::string>> topics;
};

struct ChannelOutcome {
  Channel channel;
  bool changed = false;  // false when the request was a repeat (idempotent)
};

// What an inbound text did, and the text to answer with.
struct SmsKeywordOutcome {
  std::optional<Channel> channel;  // none: the number is not known here
  bool changed = false;
  std::string reply_template;  // sms/<name>.txt.mustache; empty: no answer
  std::map<std::string, std::string> reply_vars;
  // The MessageSid was processed before (a retry or a replay): nothing was
  // changed, logged or stored, and the answer is empty.
  bool duplicate = false;
};

// A provider reports that the recipient opted out with it (see
// SendResult::recipient_opted_out): the channel is unsubscribed here too,
// with a consent-log row naming the report. Returns false when it already was.
bool record_provider_opt_out(ConsentWrites consent, std::int64_t channel_id,
                             std::string_view report, std::int64_t now);

// A provider reports that the recipient asked it to stop (a spam complaint,
// source kComplaint; an unsubscribe through the provider's own link, source
// kProvider): the channel is unsubscribed here, with a consent-log row
// naming the report. Returns false when it is unknown or already was.
bool record_provider_unsubscribe(ConsentWrites consent, std::int64_t channel_id,
                                 ConsentSource source, std::string_view report, std::int64_t now);

// A provider reports that the address or number can never be reached (see
// SendResult::recipient_undeliverable, a hard bounce, Twilio 21211): the
// channel becomes undeliverable, with a consent-log row (source provider)
// naming the report ("twilio 21211 …"). Nothing is sent to it any more; a
// new sign-up with the address starts a fresh confirmation. Returns false
// when the channel is unknown or already undeliverable or unsubscribed.
bool record_provider_undeliverable(ConsentWrites consent, std::int64_t channel_id,
                                   std::string_view report, std::int64_t now);

struct SignupChannel;  // one channel of a sign-up (consent_service.cpp)

class ConsentService {
 public:
  static constexpr std::size_t kMaxTopics = 20;  // per request
  // Per subscriber, held requests included: anonymous forms cannot pile
  // topics onto someone, 20 at a time.
  static constexpr std::size_t kMaxSubscriberTopics = 20;
  static constexpr std::size_t kMaxTopicLength = 64;
  static constexpr std::size_t kMaxNameLength = 100;
  static constexpr std::size_t kMaxPostalLength = 16;
  static constexpr std::size_t kMaxSourceLength = 64;

  ConsentService(ServiceConfig config, const Signer& signer, const Composer& composer,
                 const PhoneNormalizer* phones, IdSource& ids);

  const ServiceConfig& config() const { return config_; }

  // Validation needs no store; call it before opening a transaction.
  Result<ValidatedSignup> validate(const SignupRequest& request) const;
  // `client_key` is what the per-client text limit counts under: the
  // client's IP, or its /64 for IPv6 (http's client_bucket); empty: ctx.ip.
  SignupOutcome sign_up(const Transaction& tx, const ValidatedSignup& signup,
                        const RequestContext& ctx, std::int64_t now,
                        std::string_view client_key = {});

  // Token checks alone (for the GET pages, which change nothing).
  Result<TokenClaims> check_confirm_token(std::string_view token, std::int64_t now) const;
  Result<TokenClaims> check_unsubscribe_token(std::string_view token) const;
  Result<TokenClaims> check_preferences_token(std::string_view token) const;

  Result<ChannelOutcome> confirm(const Transaction& tx, std::string_view token,
                                 const RequestContext& ctx, std::int64_t now);
  Result<ChannelOutcome> unsubscribe(const Transaction& tx, std::string_view token,
                                     ConsentSource source, const RequestContext& ctx,
                                     std::int64_t now);

  // An inbound text as interpret_inbound_text read it: YES/START confirm or
  // re-subscribe the number's channel, STOP unsubscribes it, HELP changes
  // nothing; no reply when the provider has answered the message itself.
  // Each MessageSid is processed once: it is stored with the text (texts
  // that are no keyword wait there for review), and a repeat changes
  // nothing (duplicate). Every
  // text that changes or is answered gets a consent-log row holding the
  // text, its MessageSid and OptOutType: confirm/withdraw for a change,
  // help for HELP, received for an answer that changed nothing; a number we
  // do not know gets rows with subscriber and channel 0.
  SmsKeywordOutcome receive_text(const Transaction& tx, const InboundText& text,
                                 const RequestContext& ctx, std::int64_t now);

  // An operator marks a stored inbound text as an opt-out: the number's
  // channel is unsubscribed with a consent-log row (source admin, detail the
  // key's name and the text's MessageSid). kNotFound for an unknown id or a
  // number we do not know; changed false when it already was unsubscribed.
  Result<ChannelOutcome> opt_out_inbound_text(const Transaction& tx, std::int64_t inbound_id,
                                              std::string_view who, const RequestContext& ctx,
                                              std::int64_t now);

  // Checks an operator's change with the sign-up's rules (person_name.h,
  // postal codes, topics) and gives the values as they will be stored.
  Result<ProfileChange> validate_profile(const ProfileChange& raw) const;
  // Applies a validated change. Returns the fields it changed ("first_name",
  // "postal_code", "topics"; none when everything already was so), or
  // kNotFound for an unknown subscriber.
  Result<std::vector<std::string>> update_profile(const Transaction& tx, std::int64_t subscriber_id,
                                                  const ProfileChange& change) const;
  // Unsubscribes one channel of a subscriber (`only`) or all of them, as an
  // operator asked (source admin, `who` the key) or the person on their own
  // page (source link): each change of state has its consent-log row
  // (detail `who`); a channel already unsubscribed is left as it is
  // (changed false). kNotFound for an unknown subscriber or one without the
  // channel asked for.
  Result<std::vector<ChannelOutcome>> unsubscribe_subscriber(
      const Transaction& tx, std::int64_t subscriber_id, std::optional<ChannelKind> only,
      ConsentSource source, std::string_view who, const RequestContext& ctx, std::int64_t now);

  // Erases a subscriber (sc/core/erasure.h) with the service secret's
  // suppression keys; `reason` is "admin" or "self".
  Result<ErasureOutcome> erase(const Transaction& tx, std::int64_t subscriber_id,
                               std::string_view reason, std::int64_t now) const;
  // Whether an address is on the suppression list (imports and operators
  // may not add it).
  bool is_suppressed(const Transaction& tx, ChannelKind kind, std::string_view address) const;
  // A confirmation (the usual double opt-in message) that is not to go
  // before `due_at`: an import's, paced (sc/core/import.h).
  void queue_confirmation(const Transaction& tx, const Channel& ch, const Subscriber& sub,
                          std::int64_t now, std::int64_t due_at);
  std::string suppression_key_of(ChannelKind kind, std::string_view address) const {
    return suppression_key(signer_, kind, address);
  }

  // The link carries the channel's state_version: it confirms only while the
  // channel has not changed state since.
  std::string confirm_url(std::int64_t channel_id, std::int64_t now,
                          std::int64_t state_version = 0) const;
  std::string unsubscribe_url(std::int64_t channel_id) const;
  // The person's own page ("manage your subscription"), in every email.
  std::string preferences_url(std::int64_t channel_id) const;

  // Builds a complete email to a channel, footer and List-Unsubscribe
  // included; used for transactional mail here and for broadcasts later.
  OutboundEmail build_email(const Channel& channel, const ComposedEmail& content, std::int64_t now);

 private:
  bool add_signup_channel(const Transaction& tx, const SignupChannel& sc,
                          std::optional<Channel>& ch, const Subscriber& sub, std::int64_t now);
  bool renew_signup_channel(const Transaction& tx, const ValidatedSignup& v,
                            const SignupChannel& sc, Channel& ch, const Subscriber& sub,
                            std::int64_t now);
  void queue_email_confirmation(const Transaction& tx, const Channel& ch, const Subscriber& sub,
                                std::int64_t now, std::int64_t due_at = 0);
  void queue_sms_confirmation(const Transaction& tx, const Channel& ch, std::int64_t now,
                              std::int64_t due_at = 0);
  SmsKeywordOutcome keyword_reply(const Transaction& tx, std::string_view from, SmsKeyword keyword,
                                  const ConsentEvent& evidence, const RequestContext& ctx,
                                  std::int64_t now);
  OutboundEmail templated_email(const Channel& ch, std::string template_name,
                                std::map<std::string, std::string> vars, std::int64_t now);

  ServiceConfig config_;
  const Signer& signer_;  // the service secret: tokens and suppression keys
  TokenCodec tokens_;
  const Composer& composer_;
  const PhoneNormalizer* phones_;
  IdSource& ids_;
};

}  // namespace sc
