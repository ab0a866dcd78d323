#include "sc/providers/sendgrid_email_sender.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "fakes/fake_sendgrid.h"
#include "provider_test_util.h"
#include "sc/providers/api_base.h"
#include "support/temp_dir.h"

namespace sc::providers {
namespace {

using nlohmann::json;
using sc::fakes::FakeResponse;
using sc::fakes::FakeSendgrid;

constexpr std::int64_t kNow = 1'800'000'000;

OutboundEmail sample(std::int64_t id = 1) {
  OutboundEmail m;
  m.outbox_id = id;
  m.message_id = "m" + std::to_string(id) + "@example.com";
  m.date_unix = kNow;
  m.from = {"news@example.com", "Example News"};
  m.to = {"alice" + std::to_string(id) + "@example.org", "Alice"};
  m.subject = "Weekly digest";
  m.text = "Hello";
  m.html = "<p>Hello</p>";
  m.list_unsubscribe_url = "https://example.com/u/opaque" + std::to_string(id);
  return m;
}

SendgridConfig config_for(const FakeSendgrid& fake) {
  SendgridConfig c;
  c.api_key = fake.api_key();
  c.api_base = fake.base_url();
  c.now_unix = [] { return kNow; };
  c.timeout_ms = 5000;
  return c;
}

std::string sendgrid_errors(const std::string& message, const std::string& field = "") {
  json e = {{"message", message}, {"field", field.empty() ? json(nullptr) : json(field)}};
  return json{{"errors", json::array({e})}}.dump();
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(SendgridBody, MatchesTheDocumentedShape) {
  OutboundEmail m = sample(5);
  m.reply_to = "support@example.com";
  m.list_unsubscribe_mailto = "mailto:unsub@example.com";
  m.list_id = "News <news.example.com>";
  m.extra_headers = {{"X-Campaign", "c42"}, {"Content-Type", "text/evil"}};
  json j = json::parse(sendgrid_request_body(m));
  EXPECT_EQ(j["personalizations"],
            json::parse(R"([{"to":[{"email":"alice5@example.org","name":"Alice"}],
                               "custom_args":{"sc_outbox_id":"5"}}])"));
  EXPECT_EQ(j["from"], json::parse(R"({"email":"news@example.com","name":"Example News"})"));
  EXPECT_EQ(j["reply_to"], json::parse(R"({"email":"support@example.com"})"));
  EXPECT_EQ(j["subject"], "Weekly digest");
  EXPECT_EQ(
      j["content"],
      json::parse(
          R"([{"type":"text/plain","value":"Hello"},{"type":"text/html","value":"<p>Hello</p>"}])"));
  EXPECT_EQ(
      j["headers"],
      json::parse(
          R"({"List-Unsubscribe":"<https://example.com/u/opaque5>, <mailto:unsub@example.com>",
      "List-Unsubscribe-Post":"List-Unsubscribe=One-Click","List-Id":"News <news.example.com>","X-Campaign":"c42"})"));
  EXPECT_FALSE(j.contains("custom_args"));
  // We do not track readers: no open pixel, no rewritten links.
  EXPECT_EQ(j["tracking_settings"],
            json::parse(R"({"click_tracking":{"enable":false,"enable_text":false},
                            "open_tracking":{"enable":false}})"));
}

TEST(SendgridBody, TextOnlyAndBrokenUtf8NeverThrow) {
  OutboundEmail m = sample();
  m.html.clear();
  m.text = "caf\xc3 broken";
  m.subject = "Hi\r\nBcc: x@evil.test";
  json j = json::parse(sendgrid_request_body(m));
  ASSERT_EQ(j["content"].size(), 1u);
  EXPECT_EQ(j["content"][0]["type"], "text/plain");
  EXPECT_EQ(j["subject"].get<std::string>().find('\n'), std::string::npos);
}

TEST(SendgridBody, IsValidJsonForAnyContentAndHeadersAreUnique) {
  OutboundEmail m = sample(7);
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  m.text = "quote \" backslash \\ tab \t " + every_byte;
  m.html = "<p title=\"x\">\xe2\x80\xa8 \xf0\x9f\x93\xa3</p>";
  m.to.display_name = "O\"Brien \\ \x01";
  m.extra_headers = {
      {"X-Campaign", "one"}, {"X-Campaign", "two"}, {"List-Unsubscribe", "<https://evil.test>"}};
  const auto body = sendgrid_request_body(m);
  json j = json::parse(body);  // throws if the body is not JSON
  EXPECT_EQ(j["content"][1]["value"], m.html);
  EXPECT_EQ(
      j["content"][0]["value"].get<std::string>().rfind("quote \" backslash \\ tab \t \x01", 0),
      0u);
  EXPECT_EQ(j["personalizations"][0]["to"][0]["name"].get<std::string>().find('\x01'),
            std::string::npos);
  EXPECT_EQ(j["headers"]["X-Campaign"], "two");
  // Our one-click header wins over an extra header of the same name.
  EXPECT_EQ(j["headers"]["List-Unsubscribe"], "<https://example.com/u/opaque7>");
  // No key appears twice (a parser would silently keep only one of them).
  EXPECT_EQ(body.find("\"X-Campaign\""), body.rfind("\"X-Campaign\""));
  EXPECT_EQ(body.find("\"List-Unsubscribe\""), body.rfind("\"List-Unsubscribe\""));
}

TEST(SendgridBase, OnlySchemeHostAndPort) {
  EXPECT_EQ(normalize_api_base("https://api.sendgrid.com/").value(), "https://api.sendgrid.com");
  EXPECT_EQ(normalize_api_base("http://127.0.0.1:4010").value(), "http://127.0.0.1:4010");
  for (const char* bad :
       {"", "api.sendgrid.com", "ftp://x", "https://", "https://host/v3", "https://u:p@host",
        "https://host:0", "https://host:abc", "https://host?x=1", "https://ho st"}) {
    auto r = normalize_api_base(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "invalid_api_base");
    }
  }
}

TEST(SendgridSender, SendsOneMessageTheWaySendgridDocumentsIt) {
  FakeSendgrid fake;
  SendgridEmailSender sender(config_for(fake));
  OutboundEmail m = sample(9);
  m.subject = "Grüße aus Köln 🎉";
  m.to.display_name = "Zoë";
  SendResult r = sender.send(m);
  EXPECT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  EXPECT_EQ(r.provider_code, "202");
  EXPECT_EQ(r.provider_message_id, "fake-1");
  EXPECT_TRUE(fake.violations().empty()) << fake.violations().front();
  auto bodies = fake.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(bodies[0]["subject"], m.subject);
  EXPECT_EQ(bodies[0]["personalizations"][0]["custom_args"]["sc_outbox_id"], "9");
  EXPECT_EQ(bodies[0]["tracking_settings"]["open_tracking"]["enable"], false);
  EXPECT_EQ(bodies[0]["tracking_settings"]["click_tracking"]["enable"], false);
}

struct FaultCase {
  const char* name;
  FakeResponse response;
  SendStatus status;
  std::string code;
  std::string text;  // must appear in provider_message
  std::optional<std::chrono::seconds> retry_after;
};

std::vector<FaultCase> fault_cases() {
  return {
      {"429 with X-RateLimit-Reset",
       {429,
        sendgrid_errors("too many requests"),
        {{"X-RateLimit-Reset", std::to_string(kNow + 30)}},
        0},
       SendStatus::kRetryable,
       "429",
       "too many requests",
       std::chrono::seconds(30)},
      {"429 with Retry-After",
       {429, sendgrid_errors("too many requests"), {{"Retry-After", "7"}}, 0},
       SendStatus::kRetryable,
       "429",
       "too many requests",
       std::chrono::seconds(7)},
      {"500",
       {500, sendgrid_errors("internal error"), {}, 0},
       SendStatus::kRetryable,
       "500",
       "internal error",
       std::nullopt},
      {"503",
       {503, "Service Unavailable", {}, 0},
       SendStatus::kRetryable,
       "503",
       "Service Unavailable",
       std::nullopt},
      {"400 with provider errors",
       {400,
        json{{"errors",
              json::array(
                  {{{"message", "The from address does not match a verified Sender Identity."},
                    {"field", "from"}},
                   {{"message", "Invalid type."}, {"field", nullptr}}})}}
            .dump(),
        {},
        0},
       SendStatus::kPermanent,
       "400",
       "The from address does not match a verified Sender Identity. (from); Invalid type.",
       std::nullopt},
      {"403",
       {403, sendgrid_errors("access forbidden"), {}, 0},
       SendStatus::kPermanent,
       "403",
       "access forbidden",
       std::nullopt},
  };
}

TEST(SendgridSender, FaultTableForSingleSends) {
  FakeSendgrid fake;
  SendgridEmailSender sender(config_for(fake));
  auto cases = fault_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    fake.script(static_cast<std::int64_t>(100 + i), {cases[i].response});
    SendResult r = sender.send(sample(static_cast<std::int64_t>(100 + i)));
    EXPECT_EQ(r.status, cases[i].status) << cases[i].name;
    EXPECT_EQ(r.provider_code, cases[i].code) << cases[i].name;
    EXPECT_NE(r.provider_message.find(cases[i].text), std::string::npos)
        << cases[i].name << ": " << r.provider_message;
    EXPECT_EQ(r.retry_after, cases[i].retry_after) << cases[i].name;
    EXPECT_EQ(r.auth_refused, cases[i].code == "403")
        << cases[i].name;  // 403: the key lacks mail.send
  }
  EXPECT_TRUE(fake.violations().empty());
}

