// Broadcast templates with the real renderer (issue 14): empty values are
// false, misspelt variables and templates past the limits are refused before
// any parser sees them, each sending broadcast is parsed once for every
// thread in a bounded cache, and no text goes out above SC_SMS_MAX_SEGMENTS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "sc/core/broadcast.h"
#include "sc/core/consent_service.h"
#include "sc/core/person_name.h"
#include "sc/core/sms_segments.h"
#include "sc/render/renderer.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

using ::testing::HasSubstr;

const Vars kCommon{{"org_name", "Example Org"}, {"postal_address", "1 Main St, Springfield"}};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The renderer, counting what reaches its parser.
class CountingComposer final : public Composer {
 public:
  explicit CountingComposer(const Renderer& r) : r_(r) {}
  ComposedEmail email(std::string_view name, const Vars& vars) const override {
    return r_.email(name, vars);
  }
  std::string sms(std::string_view name, const Vars& vars) const override {
    return r_.sms(name, vars);
  }
  std::string inline_error(std::string_view source) const override {
    saw(source);
    return r_.inline_error(source);
  }
  std::shared_ptr<const InlineTemplate> prepare_inline(std::string_view source,
                                                       bool html) const override {
    saw(source);
    return r_.prepare_inline(source, html);
  }
  void reset() const {
    parses = 0;
    longest = 0;
  }
  mutable std::atomic<int> parses{0};
  mutable std::atomic<std::size_t> longest{0};  // the longest source parsed

 private:
  void saw(std::string_view source) const {
    ++parses;
    auto n = longest.load();
    while (n < source.size() && !longest.compare_exchange_weak(n, source.size())) {
    }
  }
  const Renderer& r_;
};

class BroadcastTemplates : public ::testing::Test {
 protected:
  BroadcastTemplates() : counting_(renderer_), svc_(config(), signer_, renderer_, nullptr, ids_) {}

  static ServiceConfig config() {
    ServiceConfig cfg;
    cfg.public_url = "https://news.example.org";
    cfg.org_name = "Example Org";
    cfg.postal_address = "1 Main St, Springfield";
    cfg.from = Mailbox{"news@mail.example.org", "Example Org"};
    return cfg;
  }

  BroadcastComposer::Settings settings(int sms_max_segments = 0) {
    BroadcastComposer::Settings s;
    s.org_name = "Example Org";
    s.postal_address = "1 Main St, Springfield";
    s.from = Mailbox{"news@mail.example.org", "Example Org"};
    s.list_id = "Example Org <broadcasts.mail.example.org>";
    s.feedback_id_tail = ":stayconnected:mail.example.org";
    s.sms_max_segments = sms_max_segments;
    return s;
  }

  std::unique_ptr<BroadcastComposer> composer(BroadcastComposer::Settings s) {
    return std::make_unique<BroadcastComposer>(counting_, svc_, std::move(s),
                                               [this](std::int64_t id) -> std::optional<Broadcast> {
                                                 ++loads_;
                                                 auto it = stored_.find(id);
                                                 if (it == stored_.end()) return std::nullopt;
                                                 return it->second;
                                               });
  }

  Broadcast store(std::int64_t id, const BroadcastDraft& d, const BroadcastComposer& c,
                  const BroadcastSettings& bs = {}) {
    auto b = validate_draft(d, c, bs);
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
    Broadcast out = b.ok() ? b.value() : Broadcast{};
    out.id = id;
    out.status = BroadcastStatus::kSending;
    stored_[id] = out;
    return out;
  }

  static BroadcastDraft sms_draft(const std::string& text) {
    BroadcastDraft d;
    d.channel = "sms";
    d.text = text;
    return d;
  }
  static BroadcastDraft email_draft(const std::string& subject, const std::string& text,
                                    std::optional<std::string> html = std::nullopt) {
    BroadcastDraft d;
    d.channel = "email";
    d.subject = subject;
    d.text = text;
    d.html = std::move(html);
    return d;
  }

  static ClaimedMessage claimed_sms(std::int64_t broadcast, std::int64_t id,
                                    const std::string& first_name) {
    ClaimedMessage m;
    m.id = id;
    m.kind = OutboxKind::kSms;
    m.broadcast_id = broadcast;
    m.channel_id = id;
    m.sms.to = "+16502530000";
    m.sms.template_vars["first_name"] = first_name;
    return m;
  }
  static ClaimedMessage claimed_email(std::int64_t broadcast, std::int64_t id,
                                      const std::string& first_name) {
    ClaimedMessage m;
    m.id = id;
    m.kind = OutboxKind::kEmail;
    m.broadcast_id = broadcast;
    m.channel_id = id;
    m.email.to = Mailbox{"reader" + std::to_string(id) + "@example.com", ""};
    m.email.template_vars["first_name"] = first_name;
    return m;
  }

