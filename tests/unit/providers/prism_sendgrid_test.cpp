// Our SendGrid requests checked against SendGrid's own OpenAPI spec by Prism
// (tests/prism/run_prism_tests.sh). Skipped unless SC_PRISM_URL is set; with
// SC_REQUIRE_PRISM=1 a missing Prism fails instead.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>

#include "sc/providers/sendgrid_email_sender.h"

namespace sc::providers {
namespace {

std::string prism_url() {
  const char* url = std::getenv("SC_PRISM_URL");
  return url != nullptr ? url : "";
}

bool prism_required() {
  const char* req = std::getenv("SC_REQUIRE_PRISM");
  return req != nullptr && std::string(req) == "1";
}

#define SC_NEED_PRISM()                                                               \
  do {                                                                                \
    if (prism_url().empty()) {                                                        \
      if (prism_required()) FAIL() << "SC_REQUIRE_PRISM=1 but SC_PRISM_URL is unset"; \
      GTEST_SKIP() << "SC_PRISM_URL not set (run tests/prism/run_prism_tests.sh)";    \
    }                                                                                 \
  } while (0)

std::vector<OutboundEmail> messages() {
  OutboundEmail ascii;
  ascii.outbox_id = 1;
  ascii.message_id = "p1@example.com";
  ascii.from = {"news@example.com", "Example News"};
  ascii.to = {"alice@example.org", "Alice"};
  ascii.reply_to = "support@example.com";
  ascii.subject = "Weekly digest";
  ascii.text = "Hello Alice";
  ascii.html = "<p>Hello Alice</p>";
  ascii.list_unsubscribe_url = "https://example.com/u/opaque1";
  ascii.list_unsubscribe_mailto = "mailto:unsubscribe@example.com";
  ascii.list_id = "Example News <news.example.com>";

  OutboundEmail unicode = ascii;
  unicode.outbox_id = 2;
  unicode.from.display_name = "Nachrichten aus Köln";
  unicode.to = {"zoe@example.org", "Zoë 🚀"};
  unicode.subject = "Grüße — 日本語 🎉";
  unicode.text = "Grüße\n.dot line\n";
  unicode.html = "<p>Grüße</p>";

  OutboundEmail text_only = ascii;
  text_only.outbox_id = 3;
  text_only.to.display_name.clear();
  text_only.reply_to.clear();
  text_only.html.clear();
  text_only.list_unsubscribe_mailto.clear();
  text_only.list_id.clear();
  return {ascii, unicode, text_only};
}

TEST(PrismSendgrid, SenderGets202ForEveryMessageShape) {
  SC_NEED_PRISM();
  SendgridConfig cfg;
  cfg.api_key = "SG.prism-test";
  cfg.api_base = prism_url();
  SendgridEmailSender sender(cfg);
  for (const auto& m : messages()) {
    SendResult r = sender.send(m);
    EXPECT_EQ(r.status, SendStatus::kSent)
        << m.outbox_id << ": " << r.provider_code << " " << r.provider_message;
    EXPECT_EQ(r.provider_code, "202") << m.outbox_id;
  }
  auto batch = sender.send_batch(messages());
  for (const auto& r : batch) EXPECT_EQ(r.provider_code, "202") << r.provider_message;
}

TEST(PrismSendgrid, RequestBodiesHaveNoSpecViolations) {
  SC_NEED_PRISM();
  httplib::Client cli(prism_url());
  httplib::Headers auth = {{"Authorization", "Bearer SG.prism-test"}};
  for (const auto& m : messages()) {
    auto res = cli.Post("/v3/mail/send", auth, sendgrid_request_body(m), "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 202) << m.outbox_id << ": " << res->body;
    EXPECT_FALSE(res->has_header("sl-violations"))
        << m.outbox_id << ": " << res->get_header_value("sl-violations");
  }
  // The check can fail: a body without `from` is flagged.
  auto bad =
      cli.Post("/v3/mail/send", auth,
               R"({"personalizations":[{"to":[{"email":"a@example.org"}]}]})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->status, 202);
  EXPECT_TRUE(bad->has_header("sl-violations"));
}

}  // namespace
}  // namespace sc::providers
