#include "sc/core/consent_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/unit_fakes.h"

namespace sc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using unit::CountingIds;
using unit::FakeSigner;
using unit::MemoryConsentStore;
using unit::RecordingComposer;
using unit::text_keyword;

constexpr std::int64_t kT0 = 1'700'000'000;

// Digits only, at least 10 of them; "+1" is added to 10-digit numbers.
class FakePhones final : public PhoneNormalizer {
 public:
  Result<std::string> normalize(std::string_view raw) const override {
    std::string d;
    for (char c : raw) {
      if (c >= '0' && c <= '9')
        d += c;
      else if (c != ' ' && c != '-' && c != '+' && c != '(' && c != ')')
        return invalid("invalid_phone", "bad", "phone");
    }
    if (d.size() == 10) d = "1" + d;
    if (d.size() < 11 || d.size() > 15) return invalid("invalid_phone", "bad", "phone");
    return "+" + d;
  }
};

ServiceConfig test_config() {
  ServiceConfig c;
  c.public_url = "https://news.example.org/";  // the trailing slash must not double up
  c.org_name = "Example Org";
  c.postal_address = "1 Main St, Springfield";
  c.from = Mailbox{"news@mail.example.org", "Example Org"};
  c.confirm_ttl_seconds = 7 * 86400;
  c.confirm_cooldown_seconds = 600;
  c.email_consent = ConsentText{"email-v1", "By signing up you agree...", std::string(64, 'e')};
  c.sms_consent = ConsentText{"sms-v3", "I agree to receive texts...", std::string(64, 's')};
  return c;
}

class ConsentServiceTest : public ::testing::Test {
 protected:
  FakeSigner signer_{"service-key"};
  RecordingComposer composer_;
  FakePhones phones_;
  CountingIds ids_;
  ConsentService svc_{test_config(), signer_, composer_, &phones_, ids_};
  MemoryConsentStore store_;
  RequestContext ctx_{"203.0.113.7", "Mozilla/5.0 (test)"};

  ValidatedSignup valid(SignupRequest r) {
    auto v = svc_.validate(r);
    EXPECT_TRUE(v.ok()) << v.error().code << ": " << v.error().message;
    return v.ok() ? v.value() : ValidatedSignup{};
  }
  SignupOutcome sign_up_email(const std::string& email, std::int64_t now,
                              std::string first_name = {}) {
    SignupRequest r;
    r.email = email;
    if (!first_name.empty()) r.first_name = first_name;
    return svc_.sign_up(store_.tx(), valid(r), ctx_, now);
  }
  // The token at the end of a URL produced by the service.
  static std::string token_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }
  // What a queued email is rendered from (the dispatcher renders it later).
  static RecordingComposer::Call render_call(const MemoryConsentStore::QueuedEmail& q) {
    RecordingComposer rc;
    auto copy = q.email;
    render_queued(rc, copy);
    if (rc.email_calls.size() != 1) {
      ADD_FAILURE() << "queued email " << q.id << " is not rendered from a template";
      return {};
    }
    return rc.email_calls[0];
  }
  std::string last_confirm_token() {
    for (auto it = store_.emails.rbegin(); it != store_.emails.rend(); ++it) {
      if (it->entry.purpose == "confirm") return token_of(render_call(*it).vars.at("confirm_url"));
    }
    ADD_FAILURE() << "no confirmation queued";
    return {};
  }
  std::string unsubscribe_token_for(std::int64_t channel_id) {
    return token_of(svc_.unsubscribe_url(channel_id));
  }

  // Every email must carry what the law and RFC 8058 ask of it (the footer
  // text itself is checked against the real templates in the render tests).
  void expect_complete_email(const MemoryConsentStore::QueuedEmail& q,
                             const std::string& template_name) {
    const auto& m = q.email;
    EXPECT_EQ(m.to.address, store_.channels.at(q.entry.channel_id).address);
    EXPECT_EQ(m.from.address, "news@mail.example.org");
    EXPECT_EQ(m.from.display_name, "Example Org");
    EXPECT_THAT(m.message_id, StartsWith("id"));
    EXPECT_EQ(m.message_id.substr(m.message_id.find('@')), "@mail.example.org");
    EXPECT_THAT(m.list_unsubscribe_url, StartsWith("https://news.example.org/unsubscribe/u."));
    auto claims = svc_.check_unsubscribe_token(token_of(m.list_unsubscribe_url));
    ASSERT_TRUE(claims.ok());
    EXPECT_EQ(claims->channel_id, q.entry.channel_id);
    auto call = render_call(q);
    EXPECT_EQ(call.name, template_name);
    ASSERT_TRUE(call.vars.count("unsubscribe_url"));
    EXPECT_EQ(call.vars.at("unsubscribe_url"), m.list_unsubscribe_url);
  }
};

TEST_F(ConsentServiceTest, NewEmailSignupQueuesOneConfirmationAndLogsTheGrant) {
  SignupRequest r;
  r.email = "  New.Person@Example.COM ";
  r.first_name = "Zo\xc3\xab";
  r.postal_code = " 12345 ";
  r.topics = {"News", " events ", "news", ""};
  r.source = "signup-page";
  auto out = svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);

  EXPECT_TRUE(out.email);
  EXPECT_FALSE(out.sms);
  EXPECT_TRUE(out.queued_email);
  EXPECT_FALSE(out.queued_sms);

  ASSERT_EQ(store_.subscribers.size(), 1u);
  const auto& sub = store_.subscribers.begin()->second;
  EXPECT_EQ(sub.first_name, "Zo\xc3\xab");
  EXPECT_EQ(sub.postal_code, "12345");
  EXPECT_EQ(sub.created_at, kT0);
  EXPECT_EQ(store_.topics[sub.id], (std::set<std::string>{"events", "news"}));

  ASSERT_EQ(store_.channels.size(), 1u);
  const auto& ch = store_.channel(ChannelKind::kEmail, "New.Person@example.com");
  EXPECT_EQ(ch.state, ConsentState::kPending);
  EXPECT_EQ(ch.subscriber_id, sub.id);
  EXPECT_EQ(ch.confirm_sent_at, kT0);

  ASSERT_EQ(store_.events.size(), 1u);
  const auto& e = store_.events[0];
  EXPECT_EQ(e.action, ConsentAction::kGrant);
  EXPECT_EQ(e.source, ConsentSource::kForm);
  EXPECT_EQ(e.channel, ChannelKind::kEmail);
  EXPECT_EQ(e.channel_id, ch.id);
  EXPECT_EQ(e.subscriber_id, sub.id);
  EXPECT_EQ(e.address, "New.Person@example.com");
  EXPECT_EQ(e.detail, "signup-page");
  EXPECT_EQ(e.context.ip, "203.0.113.7");
  EXPECT_EQ(e.context.user_agent, "Mozilla/5.0 (test)");
  EXPECT_EQ(e.consent_text_version, "email-v1");
  EXPECT_EQ(e.consent_text_sha256, std::string(64, 'e'));
  EXPECT_EQ(e.at, kT0);
  ASSERT_TRUE(store_.event_texts[0].has_value());
  EXPECT_EQ(store_.event_texts[0]->text, "By signing up you agree...");

  ASSERT_EQ(store_.emails.size(), 1u);
  EXPECT_TRUE(store_.texts.empty());
  const auto& q = store_.emails[0];
  EXPECT_EQ(q.entry.kind, OutboxKind::kEmail);
  EXPECT_EQ(q.entry.purpose, "confirm");
  EXPECT_EQ(q.entry.channel_id, ch.id);
  EXPECT_EQ(q.entry.broadcast_id, 0);
  EXPECT_EQ(q.email.date_unix, kT0);
  const auto call = render_call(q);
  EXPECT_EQ(call.name, "confirm");
  EXPECT_EQ(call.vars.at("first_name"), "Zo\xc3\xab");
  EXPECT_EQ(call.vars.at("expires_days"), "7");
  EXPECT_THAT(call.vars.at("confirm_url"), StartsWith("https://news.example.org/confirm/c."));
  auto claims = svc_.check_confirm_token(token_of(call.vars.at("confirm_url")), kT0);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->channel_id, ch.id);
  EXPECT_EQ(claims->expires_at, kT0 + 7 * 86400);
  expect_complete_email(q, "confirm");
}