TEST(SendgridSender, WrongKeyIs401PermanentWithTheProvidersText) {
  FakeSendgrid fake;
  SendgridConfig c = config_for(fake);
  c.api_key = "SG.wrong";
  SendgridEmailSender sender(c);
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "401");
  EXPECT_TRUE(r.auth_refused);
  EXPECT_NE(r.provider_message.find("authorization grant is invalid"), std::string::npos)
      << r.provider_message;
}

TEST(SendgridSender, TimeoutIsRetryable) {
  FakeSendgrid fake;
  fake.script(1, {{202, "", {}, 3000}});
  SendgridConfig c = config_for(fake);
  c.timeout_ms = 300;
  SendgridEmailSender sender(c);
  auto t0 = std::chrono::steady_clock::now();
  SendResult r = sender.send(sample(1));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:28") << r.provider_message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(SendgridSender, ConnectionRefusedIsRetryable) {
  SendgridConfig c;
  c.api_key = "SG.x";
  c.api_base = "http://127.0.0.1:" + std::to_string(closed_port());
  SendgridEmailSender sender(c);
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:7") << r.provider_message;
  auto batch = sender.send_batch(std::vector<OutboundEmail>{sample(1), sample(2)});
  ASSERT_EQ(batch.size(), 2u);
  for (const auto& b : batch) EXPECT_EQ(b.provider_code, "curl:7");
}