  unit::FakeSigner signer_{"k"};
  unit::CountingIds ids_;
  Renderer renderer_{kCommon};
  CountingComposer counting_;
  ConsentService svc_;
  std::map<std::int64_t, Broadcast> stored_;
  std::atomic<int> loads_{0};
};

// ---- point 7: empty values are false; a fallback works ----

TEST_F(BroadcastTemplates, AnEmptyValueIsFalseSoAFallbackShows) {
  const std::string greeting =
      "Hello {{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}friend{{/first_name}}!";
  for (bool html : {false, true}) {
    EXPECT_EQ(renderer_.inline_template(greeting, {{"first_name", ""}}, html), "Hello friend!");
    EXPECT_EQ(renderer_.inline_template(greeting, {{"first_name", "Ann"}}, html), "Hello Ann!");
    // A missing value is the same as an empty one.
    EXPECT_EQ(renderer_.inline_template(greeting, {}, html), "Hello friend!");
    // Empty renders as nothing (not "false").
    EXPECT_EQ(
        renderer_.inline_template("[{{first_name}}][{{{first_name}}}]", {{"first_name", ""}}, html),
        "[][]");
  }
  // The short form: the inverted section alone.
  EXPECT_EQ(renderer_.inline_template("Hi {{first_name}}{{^first_name}}there{{/first_name}}!",
                                      {{"first_name", ""}}, false),
            "Hi there!");
  // Built-in templates that use has_<name> still work.
  EXPECT_THAT(renderer_.email("welcome", {{"first_name", ""}}).text, HasSubstr("Hello,"));
  EXPECT_THAT(renderer_.email("welcome", {{"first_name", "Ann"}}).text, HasSubstr("Hello Ann,"));
}

TEST_F(BroadcastTemplates, ARecipientWithoutANameGetsTheFallbackInEveryPart) {
  auto c = composer(settings(4));
  const std::string fallback =
      "{{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}friend{{/first_name}}";
  store(1,
        email_draft("News for " + fallback, "Hello " + fallback + "!",
                    "<p>Hello " + fallback + "!</p>"),
        *c);
  store(2, sms_draft("Hello " + fallback + "!"), *c);
  auto mail = claimed_email(1, 10, "");
  c->compose(mail, 1000);
  EXPECT_EQ(mail.email.subject, "News for friend");
  EXPECT_THAT(mail.email.text, HasSubstr("Hello friend!"));
  EXPECT_THAT(mail.email.html, HasSubstr("<p>Hello friend!</p>"));
  auto text = claimed_sms(2, 11, "");
  c->compose(text, 1000);
  EXPECT_EQ(text.sms.body, "Hello friend!\nReply STOP to opt out");
  auto named = claimed_sms(2, 12, "Ann");
  c->compose(named, 1000);
  EXPECT_EQ(named.sms.body, "Hello Ann!\nReply STOP to opt out");
}

// ---- point 7: a misspelt variable is refused, naming the known ones ----

TEST_F(BroadcastTemplates, AMisspeltVariableIsRefusedInEveryField) {
  auto c = composer(settings());
  struct Case {
    BroadcastDraft draft;
    const char* field;
  };
  const std::vector<Case> cases = {
      {email_draft("Hi {{firstname}}", "x"), "subject"},
      {email_draft("Hi", "Hello {{firstname}}!"), "text"},
      {email_draft("Hi", "x", "<p>{{#firstname}}x{{/firstname}}</p>"), "html"},
      {sms_draft("Hello {{^firstname}}friend{{/firstname}}"), "text"},
  };
  for (const auto& t : cases) {
    auto b = validate_draft(t.draft, *c, {});
    ASSERT_FALSE(b.ok()) << t.field;
    EXPECT_EQ(b.error().code, "unknown_variable");
    EXPECT_EQ(b.error().field, t.field);
    EXPECT_EQ(b.error().kind, ErrorCode::kInvalidInput);
    EXPECT_THAT(b.error().message, HasSubstr("{{firstname}}"));
    for (const auto& known : broadcast_variables())
      EXPECT_THAT(b.error().message, HasSubstr(known));
  }
}

// The list in the message is what a recipient's message really has.
TEST_F(BroadcastTemplates, TheKnownVariablesAreTheOnesEachRecipientGets) {
  auto c = composer(settings());
  std::string all;
  for (const auto& v : broadcast_variables()) all += "[{{" + v + "}}]";
  store(1, email_draft("s", all), *c);
  auto m = claimed_email(1, 7, "Ann");
  c->compose(m, 1000);
  EXPECT_THAT(m.email.text, HasSubstr("[Ann][Example Org][1 Main St, Springfield][" +
                                      svc_.unsubscribe_url(7) + "]"));
}

// ---- point 2: limits before the parser, one parse per broadcast, bounded cache ----