TEST_F(ConsentServiceTest, RepeatWithinCooldownQueuesNothingAndAnswersTheSame) {
  auto first = sign_up_email("a@example.com", kT0);
  auto again = sign_up_email("a@example.com", kT0 + 599);
  EXPECT_EQ(store_.emails.size(), 1u);
  EXPECT_EQ(store_.channels.size(), 1u);
  EXPECT_EQ(store_.subscribers.size(), 1u);
  EXPECT_FALSE(again.queued_email);
  EXPECT_EQ(first.email, again.email);
  EXPECT_EQ(first.sms, again.sms);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").confirm_sent_at, kT0);
}

TEST_F(ConsentServiceTest, AfterCooldownAConfirmationIsSentAgain) {
  sign_up_email("a@example.com", kT0);
  auto again = sign_up_email("a@example.com", kT0 + 600);
  EXPECT_TRUE(again.queued_email);
  ASSERT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.emails[1].entry.purpose, "confirm");
  EXPECT_NE(store_.emails[0].email.message_id, store_.emails[1].email.message_id);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").confirm_sent_at, kT0 + 600);
  // The cooldown runs from the latest confirmation, not the first.
  sign_up_email("a@example.com", kT0 + 1199);
  EXPECT_EQ(store_.emails.size(), 2u);
}

TEST_F(ConsentServiceTest, ConfirmedAddressSignupChangesNothingAndAnswersTheSame) {
  auto fresh = sign_up_email("a@example.com", kT0, "Alice");
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  const auto before = store_.channel(ChannelKind::kEmail, "a@example.com");
  const auto emails_before = store_.emails.size();

  auto again = sign_up_email("a@example.com", kT0 + 86400, "Mallory");
  EXPECT_EQ(again.email, fresh.email);
  EXPECT_EQ(again.sms, fresh.sms);
  EXPECT_FALSE(again.queued_email);
  EXPECT_EQ(store_.emails.size(), emails_before);
  const auto& after = store_.channel(ChannelKind::kEmail, "a@example.com");
  EXPECT_EQ(after.state, ConsentState::kConfirmed);
  EXPECT_EQ(after.updated_at, before.updated_at);
  EXPECT_EQ(after.confirm_sent_at, before.confirm_sent_at);
  EXPECT_EQ(store_.subscribers.size(), 1u);
  EXPECT_EQ(store_.subscribers.begin()->second.first_name,
            "Alice");  // an anonymous form renames nobody
}

TEST_F(ConsentServiceTest, UnsubscribedAddressReturnsToPendingWithAFreshConfirmation) {
  sign_up_email("a@example.com", kT0);
  auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_, kT0 + 60)
          .ok());
  ASSERT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUnsubscribed);

  // Back within the resend cooldown of the first confirmation: coming back
  // after leaving is a new opt-in and needs its own confirmation now.
  auto out = sign_up_email("a@example.com", kT0 + 120);
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  EXPECT_EQ(ch.state, ConsentState::kPending);
  EXPECT_EQ(ch.updated_at, kT0 + 120);
  EXPECT_TRUE(out.queued_email);
  ASSERT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.emails[1].entry.purpose, "confirm");
  // The fresh link confirms the returning address.
  auto fresh = svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 130);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->changed);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kConfirmed);
}

TEST_F(ConsentServiceTest, UnsubscribedLongAgoAlsoGetsAFreshConfirmation) {
  sign_up_email("a@example.com", kT0);
  auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_, kT0 + 60)
          .ok());
  auto out = sign_up_email("a@example.com", kT0 + 86400);
  EXPECT_TRUE(out.queued_email);
  EXPECT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
}

// A hard bounce makes the address undeliverable; signing up with it again
// starts over exactly as for a new address (issue 10, point 2).
TEST_F(ConsentServiceTest, AnUndeliverableAddressSignsUpAgainLikeANewOne) {
  sign_up_email("a@example.com", kT0);
  const auto first_link = last_confirm_token();
  ASSERT_TRUE(svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 10).ok());
  const auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      record_provider_undeliverable(store_.consent(), id, "sendgrid bounce 5.1.1", kT0 + 20));
  EXPECT_FALSE(record_provider_undeliverable(store_.consent(), id, "again", kT0 + 21));
  ASSERT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUndeliverable);
  const auto& bounced = store_.events.back();
  EXPECT_EQ(bounced.action, ConsentAction::kUndeliverable);
  EXPECT_EQ(bounced.source, ConsentSource::kProvider);
  EXPECT_EQ(bounced.detail, "sendgrid bounce 5.1.1");
  const auto emails_before = store_.emails.size();
  const auto events_before = store_.events.size();

  // Within the cooldown of the first confirmation: it goes all the same.
  auto out = sign_up_email("a@example.com", kT0 + 60);
  EXPECT_TRUE(out.queued_email);
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  EXPECT_EQ(ch.state, ConsentState::kPending);
  EXPECT_EQ(ch.updated_at, kT0 + 60);
  ASSERT_EQ(store_.emails.size(), emails_before + 1);
  EXPECT_EQ(store_.emails.back().entry.purpose, "confirm");
  expect_complete_email(store_.emails.back(), "confirm");  // the full one, not topics only
  ASSERT_EQ(store_.events.size(), events_before + 1);
  EXPECT_EQ(store_.events.back().action, ConsentAction::kGrant);
  EXPECT_EQ(store_.events.back().source, ConsentSource::kForm);
  ASSERT_TRUE(store_.event_texts.back().has_value());
  EXPECT_EQ(store_.event_texts.back()->version, "email-v1");

  // The link from before the bounce confirms nothing; the fresh one does.
  EXPECT_FALSE(svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 70).ok());
  auto fresh = svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 80);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->changed);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kConfirmed);
}