TEST(SendgridSender, BatchMixingOutcomesKeepsOrderAndLosesNothing) {
  FakeSendgrid fake;
  SendgridConfig c = config_for(fake);
  c.max_in_flight = 8;
  c.timeout_ms = 1000;
  SendgridEmailSender sender(c);
  auto cases = fault_cases();
  std::vector<OutboundEmail> batch;
  std::map<std::int64_t, const FaultCase*> expected;
  FaultCase timeout{"timeout", {202, "", {}, 4000}, SendStatus::kRetryable, "curl:28",
                    "",        std::nullopt};
  for (std::int64_t id = 1; id <= 60; ++id) {
    batch.push_back(sample(id));
    if (id % 7 == 0) {
      const FaultCase& fc = cases[static_cast<std::size_t>(id / 7) % cases.size()];
      fake.script(id, {fc.response});
      expected[id] = &fc;
    }
  }
  fake.script(33, {timeout.response});
  expected[33] = &timeout;

  auto results = sender.send_batch(batch);
  ASSERT_EQ(results.size(), batch.size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < results.size(); ++i) {
    std::int64_t id = batch[i].outbox_id;
    auto it = expected.find(id);
    if (it == expected.end()) {
      EXPECT_EQ(results[i].status, SendStatus::kSent) << id << " " << results[i].provider_message;
      EXPECT_TRUE(ids.insert(results[i].provider_message_id).second) << "duplicate id for " << id;
    } else {
      EXPECT_EQ(results[i].status, it->second->status) << id << " " << it->second->name;
      EXPECT_EQ(results[i].provider_code, it->second->code) << id;
      EXPECT_EQ(results[i].retry_after, it->second->retry_after) << id;
    }
  }
  auto counts = fake.requests_per_outbox();
  EXPECT_EQ(counts.size(), batch.size());
  for (const auto& m : batch) EXPECT_EQ(counts[std::to_string(m.outbox_id)], 1) << m.outbox_id;
  EXPECT_TRUE(fake.violations().empty());

  // The sender is reusable after a batch with failures.
  auto again = sender.send_batch(std::vector<OutboundEmail>{sample(1000), sample(1001)});
  EXPECT_EQ(again[0].status, SendStatus::kSent);
  EXPECT_EQ(again[1].status, SendStatus::kSent);
}