TEST_F(BroadcastTemplates, ATemplatePastTheLimitsNeverReachesTheParser) {
  auto c = composer(settings(4));
  // About 63 KB of nested sections: about 250 MB to parse before.
  const std::string attack =
      repeat("{{#first_name}}", 2100) + "x" + repeat("{{/first_name}}", 2100);
  struct Case {
    BroadcastDraft draft;
    const char* code;
    const char* field;
  };
  const std::vector<Case> cases = {
      {email_draft("Hi", attack), "template_too_deep", "text"},
      {email_draft("Hi", "x", attack), "template_too_deep", "html"},
      {sms_draft(attack), "template_too_deep", "text"},
      {email_draft("Hi", repeat("{{#org_name}}x{{/org_name}}", kMaxTemplateSections + 1)),
       "too_many_sections", "text"},
      {email_draft("Hi", std::string(kMaxTemplateBytes + 1, 'a')), "too_long", "text"},
  };
  for (const auto& t : cases) {
    counting_.reset();
    auto b = validate_draft(t.draft, *c, {});
    ASSERT_FALSE(b.ok()) << t.code;
    EXPECT_EQ(b.error().code, t.code);
    EXPECT_EQ(b.error().field, t.field);
    EXPECT_LT(counting_.longest.load(), 100u) << t.code << ": the parser saw it";
  }
  // The limits come from the settings.
  BroadcastSettings tight;
  tight.max_template_depth = 1;
  auto b = validate_draft(
      email_draft("Hi", "{{#org_name}}{{#first_name}}x{{/first_name}}{{/org_name}}"), *c, tight);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "template_too_deep");
  // The renderer keeps the same limits itself (a broadcast stored before them).
  EXPECT_THROW(renderer_.prepare_inline(attack, false), std::runtime_error);
  EXPECT_THAT(renderer_.inline_error(attack), HasSubstr("deep"));
}

TEST_F(BroadcastTemplates, EachSendingBroadcastIsParsedOnceForEveryThread) {
  auto c = composer(settings(4));
  store(1, email_draft("News, {{first_name}}", "Hello {{first_name}}", "<p>{{first_name}}</p>"),
        *c);
  store(2, sms_draft("Hi {{first_name}}"), *c);
  counting_.reset();
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const auto id = t * 1000 + i;
        const auto name = "N" + std::to_string(id);
        auto mail = claimed_email(1, id, name);
        c->compose(mail, 1000);
        auto text = claimed_sms(2, id, name);
        c->compose(text, 1000);
        if (mail.email.subject != "News, " + name ||
            text.sms.body != "Hi " + name + "\nReply STOP to opt out")
          ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  // Subject, text and HTML of the email, the text of the SMS: four parses
  // for 800 messages on 8 threads.
  EXPECT_EQ(counting_.parses.load(), 4);
  EXPECT_EQ(loads_.load(), 2);
}