TEST_F(ConsentServiceTest, APendingAddressThatBouncesAlsoStartsOver) {
  sign_up_email("a@example.com", kT0);
  const auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(record_provider_undeliverable(store_.consent(), id, "smtp 550", kT0 + 5));
  auto out = sign_up_email("a@example.com", kT0 + 30);
  EXPECT_TRUE(out.queued_email);
  EXPECT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
  // Pending again: a third form within the cooldown waits as for any pending address.
  EXPECT_FALSE(sign_up_email("a@example.com", kT0 + 40).queued_email);
}

TEST_F(ConsentServiceTest, ProviderUnsubscribesAreLoggedWithTheirSource) {
  sign_up_email("a@example.com", kT0);
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  const auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(record_provider_unsubscribe(store_.consent(), id, ConsentSource::kComplaint,
                                          "sendgrid spamreport", kT0 + 20));
  EXPECT_FALSE(record_provider_unsubscribe(store_.consent(), id, ConsentSource::kProvider, "again",
                                           kT0 + 21));
  EXPECT_FALSE(
      record_provider_unsubscribe(store_.consent(), 999, ConsentSource::kProvider, "x", kT0 + 21));
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.events.back().action, ConsentAction::kWithdraw);
  EXPECT_EQ(store_.events.back().source, ConsentSource::kComplaint);
  EXPECT_EQ(store_.events.back().detail, "sendgrid spamreport");
  // Unsubscribed is not made undeliverable: a withdrawal stays a withdrawal.
  EXPECT_FALSE(record_provider_undeliverable(store_.consent(), id, "bounce", kT0 + 30));
}

std::string_view text_trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

struct NameCase {
  std::string name;
  bool ok;
};

class FirstNameTest : public ConsentServiceTest, public ::testing::WithParamInterface<NameCase> {};

TEST_P(FirstNameTest, IsCheckedBeforeAnythingIsStored) {
  SignupRequest r;
  r.email = "a@example.com";
  r.first_name = GetParam().name;
  auto v = svc_.validate(r);
  EXPECT_EQ(v.ok(), GetParam().ok) << "'" << GetParam().name << "'";
  if (!v.ok()) {
    EXPECT_EQ(v.error().field, "first_name");
    EXPECT_EQ(v.error().code, "invalid_first_name");
    EXPECT_EQ(v.error().kind, ErrorCode::kInvalidInput);
  } else {
    EXPECT_EQ(v->first_name, std::string(text_trim(GetParam().name)));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, FirstNameTest,
    ::testing::Values(
        NameCase{"Zo\xc3\xab", true}, NameCase{"O'Brien", true}, NameCase{"Jean-Luc", true},
        NameCase{"\xe5\xb1\xb1\xe7\x94\xb0", true}, NameCase{"  Mary Ann  ", true},
        NameCase{"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0", true},  // Анна
        NameCase{std::string(100, 'a'), true}, NameCase{std::string(101, 'a'), false},
        NameCase{"Visit evil.example", false}, NameCase{"<b>x</b>", false},
        NameCase{"http://x", false}, NameCase{"x@example.com", false}, NameCase{"a/b", false},
        NameCase{"Bob\r\nBcc: x", false}, NameCase{"Bob\tSmith", false},
        NameCase{"\xe2\x80\xae"
                 "evil",
                 false},  // RLO
        NameCase{"evil\xef\xbc\x8e"
                 "example",
                 false},  // full-width full stop
        NameCase{"evil\xe3\x80\x82"
                 "example",
                 false},             // ideographic full stop
        NameCase{"Bad\xff", false},  // invalid UTF-8
        NameCase{"Bob2", false}, NameCase{"{{x}}", false}, NameCase{"&amp;", false},
        // Issue 8.4: letters of any script with their marks, spaces,
        // apostrophes, hyphens and periods; nothing else.
        NameCase{"Jos\u00e9 Mar\u00eda", true}, NameCase{"Zoe\u0308", true},  // combining diaeresis
        NameCase{"Nguy\u1ec5n Th\u1ecb", true},                               // Vietnamese
        NameCase{"\u1f08\u03bb\u03ad\u03be\u03b1\u03bd\u03b4\u03c1\u03bf\u03c2", true},  // Greek
        NameCase{"\u0410\u043d\u043d\u0430-\u041c\u0430\u0440\u0438\u044f", true},       // Cyrillic
        NameCase{"\u738b\u5c0f\u660e", true},                                            // CJK
        NameCase{"\u0645\u062d\u0645\u062f", true},                                      // Arabic
        NameCase{"\u0639\u0644\u06cc\u200c\u0631\u0636\u0627", true},  // Persian with ZWNJ
        NameCase{"\u0905\u0928\u0941\u0937\u094d\u0915\u093e", true},  // Devanagari, marks
        NameCase{"\u0e2a\u0e21\u0e0a\u0e32\u0e22", true},              // Thai
        NameCase{"J.R.R. Tolkien", true}, NameCase{"St. John", true}, NameCase{"Jr.", true},
        NameCase{"Mary-Jane O\u2019Brien", true},
        NameCase{
            "Refund pending call \U0001d7d6\U0001d7ce\U0001d7ce \U0001d7d3\U0001d7d3\U0001d7d3 "
            "\U0001d7ce\U0001d7cf\U0001d7d7\U0001d7d7 now",
            false},                                                // mathematical bold digits
        NameCase{"Ann \uff11\uff12\uff13", false},                 // fullwidth digits
        NameCase{"\u0639\u0644\u064a \u0663\u0664\u0665", false},  // Arabic-Indic digits
        NameCase{"\u0930\u093e\u092e \u0967\u0968", false},        // Devanagari digits
        NameCase{"Ann \U0001f600", false}, NameCase{"Ann\u2764\ufe0f", false},  // emoji
        NameCase{"Ann $", false}, NameCase{"Ann \u20ac", false}, NameCase{"\u00a3 Ann", false},
        NameCase{"Ann\u2122", false}, NameCase{"Henry \u2167", false},  // symbol, Roman numeral
        NameCase{"\U0001d411\U0001d41e\U0001d41f\U0001d42e\U0001d427\U0001d41d",
                 false},  // math bold
        NameCase{"http://", false}, NameCase{"www.", false}, NameCase{"Go to www.", false},
        NameCase{"www.example", false}, NameCase{"a@b.c", false}, NameCase{"bit.ly", false},
        NameCase{"Ann.Smith", false}, NameCase{"\u0301Ann", false},  // a mark on nothing
        NameCase{"Zalgo"
                 "\u0301\u0302\u0303\u0304\u0305\u0306",
                 false},
        NameCase{"- . '", false}, NameCase{"Ann\u00a0Lee", false}, NameCase{"Ann_Lee", false}));

TEST_F(ConsentServiceTest, PhoneWithoutSmsConsentIsRefused) {
  SignupRequest r;
  r.phone = "+1 415 555 0100";
  auto v = svc_.validate(r);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "sms_consent_required");
  EXPECT_EQ(v.error().field, "sms_consent");
  r.email = "a@example.com";  // an email beside it does not make it acceptable
  EXPECT_FALSE(svc_.validate(r).ok());
}