TEST(SendgridSender, LargeBatchAllDeliveredOnce) {
  FakeSendgrid fake;
  SendgridEmailSender sender(config_for(fake));
  std::vector<OutboundEmail> batch;
  for (std::int64_t id = 1; id <= 1000; ++id) batch.push_back(sample(id));
  auto results = sender.send_batch(batch);
  ASSERT_EQ(results.size(), 1000u);
  std::set<std::string> ids;
  for (const auto& r : results) {
    EXPECT_EQ(r.status, SendStatus::kSent);
    ids.insert(r.provider_message_id);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(fake.request_count(), 1000u);
  EXPECT_LE(fake.connection_count(), 64u);  // the default window, each connection kept
  EXPECT_TRUE(fake.violations().empty());
  EXPECT_TRUE(sender.send_batch({}).empty());
}

TEST(SendgridSender, HttpsKeepsItsConnectionsAcrossBatches) {
  sc::testing::TempDir certs;
  const auto [cert, key] = sc::provider_testing::self_signed_certificate(certs);
  FakeSendgrid::Options o;
  o.tls_cert = cert;
  o.tls_key = key;
  o.threads = 16;
  FakeSendgrid fake(o);
  ASSERT_EQ(fake.base_url().rfind("https://", 0), 0u);
  SendgridConfig c = config_for(fake);
  c.ca_file = cert;
  c.max_in_flight = 4;
  SendgridEmailSender sender(c);
  for (int round = 0; round < 3; ++round) {
    std::vector<OutboundEmail> batch;
    for (std::int64_t id = 1; id <= 100; ++id) batch.push_back(sample(round * 1000 + id));
    for (const auto& r : sender.send_batch(batch))
      ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_message;
  }
  EXPECT_EQ(fake.request_count(), 300u);
  // 300 messages over at most 4 connections: one TLS handshake per
  // connection, not per message (a new one each costs ~2 ms of CPU).
  EXPECT_LE(fake.connection_count(), 4u);
  EXPECT_TRUE(fake.violations().empty());

  // A certificate nobody vouches for is refused before anything is sent.
  SendgridConfig untrusted = config_for(fake);
  SendgridEmailSender strict(untrusted);
  SendResult r = strict.send(sample(9999));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:60") << r.provider_message;
  EXPECT_EQ(fake.request_count(), 300u);
}

TEST(SendgridClassify, RetryAfterHeaders) {
  auto r = classify_sendgrid_response(429, "", "", "", std::to_string(kNow - 5), kNow);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(1));  // a reset in the past still waits a moment
  r = classify_sendgrid_response(429, "", "", "junk", "", kNow);
  EXPECT_EQ(r.retry_after, std::nullopt);
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  r = classify_sendgrid_response(413, "payload too large", "", "", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_message, "payload too large");
  EXPECT_FALSE(r.auth_refused);
  // Retry-After wins over X-RateLimit-Reset, and may be an HTTP-date.
  r = classify_sendgrid_response(429, "", "", "Sun, 06 Nov 1994 08:49:37 GMT",
                                 std::to_string(kNow + 99), 784'111'777 - 12);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(12));
  r = classify_sendgrid_response(401, R"({"errors":[{"message":"bad key"}]})", "", "", "", kNow);
  EXPECT_TRUE(r.auth_refused);
  EXPECT_EQ(r.provider_message, "bad key");
}

TEST(FakeSendgrid, FlagsRequestsThatBreakTheSpec) {
  FakeSendgrid fake;
  httplib::Client cli(fake.base_url());
  auto r1 = cli.Post(
      "/v3/mail/send", httplib::Headers{{"Authorization", "Bearer " + fake.api_key()}},
      R"({"personalizations":[{"to":[{"email":"a@b.c"}]}],"from":{"email":"x@y.z"},"subject":"s",
                         "content":[{"type":"text/html","value":"h"},{"type":"text/plain","value":"t"}],
                         "custom_args":{"outbox_id":1}})",
      "application/json");
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 400);
  auto v = fake.violations();
  EXPECT_EQ(v.size(), 2u);  // html before plain, custom_args value not a string
  auto r2 = cli.Post("/v3/mail/send", "{}", "application/json");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 401);
  EXPECT_EQ(fake.violations().size(), 3u);
}

// A request is recorded in one step under the fake's lock: whoever sees its
// violation sees it counted too, so a test that waits for one and reads the
// other cannot race (issue 15, point 7).
TEST(FakeSendgrid, CountsARefusedRequestInTheSameStepAsItsViolation) {
  FakeSendgrid fake;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!done) {
      const auto seen = fake.violations().size();
      if (fake.request_count() < seen) ++torn;
    }
  });
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      httplib::Client cli(fake.base_url());
      for (int i = 0; i < 50; ++i)
        cli.Post("/v3/mail/send", httplib::Headers{{"Authorization", "Bearer " + fake.api_key()}},
                 "x", "text/plain");
    });
  }
  for (auto& c : clients) c.join();
  done = true;
  reader.join();
  EXPECT_EQ(fake.request_count(), 200u);
  EXPECT_EQ(fake.violations().size(), 200u);
  EXPECT_EQ(torn.load(), 0) << "a reader saw a violation before its request was counted";
}

}  // namespace
}  // namespace sc::providers
