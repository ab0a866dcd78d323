#include "sc/render/renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "sc/assets/embedded.h"
#include "sc/core/consent_service.h"
#include "support/temp_dir.h"
#include "support/unit_fakes.h"

namespace sc {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const Vars kCommon{{"org_name", "Example Org"}, {"postal_address", "1 Main St, Springfield"}};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Vars every_var() {
  return {{"title", "T"},
          {"heading", "H"},
          {"message", "M"},
          {"action", "/confirm/c.1.2.ab"},
          {"error", "E"},
          {"email", "a@example.com"},
          {"first_name", "Ann"},
          {"postal_code", "12345"},
          {"sms_consent_text", "SMS consent"},
          {"email_consent_text", "Email consent"},
          {"confirm_url", "https://news.example.org/confirm/c.1.2.ab"},
          {"expires_days", "7"},
          {"unsubscribe_url", "https://news.example.org/unsubscribe/u.1.0.ab"},
          {"public_url", "https://news.example.org"},
          {"topics", "events, jobs"},
          {"subject", "S"},
          {"body_text", "B"}};
}

void expect_fully_rendered(const std::string& out, const std::string& what) {
  EXPECT_FALSE(out.empty()) << what;
  EXPECT_THAT(out, Not(HasSubstr("{{"))) << what;
  EXPECT_THAT(out, Not(HasSubstr("}}"))) << what;
}

TEST(Renderer, EveryTemplateRenders) {
  Renderer r(kCommon);
  int pages = 0, emails = 0, texts = 0, consents = 0;
  for (const auto& [path, bytes] : embedded::files()) {
    if (path.rfind("templates/", 0) != 0) continue;
    const auto rel = path.substr(10);
    SCOPED_TRACE(rel);
    if (rel.rfind("pages/", 0) == 0 && ends_with(rel, ".title.mustache")) {
      // Every page has its title (checked with the page itself below).
      auto page =
          rel.substr(0, rel.size() - std::string(".title.mustache").size()) + ".html.mustache";
      EXPECT_TRUE(r.has(page));
    } else if (rel.rfind("pages/", 0) == 0) {
      EXPECT_TRUE(r.has(rel.substr(0, rel.size() - std::string(".html.mustache").size()) +
                        ".title.mustache"));
      auto name = rel.substr(6, rel.size() - 6 - std::string(".html.mustache").size());
      auto out = r.page(name, every_var());
      expect_fully_rendered(out, rel);
      EXPECT_THAT(out, HasSubstr("<!doctype html>"));  // head partial
      EXPECT_THAT(out, HasSubstr("</html>"));          // foot partial
      ++pages;
    } else if (rel.rfind("email/", 0) == 0 && ends_with(rel, ".subject.mustache")) {
      auto name = rel.substr(6, rel.size() - 6 - std::string(".subject.mustache").size());
      auto m = r.email(name, every_var());
      expect_fully_rendered(m.subject, rel);
      expect_fully_rendered(m.text, rel);
      expect_fully_rendered(m.html, rel);
      ++emails;
    } else if (rel.rfind("sms/", 0) == 0) {
      auto name = rel.substr(4, rel.size() - 4 - std::string(".txt.mustache").size());
      expect_fully_rendered(r.sms(name, every_var()), rel);
      ++texts;
    } else if (rel.rfind("consent/", 0) == 0) {
      auto out = r.text(rel, {});
      expect_fully_rendered(out, rel);
      EXPECT_THAT(out, HasSubstr("Example Org"));
      ++consents;
    }
  }
  EXPECT_GE(pages, 7);
  EXPECT_GE(emails, 3);
  EXPECT_GE(texts, 1);
  EXPECT_EQ(consents, 2);
}

TEST(Renderer, PageTitlesComeFromTheirTemplates) {
  Renderer r(kCommon);
  EXPECT_THAT(r.page("signup", {}), HasSubstr("<title>Sign up · Example Org</title>"));
  EXPECT_THAT(r.page("thanks", {}), HasSubstr("<title>Thank you · Example Org</title>"));
  EXPECT_THAT(r.page("confirmed", {}), HasSubstr("<title>Confirm · Example Org</title>"));
  EXPECT_THAT(r.page("unsubscribe", {}), HasSubstr("<title>Unsubscribe · Example Org</title>"));
  EXPECT_THAT(r.page("error", {{"heading", "H"}}), HasSubstr("<title>Error · Example Org</title>"));
  // A title given by the caller wins.
  EXPECT_THAT(r.page("error", {{"title", "Oops"}}), HasSubstr("<title>Oops · Example Org</title>"));
}

TEST(Renderer, TwimlReplyIsTheTextEscapedOrNoMessage) {
  Renderer r(kCommon);
  EXPECT_EQ(r.twiml_reply("", {}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");
  EXPECT_EQ(r.twiml_reply("sms_help", {{"public_url", "https://x.example/?a=1&b='2'"}}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Example Org text "
            "updates: help at "
            "https://x.example/?a=1&amp;b=&apos;2&apos;. Msg frequency varies. Msg &amp; data "
            "rates may apply. "
            "Reply STOP to cancel.</Message></Response>");
}

TEST(Renderer, HtmlTemplatesEscapeValues) {
  Renderer r(kCommon);
  auto out = r.page(
      "error",
      {{"title", "x"}, {"heading", "<script>alert(1)</script>"}, {"message", "a & \"b\" 'c'"}});
  EXPECT_THAT(out, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(out, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(out, HasSubstr("a &amp; &quot;b&quot; &apos;c&apos;"));
  // An attribute value cannot be broken out of.
  auto signup = r.page("signup", {{"title", "x"}, {"email", "\"><script>x</script>"}});
  EXPECT_THAT(signup, Not(HasSubstr("\"><script>")));
  EXPECT_THAT(signup, HasSubstr("value=\"&quot;&gt;&lt;script&gt;"));
}

TEST(Renderer, EmailEscapesHtmlPartNotTextPart) {
  Renderer r(Vars{{"org_name", "Smith & Sons <Ltd>"}, {"postal_address", ""}});
  auto m = r.email("welcome", {{"first_name", "<script>x</script>"},
                               {"unsubscribe_url", "https://e.example/u?a=1&b=2"}});
  EXPECT_THAT(m.html, Not(HasSubstr("<script>x")));
  EXPECT_THAT(m.html, HasSubstr("&lt;script&gt;x&lt;/script&gt;"));
  EXPECT_THAT(m.text, HasSubstr("<script>x</script>"));
  // Partials follow the escaping of the template that includes them.
  EXPECT_THAT(m.html, HasSubstr("Smith &amp; Sons &lt;Ltd&gt;"));
  EXPECT_THAT(m.text, HasSubstr("Smith & Sons <Ltd>"));
  EXPECT_THAT(m.text, Not(HasSubstr("&amp;")));
  EXPECT_THAT(m.text, HasSubstr("Unsubscribe: https://e.example/u?a=1&b=2"));
  EXPECT_THAT(m.html, HasSubstr("href=\"https://e.example/u?a=1&amp;b=2\""));
  EXPECT_EQ(m.subject, "Welcome to Smith & Sons <Ltd>");
  EXPECT_THAT(r.sms("sms_confirm", {}), HasSubstr("Smith & Sons <Ltd>"));
}

TEST(Renderer, FooterHasOrgPostalAddressAndUnsubscribeLink) {
  Renderer r(kCommon);
  const std::string url = "https://news.example.org/unsubscribe/u.9.0.ff";
  for (const char* name : {"confirm", "confirm_topics", "welcome", "test"}) {
    SCOPED_TRACE(name);
    auto m = r.email(
        name,
        {{"unsubscribe_url", url}, {"confirm_url", "https://x/confirm/c"}, {"expires_days", "7"}});
    EXPECT_THAT(m.text, AllOf(HasSubstr("Example Org, 1 Main St, Springfield"),
                              HasSubstr("Unsubscribe: " + url)));
    EXPECT_THAT(m.html, AllOf(HasSubstr("Example Org, 1 Main St, Springfield"),
                              HasSubstr("href=\"" + url + "\"")));
  }
  // Without a postal address there is no dangling separator.
  Renderer bare(Vars{{"org_name", "Example Org"}, {"postal_address", ""}});
  auto m = bare.email("welcome", {{"unsubscribe_url", url}});
  EXPECT_THAT(m.text, Not(HasSubstr("Example Org,")));
}

// Issue 8.3: a confirmed person asked about topics a form added is told
// which, and that nothing changes if they ignore the message.
TEST(Renderer, TopicConfirmationNamesTheTopicsAndSaysIgnoringChangesNothing) {
  Renderer r(kCommon);
  auto m = r.email("confirm_topics",
                   {{"topics", "events, jobs & more"},
                    {"confirm_url", "https://news.example.org/confirm/c.1.2.3.ab"},
                    {"expires_days", "7"},
                    {"unsubscribe_url", "https://news.example.org/unsubscribe/u.1.0.ab"}});
  EXPECT_THAT(m.subject, HasSubstr("Example Org"));
  EXPECT_THAT(m.text, HasSubstr("events, jobs & more"));
  EXPECT_THAT(m.html, HasSubstr("events, jobs &amp; more"));
  for (const auto* body : {&m.text, &m.html}) {
    EXPECT_THAT(*body, HasSubstr("https://news.example.org/confirm/c.1.2.3.ab"));
    EXPECT_THAT(*body, HasSubstr("nothing changes"));
    EXPECT_THAT(*body, HasSubstr("7 days"));
  }
  EXPECT_THAT(m.text, Not(HasSubstr("confirm your subscription")));
}

TEST(Renderer, TopicConfirmationTextNamesTheTopicsAndSaysIgnoringChangesNothing) {
  Renderer r(kCommon);
  auto s = r.sms("sms_confirm_topics", {{"topics", "events, jobs"}});
  EXPECT_THAT(s, AllOf(HasSubstr("Example Org"), HasSubstr("events, jobs"), HasSubstr("YES"),
                       HasSubstr("nothing changes"), HasSubstr("STOP")));
}

TEST(Renderer, FirstNameGreetingOnlyWhenGiven) {
  Renderer r(kCommon);
  EXPECT_THAT(r.email("welcome", {{"first_name", "Zo\xc3\xab"}}).text,
              HasSubstr("Hello Zo\xc3\xab,"));
  EXPECT_THAT(r.email("welcome", {{"first_name", ""}}).text, HasSubstr("Hello,"));
  EXPECT_THAT(r.email("welcome", {}).text, HasSubstr("Hello,"));
}

TEST(Renderer, EmailSubjectNeverHoldsALineBreak) {
  Renderer r(Vars{{"org_name", "Evil\r\nBcc: victim@example.com\n"}, {"postal_address", ""}});
  auto m = r.email("welcome", {});
  EXPECT_EQ(m.subject.find('\r'), std::string::npos);
  EXPECT_EQ(m.subject.find('\n'), std::string::npos);
  EXPECT_THAT(m.subject, HasSubstr("Welcome to EvilBcc: victim@example.com"));
}

TEST(Renderer, SmsConfirmationNamesTheOrgAndTheKeywords) {
  Renderer r(kCommon);
  auto s = r.sms("sms_confirm", {});
  EXPECT_THAT(
      s, AllOf(HasSubstr("Example Org"), HasSubstr("YES"), HasSubstr("HELP"), HasSubstr("STOP")));
  EXPECT_NE(s.back(), '\n');
}

TEST(Renderer, KeywordRepliesSayWhatCarriersAskFor) {
  Renderer r(kCommon);
  const Vars v{{"public_url", "https://news.example.org"}};
  // HELP: who, where to get help, frequency, rates, how to stop (CTIA).
  EXPECT_THAT(r.sms("sms_help", v),
              AllOf(HasSubstr("Example Org"), HasSubstr("https://news.example.org"),
                    HasSubstr("frequency"), HasSubstr("rates may apply"), HasSubstr("STOP")));
  // STOP: one confirmation, nothing more will come, no marketing.
  EXPECT_THAT(r.sms("sms_stopped", v),
              AllOf(HasSubstr("Example Org"), HasSubstr("unsubscribed"), HasSubstr("no more")));
  // YES: the opt-in confirmation with HELP and STOP.
  EXPECT_THAT(r.sms("sms_subscribed", v),
              AllOf(HasSubstr("Example Org"), HasSubstr("subscribed"), HasSubstr("HELP"),
                    HasSubstr("STOP"), HasSubstr("rates may apply")));
  EXPECT_THAT(r.sms("sms_unknown", v), HasSubstr("https://news.example.org"));
  for (const char* name : {"sms_help", "sms_stopped", "sms_subscribed", "sms_unknown"}) {
    EXPECT_LE(r.sms(name, v).size(), 160u) << name;  // one segment with a short org name
  }
}

TEST(Renderer, MissingTemplatesThrow) {
  Renderer r(kCommon);
  EXPECT_THROW(r.page("no-such-page", {}), std::out_of_range);
  EXPECT_THROW(r.email("no-such-email", {}), std::out_of_range);
  EXPECT_THROW(r.sms("no-such-text", {}), std::out_of_range);
  EXPECT_THROW(r.text("consent/none.txt.mustache", {}), std::out_of_range);
  EXPECT_FALSE(r.has("pages/no-such-page.html.mustache"));
  EXPECT_TRUE(r.has("pages/signup.html.mustache"));
}

TEST(Renderer, ADirectoryOverridesCompiledInTemplatesPerInstance) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "email");
  std::ofstream(dir.str("email/welcome.subject.mustache")) << "Custom hello from {{org_name}}";
  Renderer custom(kCommon, dir.path().string());
  Renderer stock(kCommon);
  // Rendered in turn on one thread: each instance keeps its own templates.
  EXPECT_EQ(custom.email("welcome", {}).subject, "Custom hello from Example Org");
  EXPECT_EQ(stock.email("welcome", {}).subject, "Welcome to Example Org");
  EXPECT_EQ(custom.email("welcome", {}).subject, "Custom hello from Example Org");
  // Files not overridden still come from the binary.
  EXPECT_THAT(custom.email("welcome", {}).text, HasSubstr("Thank you for confirming"));
}

TEST(Renderer, AnInvalidTemplateIsAnErrorNotACrash) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "email");
  std::ofstream(dir.str("email/welcome.subject.mustache")) << "Broken {{#section}} never closed";
  Renderer r(kCommon, dir.path().string());
  EXPECT_THROW(r.email("welcome", {}), std::runtime_error);
  EXPECT_THROW(r.email("welcome", {}),
               std::runtime_error);  // and again, not a cached half-template
}

// The whole path an email takes: ConsentService queues it, the dispatcher
// renders it with the real templates. Every one has the footer and the
// List-Unsubscribe URL, and the two name the same link.
TEST(RenderedServiceMail, EveryQueuedEmailHasAFooterAndListUnsubscribe) {
  unit::FakeSigner signer("k");
  unit::CountingIds ids;
  Renderer renderer(kCommon);
  ServiceConfig cfg;
  cfg.public_url = "https://news.example.org";
  cfg.org_name = "Example Org";
  cfg.postal_address = "1 Main St, Springfield";
  cfg.from = Mailbox{"news@mail.example.org", "Example Org"};
  ConsentService svc(cfg, signer, renderer, nullptr, ids);
  unit::MemoryConsentStore store;
  SignupRequest req;
  req.email = "reader@example.com";
  req.first_name = "O'Brien";
  auto v = svc.validate(req);
  ASSERT_TRUE(v.ok());
  svc.sign_up(store.tx(), v.value(), {"192.0.2.1", "UA"}, 1000);
  ASSERT_EQ(store.emails.size(), 1u);

  auto confirm = store.emails[0].email;
  render_queued(renderer, confirm);
  auto at = confirm.text.find("/confirm/");
  ASSERT_NE(at, std::string::npos) << confirm.text;
  auto token = confirm.text.substr(at + 9, confirm.text.find_first_of(" \n", at) - at - 9);
  ASSERT_TRUE(svc.confirm(store.tx(), token, {"192.0.2.1", "UA"}, 1010).ok());
  ASSERT_EQ(store.emails.size(), 2u);

  for (auto q : store.emails) {
    SCOPED_TRACE(q.entry.purpose);
    auto m = q.email;
    render_queued(renderer, m);
    ASSERT_FALSE(m.list_unsubscribe_url.empty());
    EXPECT_THAT(m.list_unsubscribe_url,
                ::testing::StartsWith("https://news.example.org/unsubscribe/u."));
    EXPECT_THAT(m.text, HasSubstr("Unsubscribe: " + m.list_unsubscribe_url));
    EXPECT_THAT(m.html, HasSubstr("href=\"" + m.list_unsubscribe_url + "\""));
    EXPECT_THAT(m.text, HasSubstr("Example Org, 1 Main St, Springfield"));
    EXPECT_THAT(m.html, HasSubstr("Example Org, 1 Main St, Springfield"));
    EXPECT_THAT(m.text, HasSubstr("Hello O'Brien,"));
    EXPECT_THAT(m.html, HasSubstr("Hello O&apos;Brien,"));
    EXPECT_FALSE(m.subject.empty());
    EXPECT_THAT(m.message_id, ::testing::EndsWith("@mail.example.org"));
  }
  EXPECT_THAT(confirm.subject, HasSubstr("confirm"));
}

}  // namespace
}  // namespace sc