TEST_F(ConsentServiceTest, MissingContactAndBadFieldsAreRefused) {
  SignupRequest none;
  none.first_name = "Bob";
  auto v = svc_.validate(none);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, "missing_contact");

  SignupRequest blank;
  blank.email = "   ";
  EXPECT_EQ(svc_.validate(blank).error().code, "missing_contact");

  SignupRequest bad_email;
  bad_email.email = "not-an-email";
  EXPECT_EQ(svc_.validate(bad_email).error().field, "email");

  SignupRequest bad_phone;
  bad_phone.phone = "call me";
  bad_phone.sms_consent = true;
  EXPECT_EQ(svc_.validate(bad_phone).error().field, "phone");

  SignupRequest postal;
  postal.email = "a@example.com";
  postal.postal_code = "<script>";
  EXPECT_EQ(svc_.validate(postal).error().field, "postal_code");
  postal.postal_code = std::string(17, '1');
  EXPECT_EQ(svc_.validate(postal).error().field, "postal_code");

  SignupRequest topics;
  topics.email = "a@example.com";
  topics.topics = {"ok", "not ok"};
  EXPECT_EQ(svc_.validate(topics).error().field, "topics");
  topics.topics.assign(21, "t");
  EXPECT_EQ(svc_.validate(topics).error().field, "topics");

  SignupRequest source;
  source.email = "a@example.com";
  source.source = "has space";
  EXPECT_EQ(svc_.validate(source).error().field, "source");
}

TEST_F(ConsentServiceTest, SmsWithoutPhoneSupportIsUnsupported) {
  ConsentService no_sms(test_config(), signer_, composer_, nullptr, ids_);
  SignupRequest r;
  r.phone = "+1 415 555 0100";
  r.sms_consent = true;
  auto v = no_sms.validate(r);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorCode::kUnsupported);
}

TEST_F(ConsentServiceTest, EmailAndPhoneShareOneSubscriberAndEachGetsAConfirmation) {
  SignupRequest r;
  r.email = "a@example.com";
  r.phone = "(415) 555-0100";
  r.sms_consent = true;
  auto out = svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);
  EXPECT_TRUE(out.email && out.sms && out.queued_email && out.queued_sms);
  ASSERT_EQ(store_.subscribers.size(), 1u);
  const auto& sms = store_.channel(ChannelKind::kSms, "+14155550100");
  EXPECT_EQ(sms.subscriber_id, store_.subscribers.begin()->first);
  EXPECT_EQ(sms.state, ConsentState::kPending);
  ASSERT_EQ(store_.texts.size(), 1u);
  EXPECT_EQ(store_.texts[0].sms.to, "+14155550100");
  EXPECT_EQ(store_.texts[0].entry.kind, OutboxKind::kSms);
  EXPECT_EQ(store_.texts[0].entry.purpose, "confirm");
  RecordingComposer rc;
  auto text = store_.texts[0].sms;
  render_queued(rc, text);
  ASSERT_EQ(rc.sms_calls.size(), 1u) << "the confirmation text is not rendered from a template";
  EXPECT_EQ(rc.sms_calls[0].name, "sms_confirm");
  EXPECT_THAT(text.body, StartsWith("sms:template=sms_confirm"));
  ASSERT_EQ(store_.events.size(), 2u);
  EXPECT_EQ(store_.events[1].channel, ChannelKind::kSms);
  EXPECT_EQ(store_.events[1].consent_text_version, "sms-v3");
  EXPECT_EQ(store_.events[1].consent_text_sha256, std::string(64, 's'));

  // Both known and one person: a repeat keeps them together.
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0 + 5);
  EXPECT_EQ(store_.subscribers.size(), 1u);
  EXPECT_EQ(store_.texts.size(), 1u);  // the phone is within its cooldown
}

TEST_F(ConsentServiceTest, ANewAddressNeverJoinsSomeoneWhoExists) {
  // Alice is known by her phone, with her name.
  SignupRequest alice;
  alice.phone = "(415) 555-0100";
  alice.sms_consent = true;
  alice.first_name = "Alice";
  svc_.sign_up(store_.tx(), valid(alice), ctx_, kT0);
  const auto alice_id = store_.channel(ChannelKind::kSms, "+14155550100").subscriber_id;

  // Someone types Alice's number next to their own new email address.
  SignupRequest mallory;
  mallory.email = "mallory@example.net";
  mallory.phone = "+1 415 555 0100";
  mallory.sms_consent = true;
  mallory.first_name = "Mal";
  auto out = svc_.sign_up(store_.tx(), valid(mallory), ctx_, kT0 + 5);
  EXPECT_TRUE(out.queued_email);
  const auto& mal_email = store_.channel(ChannelKind::kEmail, "mallory@example.net");
  EXPECT_NE(mal_email.subscriber_id, alice_id);  // not attached to Alice's record
  EXPECT_EQ(store_.subscribers.at(mal_email.subscriber_id).first_name, "Mal");
  EXPECT_EQ(store_.subscribers.at(alice_id).first_name, "Alice");
  // The new address's confirmation greets the name given with it, never Alice's.
  EXPECT_EQ(render_call(store_.emails.back()).vars.at("first_name"), "Mal");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").subscriber_id, alice_id);

  // The other way round: a known email and a new phone.
  SignupRequest other;
  other.email = "mallory@example.net";
  other.phone = "(212) 555-0199";
  other.sms_consent = true;
  svc_.sign_up(store_.tx(), valid(other), ctx_, kT0 + 10);
  EXPECT_NE(store_.channel(ChannelKind::kSms, "+12125550199").subscriber_id,
            mal_email.subscriber_id);
  EXPECT_EQ(store_.subscribers.size(), 3u);
}