TEST_F(BroadcastTemplates, TheCacheIsBoundedByCountAndBytes) {
  auto s = settings(4);
  s.cache_broadcasts = 3;
  auto c = composer(s);
  for (int id = 1; id <= 10; ++id)
    store(id, sms_draft("Hi {{first_name}} #" + std::to_string(id)), *c);
  for (int id = 1; id <= 10; ++id) {
    auto m = claimed_sms(id, id, "Ann");
    c->compose(m, 1000);
    EXPECT_EQ(m.sms.body, "Hi Ann #" + std::to_string(id) + "\nReply STOP to opt out");
    EXPECT_LE(c->cached_broadcasts(), 3u);
  }
  // Least recently used goes first: 8, 9 and 10 are kept; 1 is parsed again.
  counting_.reset();
  for (int id : {8, 9, 10}) {
    auto m = claimed_sms(id, 1, "A");
    c->compose(m, 1000);
  }
  EXPECT_EQ(counting_.parses.load(), 0);
  auto again = claimed_sms(1, 1, "A");
  c->compose(again, 1000);
  EXPECT_EQ(counting_.parses.load(), 1);

  // By bytes: three 50 KB texts are more than 12 MB parsed; only the newest
  // one stays.
  auto sb = settings(0);
  sb.cache_bytes = 12u << 20;
  auto big = composer(sb);
  for (int id = 20; id < 23; ++id) {
    store(id, email_draft("s", std::to_string(id) + std::string(50'000, 'a')), *big);
    auto m = claimed_email(id, 1, "A");
    big->compose(m, 1000);
    EXPECT_EQ(big->cached_broadcasts(), 1u);
    EXPECT_LE(big->cached_bytes(), 12u << 20);
  }
}

// ---- point 4: no text above SC_SMS_MAX_SEGMENTS ----

TEST_F(BroadcastTemplates, TheSegmentCapCountsTheLongestNameASubscriberMayHave) {
  auto c = composer(settings(2));
  BroadcastSettings bs;
  bs.sms_max_segments = 2;
  // Fits with a 20-character name (the old estimate), not with a 100-character one.
  const std::string text = "Hi {{first_name}}, " + std::string(200, 'a');
  auto b = validate_draft(sms_draft(text), *c, bs);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "too_many_segments");
  EXPECT_EQ(b.error().field, "text");
  EXPECT_EQ(c->sms_segments(text).segments, 3);
  const std::string name(kMaxPersonNameLength, 'x');
  ASSERT_TRUE(is_acceptable_person_name(name));
  EXPECT_EQ(
      count_sms_segments(with_opt_out_footer("Hi " + name + ", " + std::string(200, 'a'))).segments,
      3);
  // A fallback for no name counts too, when it is the longer.
  auto fallback = validate_draft(
      sms_draft("Hi {{first_name}}{{^first_name}}" + std::string(300, 'a') + "{{/first_name}}"), *c,
      bs);
  ASSERT_FALSE(fallback.ok());
  EXPECT_EQ(fallback.error().code, "too_many_segments");
  // Room for the longest name: accepted.
  EXPECT_TRUE(
      validate_draft(sms_draft("Hi {{first_name}}, " + std::string(170, 'a')), *c, bs).ok());
}

TEST_F(BroadcastTemplates, NoRenderedTextGoesOutAboveTheCap) {
  const int cap = 2;
  auto c = composer(settings(cap));
  BroadcastSettings bs;
  bs.sms_max_segments = cap;
  const std::string fallback =
      "{{#first_name}}{{first_name}}{{/first_name}}"
      "{{^first_name}}friend{{/first_name}}";
  // Texts create accepts, right up to the cap.
  std::vector<std::string> texts;
  for (int n : {0, 40, 100, 150, 160, 170, 180}) {
    for (const std::string& t :
         {"Hi " + fallback + ", " + std::string(static_cast<std::size_t>(n), 'a'),
          "{{first_name}} {{first_name}} " + std::string(static_cast<std::size_t>(n), 'b'),
          "Hi {{first_name}} \xE2\x9C\x93 " + std::string(static_cast<std::size_t>(n / 3), 'c')}) {
      if (validate_draft(sms_draft(t), *c, bs).ok()) texts.push_back(t);
    }
  }
  ASSERT_GE(texts.size(), 8u);
  // Names a subscriber may hold: none, the longest in GSM-7, a Greek one
  // (UCS-2 for the whole text), and 100 characters beyond the BMP (two
  // UTF-16 units each).
  const std::vector<std::string> names = {
      "",
      std::string(kMaxPersonNameLength, 'x'),
      "\xCE\x91\xCE\xBB\xCE\xAD\xCE\xBE\xCE\xB1\xCE\xBD\xCE\xB4\xCF\x81\xCE\xBF\xCF\x82",
      repeat("\xF0\xA0\x80\x80", static_cast<int>(kMaxPersonNameLength)),
  };
  for (const auto& n : names) ASSERT_TRUE(n.empty() || is_acceptable_person_name(n)) << n;
  int id = 0, dropped = 0;
  for (const auto& t : texts) {
    store(++id, sms_draft(t), *c, bs);
    for (const auto& n : names) {
      auto m = claimed_sms(id, id, n);
      c->compose(m, 1000);
      const auto seg = count_sms_segments(m.sms.body);
      EXPECT_LE(seg.segments, cap) << t << " / " << n << ": " << m.sms.body;
      if (!n.empty() && m.sms.body.find(n) == std::string::npos) {
        ++dropped;
        // Without the name, the fallback shows where there is one.
        if (t.find("friend") != std::string::npos) {
          EXPECT_THAT(m.sms.body, HasSubstr("friend"));
        }
      }
    }
  }
  EXPECT_GT(dropped, 0) << "no name was long enough to need leaving out";
  // A Greek name on a short text is kept.
  store(++id, sms_draft("Hi {{first_name}}!"), *c, bs);
  auto greek = claimed_sms(id, 1, names[2]);
  c->compose(greek, 1000);
  EXPECT_EQ(greek.sms.body, "Hi " + names[2] + "!\nReply STOP to opt out");
}

TEST_F(BroadcastTemplates, ATextOverTheCapEvenWithoutANameIsNotSent) {
  // Accepted under a cap of 4; the deployment lowered it to 1 since.
  auto c = composer(settings(1));
  BroadcastSettings bs;
  bs.sms_max_segments = 4;
  store(1, sms_draft("Hi {{first_name}}, " + std::string(300, 'a')), *c, bs);
  auto m = claimed_sms(1, 1, "Ann");
  EXPECT_THROW(c->compose(m, 1000), std::runtime_error);
}

}  // namespace
}  // namespace sc