TEST_F(ConsentServiceTest, TopicsForSomeoneWhoExistsWaitForTheirConfirmation) {
  SignupRequest first;
  first.email = "a@example.com";
  first.topics = {"news"};
  svc_.sign_up(store_.tx(), valid(first), ctx_, kT0);
  const auto first_link = last_confirm_token();
  ASSERT_TRUE(svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 10).ok());
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  const auto sub = ch.subscriber_id;
  EXPECT_THAT(store_.topics_of(sub), ElementsAre("news"));
  const auto emails = store_.emails.size();

  // An anonymous form asks for more topics for this confirmed address.
  SignupRequest more;
  more.email = "a@example.com";
  more.topics = {"news", "events"};
  auto out = svc_.sign_up(store_.tx(), valid(more), ctx_, kT0 + 3600);
  EXPECT_THAT(store_.topics_of(sub), ElementsAre("news"));  // nothing added yet
  EXPECT_TRUE(out.queued_email);                            // the owner is asked
  ASSERT_EQ(store_.emails.size(), emails + 1);
  EXPECT_EQ(store_.emails.back().entry.purpose, "confirm");
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kConfirmed);

  // The old link (sent before the request) approves nothing new.
  ASSERT_TRUE(svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 3700).ok());
  EXPECT_THAT(store_.topics_of(sub), ElementsAre("news"));
  // The new one does, once.
  auto r = svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 3800);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->changed);  // the channel was confirmed already
  EXPECT_THAT(store_.topics_of(sub), ElementsAre("events", "news"));
  EXPECT_TRUE(store_.topic_requests[ch.id].empty());

  // New topics within the cooldown are held, but no second email goes.
  SignupRequest again;
  again.email = "a@example.com";
  again.topics = {"jobs"};
  svc_.sign_up(store_.tx(), valid(again), ctx_, kT0 + 3900);
  EXPECT_EQ(store_.emails.size(), emails + 1);
  EXPECT_EQ(store_.topic_requests[ch.id].count("jobs"), 1u);
  // Asking again only for topics already held sends nothing.
  svc_.sign_up(store_.tx(), valid(more), ctx_, kT0 + 90000);
  EXPECT_EQ(store_.emails.size(), emails + 1);
}

// Issue 8.3: three anonymous posts of 20 topics each for a confirmed address.
TEST_F(ConsentServiceTest, TopicsPerSubscriberAreCappedInTotal) {
  SignupRequest first;
  first.email = "a@example.com";
  first.topics = {"news"};
  svc_.sign_up(store_.tx(), valid(first), ctx_, kT0);
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  std::int64_t now = kT0 + 1000;
  for (int post = 0; post < 3; ++post, now += 1000) {
    SignupRequest r;
    r.email = "a@example.com";
    for (int i = 0; i < 20; ++i)
      r.topics.push_back("t" + std::to_string(post) + "_" + std::to_string(i));
    svc_.sign_up(store_.tx(), valid(r), ctx_, now);
    EXPECT_LE(store_.topic_requests[ch.id].size() + store_.topics_of(ch.subscriber_id).size(),
              ConsentService::kMaxSubscriberTopics)
        << "after post " << post;
  }
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, now).ok());
  EXPECT_EQ(store_.topics_of(ch.subscriber_id).size(), ConsentService::kMaxSubscriberTopics);
  // The first post's topics fill the room left; the later ones got none.
  EXPECT_EQ(store_.topics_of(ch.subscriber_id)[0], "news");
}

// Held requests on several channels (or held before the cap) cannot push a
// subscriber past it either: applying them stops at the cap.
TEST_F(ConsentServiceTest, ApplyingHeldTopicsStopsAtTheCap) {
  SignupRequest first;
  first.email = "a@example.com";
  first.topics = {"news"};
  svc_.sign_up(store_.tx(), valid(first), ctx_, kT0);
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  for (int i = 0; i < 30; ++i) store_.topic_requests[ch.id]["held" + std::to_string(i)] = kT0;
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  EXPECT_EQ(store_.topics_of(ch.subscriber_id).size(), ConsentService::kMaxSubscriberTopics);
}

// The email asking a confirmed person about new topics names them, says
// that ignoring it changes nothing, and is limited like a confirmation.
TEST_F(ConsentServiceTest, TheEmailAskingAboutNewTopicsNamesThemAndKeepsTheCooldown) {
  SignupRequest first;
  first.email = "a@example.com";
  svc_.sign_up(store_.tx(), valid(first), ctx_, kT0);
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  const auto emails = store_.emails.size();

  SignupRequest more;
  more.email = "a@example.com";
  more.topics = {"jobs", "events"};
  EXPECT_TRUE(svc_.sign_up(store_.tx(), valid(more), ctx_, kT0 + 1000).queued_email);
  ASSERT_EQ(store_.emails.size(), emails + 1);
  auto call = render_call(store_.emails.back());
  EXPECT_EQ(call.name, "confirm_topics");
  EXPECT_EQ(call.vars.at("topics"), "events, jobs");
  EXPECT_EQ(store_.emails.back().entry.purpose, "confirm");
  expect_complete_email(store_.emails.back(), "confirm_topics");

  // Within the cooldown: held, no email.
  more.topics = {"sports"};
  EXPECT_FALSE(svc_.sign_up(store_.tx(), valid(more), ctx_, kT0 + 1000 + 599).queued_email);
  EXPECT_EQ(store_.emails.size(), emails + 1);
  // After it: one email naming everything its link would add.
  more.topics = {"arts"};
  EXPECT_TRUE(svc_.sign_up(store_.tx(), valid(more), ctx_, kT0 + 1000 + 600).queued_email);
  ASSERT_EQ(store_.emails.size(), emails + 2);
  EXPECT_EQ(render_call(store_.emails.back()).vars.at("topics"), "arts, events, jobs, sports");
}

// The same for a confirmed number: the text that asks about new topics
// names them (shortened to fit a text) and says ignoring it changes nothing.
TEST_F(ConsentServiceTest, TheTextAskingAboutNewTopicsNamesThem) {
  SignupRequest r;
  r.phone = "(415) 555-0100";
  r.sms_consent = true;
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);
  text_keyword(svc_, store_, "+14155550100", SmsKeyword::kOptIn, "SM1", ctx_, kT0 + 10);
  ASSERT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").state, ConsentState::kConfirmed);

  r.topics = {"jobs", "events"};
  EXPECT_TRUE(svc_.sign_up(store_.tx(), valid(r), ctx_, kT0 + 1000).queued_sms);
  ASSERT_EQ(store_.texts.size(), 2u);
  RecordingComposer rc;
  auto text = store_.texts.back().sms;
  render_queued(rc, text);
  ASSERT_EQ(rc.sms_calls.size(), 1u);
  EXPECT_EQ(rc.sms_calls[0].name, "sms_confirm_topics");
  EXPECT_EQ(rc.sms_calls[0].vars.at("topics"), "events, jobs");

  // Twenty long topics are shortened to what fits, with the number left out.
  r.topics.clear();
  for (int i = 0; i < 18; ++i)
    r.topics.push_back("a-rather-long-topic-name-" + std::to_string(10 + i));
  EXPECT_TRUE(svc_.sign_up(store_.tx(), valid(r), ctx_, kT0 + 2000).queued_sms);
  RecordingComposer rc2;
  text = store_.texts.back().sms;
  render_queued(rc2, text);
  const auto& topics = rc2.sms_calls.at(0).vars.at("topics");
  EXPECT_LE(topics.size(), 80u) << topics;
  EXPECT_THAT(topics, HasSubstr("a-rather-long-topic-name-10, "));
  EXPECT_THAT(topics, ::testing::EndsWith(" and 18 more"));
}

// Issue 8.4: a name stored before the rules (or by any other way in) is
// not printed into a message to an address that has confirmed nothing.
TEST_F(ConsentServiceTest, AConfirmationGreetsByNameOnlyWhenTheNamePassesTheRules) {
  sign_up_email("a@example.com", kT0, "Alice");
  EXPECT_EQ(render_call(store_.emails.back()).vars.at("first_name"), "Alice");
  auto& sub =
      store_.subscribers.at(store_.channel(ChannelKind::kEmail, "a@example.com").subscriber_id);
  sub.first_name = "Refund pending call \U0001d7d6\U0001d7ce\U0001d7ce now";
  sign_up_email("a@example.com", kT0 + 600);
  ASSERT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(render_call(store_.emails.back()).vars.at("first_name"), "");
}

TEST_F(ConsentServiceTest, AnUnsubscribedChannelsOldLinkAddsNoTopics) {
  SignupRequest r;
  r.email = "a@example.com";
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 10).ok());
  r.topics = {"events"};
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0 + 3600);
  const auto link = last_confirm_token();
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  ASSERT_TRUE(svc_.unsubscribe(store_.tx(), unsubscribe_token_for(ch.id), ConsentSource::kLink,
                               ctx_, kT0 + 3700)
                  .ok());
  ASSERT_TRUE(svc_.confirm(store_.tx(), link, ctx_, kT0 + 3800).ok());
  EXPECT_TRUE(store_.topics_of(ch.subscriber_id).empty());
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUnsubscribed);
}

TEST_F(ConsentServiceTest, ConfirmFlipsPendingToConfirmedLogsAndQueuesWelcome) {
  sign_up_email("a@example.com", kT0, "Alice");
  auto token = last_confirm_token();
  RequestContext click{"198.51.100.9", "Phone browser"};
  auto r = svc_.confirm(store_.tx(), token, click, kT0 + 100);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->channel.state, ConsentState::kConfirmed);
  const auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  EXPECT_EQ(ch.state, ConsentState::kConfirmed);
  EXPECT_EQ(ch.updated_at, kT0 + 100);

  ASSERT_EQ(store_.events.size(), 2u);
  const auto& e = store_.events[1];
  EXPECT_EQ(e.action, ConsentAction::kConfirm);
  EXPECT_EQ(e.source, ConsentSource::kLink);
  EXPECT_EQ(e.channel_id, ch.id);
  EXPECT_EQ(e.context.ip, "198.51.100.9");
  EXPECT_EQ(e.context.user_agent, "Phone browser");
  EXPECT_EQ(e.at, kT0 + 100);

  ASSERT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.emails[1].entry.purpose, "welcome");
  EXPECT_EQ(render_call(store_.emails[1]).vars.at("first_name"), "Alice");
  expect_complete_email(store_.emails[0], "confirm");
  expect_complete_email(store_.emails[1], "welcome");

  // A second click is fine and changes nothing.
  auto again = svc_.confirm(store_.tx(), token, click, kT0 + 200);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(store_.emails.size(), 2u);
  EXPECT_EQ(store_.events.size(), 2u);
}

TEST_F(ConsentServiceTest, SmsKeywordsMoveTheNumbersChannelAndLogTheReply) {
  SignupRequest r;
  r.phone = "(415) 555-0100";
  r.sms_consent = true;
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);
  const RequestContext twilio{"54.1.2.3", "TwilioProxy/1.1"};

  // HELP changes nothing; its answer is on record.
  auto help = text_keyword(svc_, store_, "+14155550100", SmsKeyword::kHelp, "SM1", twilio, kT0 + 5);
  EXPECT_EQ(help.reply_template, "sms_help");
  EXPECT_FALSE(help.changed);
  EXPECT_EQ(help.reply_vars.at("public_url"), "https://news.example.org");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").state, ConsentState::kPending);
  ASSERT_EQ(store_.events.size(), 2u);
  EXPECT_EQ(store_.events[1].action, ConsentAction::kHelp);

  auto yes =
      text_keyword(svc_, store_, "+14155550100", SmsKeyword::kOptIn, "SM2", twilio, kT0 + 10);
  EXPECT_TRUE(yes.changed);
  EXPECT_EQ(yes.reply_template, "sms_subscribed");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").state, ConsentState::kConfirmed);
  ASSERT_EQ(store_.events.size(), 3u);
  EXPECT_EQ(store_.events[2].action, ConsentAction::kConfirm);
  EXPECT_EQ(store_.events[2].source, ConsentSource::kKeyword);
  EXPECT_EQ(store_.events[2].detail, "sms SM2");
  EXPECT_EQ(store_.events[2].context.ip, "54.1.2.3");
  EXPECT_TRUE(store_.emails.empty());  // no welcome email for a text channel

  // A second YES changes nothing: only its answer is logged.
  auto again =
      text_keyword(svc_, store_, "+14155550100", SmsKeyword::kOptIn, "SM3", twilio, kT0 + 20);
  EXPECT_FALSE(again.changed);
  ASSERT_EQ(store_.events.size(), 4u);
  EXPECT_EQ(store_.events[3].action, ConsentAction::kReceived);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").state, ConsentState::kConfirmed);

  auto stop =
      text_keyword(svc_, store_, "+14155550100", SmsKeyword::kOptOut, "SM4", twilio, kT0 + 30);
  EXPECT_TRUE(stop.changed);
  EXPECT_EQ(stop.reply_template, "sms_stopped");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+14155550100").state, ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.events.back().action, ConsentAction::kWithdraw);

  // Unknown numbers: STOP is still answered (and on record as a
  // revocation), YES points to the form; no channel is made.
  const auto channels = store_.channels.size();
  EXPECT_EQ(text_keyword(svc_, store_, "+14155550199", SmsKeyword::kOptOut, "", twilio, kT0)
                .reply_template,
            "sms_stopped");
  EXPECT_EQ(store_.events.back().action, ConsentAction::kWithdraw);
  EXPECT_EQ(store_.events.back().channel_id, 0);
  EXPECT_EQ(text_keyword(svc_, store_, "+14155550199", SmsKeyword::kOptIn, "", twilio, kT0)
                .reply_template,
            "sms_unknown");
  EXPECT_EQ(store_.channels.size(), channels);
  // A text that is no keyword, without a MessageSid, writes nothing.
  const auto writes = store_.writes();
  EXPECT_TRUE(text_keyword(svc_, store_, "+14155550100", SmsKeyword::kNone, "", twilio, kT0)
                  .reply_template.empty());
  EXPECT_EQ(store_.writes(), writes);
}

TEST_F(ConsentServiceTest, ConfirmAfterUnsubscribeChangesNothing) {
  sign_up_email("a@example.com", kT0);
  auto token = last_confirm_token();
  auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_, kT0 + 10)
          .ok());
  const auto writes = store_.writes();
  auto r = svc_.confirm(store_.tx(), token, ctx_, kT0 + 20);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->changed);
  EXPECT_EQ(r->channel.state, ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.writes(), writes);
}

// Issue 8.2: confirm, unsubscribe, an anonymous form sets the address back to
// pending; the link from the FIRST email must not confirm it now (only a link
// sent after the latest state change may).
TEST_F(ConsentServiceTest, AnOldLinkDoesNotConfirmAfterUnsubscribeAndAnAnonymousForm) {
  sign_up_email("a@example.com", kT0);
  const auto first_link = last_confirm_token();
  ASSERT_TRUE(svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 10).ok());
  const auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_, kT0 + 20)
          .ok());
  sign_up_email("a@example.com", kT0 + 30);  // anyone's form
  ASSERT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
  const auto events = store_.events.size();
  const auto writes = store_.writes();

  auto old = svc_.confirm(store_.tx(), first_link, ctx_, kT0 + 40);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().kind, ErrorCode::kExpired);
  EXPECT_EQ(old.error().code, "superseded_token");
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
  EXPECT_EQ(store_.events.size(), events);  // no "confirmed by link" in the log
  EXPECT_EQ(store_.writes(), writes);

  // The link the form caused confirms.
  auto fresh = svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 50);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->changed);
}

// The same with every step in one clock second: times alone cannot order
// them, so the link carries the channel's state version.
TEST_F(ConsentServiceTest, AnOldLinkDoesNotConfirmEvenWhenEverythingHappensInOneSecond) {
  sign_up_email("a@example.com", kT0);
  const auto first_link = last_confirm_token();
  const auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  ASSERT_TRUE(
      svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_, kT0)
          .ok());
  sign_up_email("a@example.com", kT0);
  const auto second_link = last_confirm_token();
  ASSERT_NE(first_link, second_link);

  auto old = svc_.confirm(store_.tx(), first_link, ctx_, kT0);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code, "superseded_token");
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
  auto fresh = svc_.confirm(store_.tx(), second_link, ctx_, kT0);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->changed);
}

// Links issued before this fix carry no version. One of them is still good
// for a channel whose state has not changed since it was sent, but not
// after a later change (its issue time is then before the change).
TEST_F(ConsentServiceTest, AnUnversionedLinkIsJudgedByItsIssueTime) {
  sign_up_email("a@example.com", kT0);
  auto& ch = store_.channel(ChannelKind::kEmail, "a@example.com");
  TokenCodec codec(signer_);
  const auto ttl = test_config().confirm_ttl_seconds;
  // As if the channel had been confirmed, unsubscribed and asked for again
  // by a form at kT0 + 30 before the upgrade: its version is still 0.
  ch.updated_at = kT0 + 30;
  ch.state_version = 0;
  auto old = svc_.confirm(store_.tx(), codec.issue({TokenPurpose::kConfirm, ch.id, kT0 + ttl}),
                          ctx_, kT0 + 40);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code, "superseded_token");
  auto current = svc_.confirm(
      store_.tx(), codec.issue({TokenPurpose::kConfirm, ch.id, kT0 + 30 + ttl}), ctx_, kT0 + 40);
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(current->changed);
}

// A pending channel may be sent its confirmation again (after the cooldown);
// every link sent while it stays pending confirms it.
TEST_F(ConsentServiceTest, EveryLinkSentWhileStillPendingConfirms) {
  sign_up_email("a@example.com", kT0);
  const auto first = last_confirm_token();
  sign_up_email("a@example.com", kT0 + 600);
  ASSERT_NE(last_confirm_token(), first);
  auto r = svc_.confirm(store_.tx(), first, ctx_, kT0 + 700);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->changed);
}

TEST_F(ConsentServiceTest, ConfirmRefusesBadExpiredAndForeignTokens) {
  sign_up_email("a@example.com", kT0);
  auto token = last_confirm_token();
  const auto writes = store_.writes();

  auto expired = svc_.confirm(store_.tx(), token, ctx_, kT0 + 7 * 86400 + 1);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().kind, ErrorCode::kExpired);

  auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  auto wrong = svc_.confirm(store_.tx(), unsubscribe_token_for(id), ctx_, kT0 + 1);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorCode::kBadToken);

  FakeSigner other("other-key");
  TokenCodec foreign(other);
  auto forged = svc_.confirm(store_.tx(), foreign.issue({TokenPurpose::kConfirm, id, kT0 + 100}),
                             ctx_, kT0 + 1);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().kind, ErrorCode::kBadToken);

  TokenCodec ours(signer_);
  auto missing = svc_.confirm(store_.tx(), ours.issue({TokenPurpose::kConfirm, 9999, kT0 + 100}),
                              ctx_, kT0 + 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorCode::kNotFound);

  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state, ConsentState::kPending);
}

TEST_F(ConsentServiceTest, UnsubscribeIsIdempotentAndLogsTheOneClickSource) {
  sign_up_email("a@example.com", kT0);
  ASSERT_TRUE(svc_.confirm(store_.tx(), last_confirm_token(), ctx_, kT0 + 1).ok());
  auto id = store_.channel(ChannelKind::kEmail, "a@example.com").id;
  const auto emails = store_.emails.size();
  RequestContext mail_client{"192.0.2.1", "Mail one-click"};

  auto first = svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kOneClick,
                                mail_client, kT0 + 50);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->changed);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").state,
            ConsentState::kUnsubscribed);
  ASSERT_EQ(store_.events.size(), 3u);
  const auto& e = store_.events.back();
  EXPECT_EQ(e.action, ConsentAction::kWithdraw);
  EXPECT_EQ(e.source, ConsentSource::kOneClick);
  EXPECT_EQ(e.context.ip, "192.0.2.1");
  EXPECT_EQ(e.at, kT0 + 50);

  auto second = svc_.unsubscribe(store_.tx(), unsubscribe_token_for(id), ConsentSource::kLink, ctx_,
                                 kT0 + 60);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->changed);
  EXPECT_EQ(store_.events.size(), 3u);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.com").updated_at, kT0 + 50);
  EXPECT_EQ(store_.emails.size(), emails);  // no "sorry to see you go" mail

  // A confirm token cannot unsubscribe anyone.
  auto bad =
      svc_.unsubscribe(store_.tx(), last_confirm_token(), ConsentSource::kLink, ctx_, kT0 + 70);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorCode::kBadToken);
}

TEST_F(ConsentServiceTest, UrlsHaveNoDoubledSlash) {
  EXPECT_THAT(svc_.unsubscribe_url(5), StartsWith("https://news.example.org/unsubscribe/u.5.0."));
  EXPECT_THAT(svc_.confirm_url(5, kT0), StartsWith("https://news.example.org/confirm/c.5."));
}

TEST_F(ConsentServiceTest, BuildEmailPutsMessageIdOnTheFromDomainAndTheMailtoAlternative) {
  auto cfg = test_config();
  cfg.list_unsubscribe_mailto = "mailto:unsub@mail.example.org";
  cfg.envelope_from = "bounces@mail.example.org";
  ConsentService svc(cfg, signer_, composer_, &phones_, ids_);
  Channel ch;
  ch.id = 3;
  ch.address = "x@example.net";
  auto m = svc.build_email(ch, ComposedEmail{"S", "T", "H"}, kT0);
  auto m2 = svc.build_email(ch, ComposedEmail{"S", "T", "H"}, kT0);
  EXPECT_NE(m.message_id, m2.message_id);
  EXPECT_THAT(m.message_id, ::testing::EndsWith("@mail.example.org"));
  EXPECT_EQ(m.list_unsubscribe_mailto, "mailto:unsub@mail.example.org");
  EXPECT_EQ(m.envelope_from, "bounces@mail.example.org");
  EXPECT_EQ(m.to.address, "x@example.net");
  EXPECT_EQ(m.subject, "S");
}

// An operator's change is checked with the sign-up's rules before any
// store is touched, and stored as checked.
TEST_F(ConsentServiceTest, AProfileChangeIsCheckedWithTheSignupRules) {
  ProfileChange raw;
  raw.first_name = "  Zo\xc3\xab ";
  raw.postal_code = " 02134 ";
  raw.topics = std::vector<std::string>{"News", " events ", "news", ""};
  auto v = svc_.validate_profile(raw);
  ASSERT_TRUE(v.ok()) << v.error().code;
  EXPECT_EQ(*v.value().first_name, "Zo\xc3\xab");
  EXPECT_EQ(*v.value().postal_code, "02134");
  EXPECT_EQ(*v.value().topics, (std::vector<std::string>{"news", "events"}));
  EXPECT_FALSE(svc_.validate_profile(ProfileChange{}).value().first_name.has_value());
  const auto code = [&](ProfileChange c) {
    auto r = svc_.validate_profile(c);
    return r.ok() ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code(ProfileChange{"www.evil.example", {}, {}}), "invalid_first_name");
  EXPECT_EQ(code(ProfileChange{{}, "a;b", {}}), "invalid_postal_code");
  EXPECT_EQ(code(ProfileChange{{}, {}, std::vector<std::string>{"a b"}}), "invalid_topics");
  EXPECT_EQ(code(ProfileChange{{}, {}, std::vector<std::string>(21, "t")}), "invalid_topics");
  EXPECT_EQ(code(ProfileChange{"", "", std::vector<std::string>{}}), "ok");  // clears
  EXPECT_EQ(store_.writes(), 0u);
}

TEST_F(ConsentServiceTest, AProfileChangeReportsOnlyWhatItChanged) {
  sign_up_email("pat@example.org", kT0, "Pat");
  const auto sub = store_.channel(ChannelKind::kEmail, "pat@example.org").subscriber_id;
  store_.add_topics(sub, {"news"});
  ProfileChange c;
  c.first_name = "Pat";
  c.topics = std::vector<std::string>{"news"};
  EXPECT_TRUE(svc_.update_profile(store_.tx(), sub, c).value().empty());
  c.postal_code = "K1A 0B1";
  c.topics = std::vector<std::string>{"jobs", "events"};
  EXPECT_THAT(svc_.update_profile(store_.tx(), sub, c).value(),
              ElementsAre("postal_code", "topics"));
  EXPECT_EQ(store_.subscribers.at(sub).postal_code, "K1A 0B1");
  EXPECT_EQ(store_.subscribers.at(sub).first_name, "Pat");
  EXPECT_EQ(store_.topics_of(sub), (std::vector<std::string>{"events", "jobs"}));
  const auto missing = svc_.update_profile(store_.tx(), sub + 100, c);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorCode::kNotFound);
}

// Unsubscribing by an operator: every channel asked for, each with its row
// of source admin naming who; repeats and other channels are left alone.
TEST_F(ConsentServiceTest, AnOperatorUnsubscribesOneChannelOrAllWithConsentRows) {
  SignupRequest r;
  r.email = "quin@example.org";
  r.phone = "650 253 0001";
  r.sms_consent = true;
  svc_.sign_up(store_.tx(), valid(r), ctx_, kT0);
  const auto sub = store_.channel(ChannelKind::kEmail, "quin@example.org").subscriber_id;
  const auto before = store_.events.size();
  auto sms = svc_.unsubscribe_subscriber(store_.tx(), sub, ChannelKind::kSms, ConsentSource::kAdmin,
                                         "ops-key", ctx_, kT0 + 10);
  ASSERT_TRUE(sms.ok());
  ASSERT_EQ(sms.value().size(), 1u);
  EXPECT_TRUE(sms.value()[0].changed);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530001").state, ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "quin@example.org").state, ConsentState::kPending);
  ASSERT_EQ(store_.events.size(), before + 1);
  const auto& e = store_.events.back();
  EXPECT_EQ(e.action, ConsentAction::kWithdraw);
  EXPECT_EQ(e.source, ConsentSource::kAdmin);
  EXPECT_EQ(e.detail, "ops-key");
  EXPECT_EQ(e.channel, ChannelKind::kSms);
  EXPECT_EQ(e.at, kT0 + 10);
  auto all = svc_.unsubscribe_subscriber(store_.tx(), sub, std::nullopt, ConsentSource::kAdmin,
                                         "ops-key", ctx_, kT0 + 20);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().size(), 2u);
  EXPECT_EQ(all.value()[0].channel.kind, ChannelKind::kEmail);
  EXPECT_TRUE(all.value()[0].changed);
  EXPECT_FALSE(all.value()[1].changed);  // the number already was
  EXPECT_EQ(store_.events.size(), before + 2);
  EXPECT_EQ(svc_.unsubscribe_subscriber(store_.tx(), sub + 100, std::nullopt, ConsentSource::kAdmin,
                                        "k", ctx_, kT0)
                .error()
                .kind,
            ErrorCode::kNotFound);
  sign_up_email("solo@example.org", kT0);
  const auto solo = store_.channel(ChannelKind::kEmail, "solo@example.org").subscriber_id;
  auto none = svc_.unsubscribe_subscriber(store_.tx(), solo, ChannelKind::kSms,
                                          ConsentSource::kAdmin, "k", ctx_, kT0);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind, ErrorCode::kNotFound);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "solo@example.org").state, ConsentState::kPending);
}

}  // namespace
}  // namespace sc
