// The SES sender against a loopback SES that recomputes every SigV4
// signature and checks the SendEmail request the way AWS documents it.
#include "sc/providers/ses_email_sender.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "fakes/fake_ses.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

using nlohmann::json;
using Answer = fakes::FakeSes::Answer;
using fakes::FakeSes;

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

OutboundEmail sample(std::int64_t id = 1) {
  OutboundEmail m;
  m.outbox_id = id;
  m.message_id = "m" + std::to_string(id) + "@example.com";
  m.date_unix = 1'790'000'000;
  m.from = {"news@example.com", "Example News"};
  m.to = {"alice" + std::to_string(id) + "@example.org", "Alice"};
  m.subject = "Weekly digest";
  m.text = "Hello";
  m.html = "<p>Hello</p>";
  m.list_unsubscribe_url = "https://example.com/u/opaque" + std::to_string(id);
  return m;
}

SesConfig config_for(const FakeSes& fake) {
  SesConfig c;
  c.region = fake.options().region;
  c.access_key_id = fake.options().access_key_id;
  c.secret_access_key = fake.options().secret_access_key;
  c.session_token = fake.options().session_token;
  c.api_base = fake.base_url();
  c.timeout_ms = 5000;
  return c;
}

// The MIME boundary is random per build; everything else must be identical.
std::string same_boundary(const std::string& mime) {
  return std::regex_replace(mime, std::regex("=_sc_[0-9a-f]+"), "=_sc_BOUNDARY");
}

std::string first_or_none(const std::vector<std::string>& v) {
  return v.empty() ? "(none)" : v.front();
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

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    buf = (buf << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

TEST(SesBody, IsSendEmailWithOurOwnMimeMessageAsRaw) {
  OutboundEmail m = sample(5);
  m.reply_to = "support@example.com";
  m.list_unsubscribe_mailto = "mailto:unsub@example.com";
  m.list_id = "News <news.example.com>";
  json j = json::parse(ses_request_body(m));
  EXPECT_EQ(j["FromEmailAddress"], "news@example.com");
  EXPECT_EQ(j["Destination"], json::parse(R"({"ToAddresses":["alice5@example.org"]})"));
  EXPECT_EQ(j["EmailTags"], json::parse(R"([{"Name":"outbox_id","Value":"5"}])"));
  EXPECT_FALSE(j.contains("FeedbackForwardingEmailAddress"));
  ASSERT_EQ(j["Content"].size(), 1u);
  const std::string raw = base64_decode(j["Content"]["Raw"]["Data"].get<std::string>());
  EXPECT_EQ(same_boundary(raw),
            same_boundary(build_mime(m)));  // the headers we build reach SES as built
  EXPECT_NE(raw.find("boundary="), std::string::npos);
  EXPECT_NE(
      raw.find(
          "\r\nList-Unsubscribe: <https://example.com/u/opaque5>, <mailto:unsub@example.com>\r\n"),
      std::string::npos);
  EXPECT_NE(raw.find("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            std::string::npos);
  EXPECT_EQ(j.size(), 4u) << j.dump();

  m.envelope_from = "bounces@example.com";
  EXPECT_EQ(json::parse(ses_request_body(m))["FeedbackForwardingEmailAddress"],
            "bounces@example.com");
}

TEST(SesConfigCheck, EveryMissingOrBadSettingNamesItsVariable) {
  SesConfig good;
  good.region = "eu-west-1";
  good.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  good.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  auto v = validate_ses_config(good);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v.value().api_base, "https://email.eu-west-1.amazonaws.com");

  struct Case {
    const char* name;
    std::function<void(SesConfig&)> change;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"no region", [](SesConfig& c) { c.region.clear(); }, "SC_SES_REGION"},
      {"region with a dot", [](SesConfig& c) { c.region = "eu-west-1.evil.test"; },
       "SC_SES_REGION"},
      {"region in capitals", [](SesConfig& c) { c.region = "EU-WEST-1"; }, "SC_SES_REGION"},
      {"no key id", [](SesConfig& c) { c.access_key_id.clear(); }, "SC_SES_ACCESS_KEY_ID"},
      {"key id with a slash", [](SesConfig& c) { c.access_key_id = "AKIA/x"; },
       "SC_SES_ACCESS_KEY_ID"},
      {"no secret", [](SesConfig& c) { c.secret_access_key.clear(); }, "SC_SES_SECRET_ACCESS_KEY"},
      {"secret with a newline", [](SesConfig& c) { c.secret_access_key = "a\nb"; },
       "SC_SES_SECRET_ACCESS_KEY"},
      {"token with a space", [](SesConfig& c) { c.session_token = "a b"; }, "SC_SES_SESSION_TOKEN"},
      {"base with a path",
       [](SesConfig& c) { c.api_base = "https://email.eu-west-1.amazonaws.com/v2"; },
       "SC_SES_API_BASE"},
      {"base not http", [](SesConfig& c) { c.api_base = "ftp://x"; }, "SC_SES_API_BASE"},
  };
  for (const auto& k : cases) {
    SesConfig c = good;
    k.change(c);
    auto r = validate_ses_config(c);
    ASSERT_FALSE(r.ok()) << k.name;
    EXPECT_EQ(r.error().field, k.field) << k.name;
    EXPECT_NE(r.error().message.find(k.field), std::string::npos)
        << k.name << ": " << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << k.name;
    EXPECT_THROW(SesEmailSender{c}, std::invalid_argument) << k.name;
  }
}

TEST(SesSender, SendsOneMessageTheWaySesDocumentsIt) {
  FakeSes fake;
  SesEmailSender sender(config_for(fake));
  OutboundEmail m = sample(9);
  m.subject = "Grüße aus Köln 🎉";
  m.to.display_name = "Zoë";
  SendResult r = sender.send(m);
  EXPECT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  EXPECT_EQ(r.provider_code, "200");
  EXPECT_EQ(r.provider_message_id, "0102018c-fake-000001-000000");
  EXPECT_FALSE(r.auth_refused);
  EXPECT_TRUE(fake.violations().empty()) << first_or_none(fake.violations());
  ASSERT_EQ(fake.raw_messages().size(), 1u);
  EXPECT_EQ(same_boundary(fake.raw_messages()[0]), same_boundary(build_mime(m)));
  EXPECT_EQ(fake.requests_per_outbox().at("9"), 1);
}

TEST(SesSender, TemporaryCredentialsCarryTheirSessionToken) {
  FakeSes::Options o;
  o.session_token = "IQoJb3JpZ2luX2VjEPT//////////wEaCWV1LXdlc3QtMSJGMEQCIBfake+token==";
  FakeSes fake(o);
  SesEmailSender sender(config_for(fake));
  EXPECT_EQ(sender.send(sample()).status, SendStatus::kSent);
  EXPECT_TRUE(fake.violations().empty()) << first_or_none(fake.violations());

  SesConfig stale = config_for(fake);
  stale.session_token = "expired-token";
  SesEmailSender other(stale);
  SendResult r = other.send(sample(2));
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "UnrecognizedClientException");
  EXPECT_TRUE(r.auth_refused);
}

struct FaultCase {
  const char* name;
  Answer answer;
  SendStatus status;
  std::string code;
  std::string text;  // must appear in provider_message
  std::optional<std::chrono::seconds> retry_after;
  bool auth_refused = false;
};

std::vector<FaultCase> fault_cases() {
  return {
      {"message rejected",
       {400, "MessageRejected", "Email address is not verified.", {}, 0},
       SendStatus::kPermanent,
       "MessageRejected",
       "Email address is not verified.",
       std::nullopt,
       false},
      {"mail-from domain",
       {400, "MailFromDomainNotVerifiedException", "MAIL FROM domain not verified", {}, 0},
       SendStatus::kPermanent,
       "MailFromDomainNotVerifiedException",
       "MAIL FROM domain",
       std::nullopt,
       false},
      {"bad request",
       {400, "BadRequestException", "Invalid address", {}, 0},
       SendStatus::kPermanent,
       "BadRequestException",
       "Invalid address",
       std::nullopt,
       false},
      {"account suspended",
       {400, "AccountSuspendedException", "suspended", {}, 0},
       SendStatus::kPermanent,
       "AccountSuspendedException",
       "suspended",
       std::nullopt,
       false},
      {"throttled with Retry-After",
       {429, "TooManyRequestsException", "Too many requests", {{"Retry-After", "7"}}, 0},
       SendStatus::kRetryable,
       "TooManyRequestsException",
       "Too many requests",
       std::chrono::seconds(7),
       false},
      {"daily quota",
       {400, "LimitExceededException", "Daily message quota exceeded", {}, 0},
       SendStatus::kRetryable,
       "LimitExceededException",
       "quota",
       std::nullopt,
       false},
      {"internal failure",
       {500, "InternalFailure", "internal error", {}, 0},
       SendStatus::kRetryable,
       "InternalFailure",
       "internal error",
       std::nullopt,
       false},
      {"bare 503",
       {503, "", "Service Unavailable", {}, 0},
       SendStatus::kRetryable,
       "503",
       "Service Unavailable",
       std::nullopt,
       false},
      {"access denied",
       {403, "AccessDeniedException", "not authorized to perform ses:SendEmail", {}, 0},
       SendStatus::kPermanent,
       "AccessDeniedException",
       "ses:SendEmail",
       std::nullopt,
       true},
  };
}

TEST(SesSender, FaultTableForSingleSends) {
  FakeSes fake;
  SesEmailSender sender(config_for(fake));
  auto cases = fault_cases();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto id = static_cast<std::int64_t>(100 + i);
    fake.script(id, {cases[i].answer});
    SendResult r = sender.send(sample(id));
    EXPECT_EQ(r.status, cases[i].status) << cases[i].name;
    EXPECT_EQ(r.provider_code, cases[i].code) << cases[i].name;
    EXPECT_NE(r.provider_message.find(cases[i].text), std::string::npos)
        << cases[i].name << ": " << r.provider_message;
    EXPECT_EQ(r.retry_after, cases[i].retry_after) << cases[i].name;
    EXPECT_EQ(r.auth_refused, cases[i].auth_refused) << cases[i].name;
  }
  EXPECT_TRUE(fake.violations().empty()) << first_or_none(fake.violations());
}

TEST(SesSender, RetryAfterAsAnHttpDate) {
  FakeSes fake;
  char date[64];
  const std::time_t at = static_cast<std::time_t>(unix_now() + 120);
  std::tm tm{};
  gmtime_r(&at, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  fake.script(1, {{429, "TooManyRequestsException", "slow down", {{"Retry-After", date}}, 0}});
  SesEmailSender sender(config_for(fake));
  SendResult r = sender.send(sample(1));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  ASSERT_TRUE(r.retry_after.has_value()) << date;
  // 120 s from when the date was written, less the moments the send took.
  EXPECT_LE(r.retry_after->count(), 120);
  EXPECT_GE(r.retry_after->count(), 100);
}

struct AuthCase {
  const char* name;
  std::function<void(SesConfig&)> change;
  std::string code;
};

TEST(SesSender, RefusedCredentialsArePermanentAndPauseTheProvider) {
  const std::vector<AuthCase> cases = {
      {"wrong secret", [](SesConfig& c) { c.secret_access_key = "not-the-secret"; },
       "SignatureDoesNotMatch"},
      {"unknown key", [](SesConfig& c) { c.access_key_id = "AKIAUNKNOWN000000000"; },
       "UnrecognizedClientException"},
      {"clock an hour slow", [](SesConfig& c) { c.now_unix = [] { return unix_now() - 3600; }; },
       "InvalidSignatureException"},
  };
  for (const auto& k : cases) {
    FakeSes fake;
    SesConfig c = config_for(fake);
    k.change(c);
    SesEmailSender sender(c);
    SendResult r = sender.send(sample());
    EXPECT_EQ(r.status, SendStatus::kPermanent) << k.name;
    EXPECT_EQ(r.provider_code, k.code) << k.name;
    EXPECT_TRUE(r.auth_refused) << k.name;
    EXPECT_FALSE(r.provider_message.empty()) << k.name;
    // The fake saw exactly the mistake this case made, nothing else.
    auto v = fake.violations();
    ASSERT_EQ(v.size(), 1u) << k.name;
    EXPECT_EQ(v[0].rfind("signature mismatch", 0), 0u) << k.name << ": " << v[0];
  }
}

TEST(SesSender, TimeoutAndRefusedConnectionAreRetryable) {
  FakeSes fake;
  fake.script(1, {{200, "", "", {}, 3000}});
  SesConfig c = config_for(fake);
  c.timeout_ms = 300;
  SesEmailSender sender(c);
  auto t0 = std::chrono::steady_clock::now();
  SendResult r = sender.send(sample(1));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:28") << r.provider_message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));

  SesConfig down = config_for(fake);
  down.api_base = "http://127.0.0.1:" + std::to_string(closed_port());
  SesEmailSender nowhere(down);
  r = nowhere.send(sample());
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:7") << r.provider_message;
  auto batch = nowhere.send_batch(std::vector<OutboundEmail>{sample(1), sample(2)});
  ASSERT_EQ(batch.size(), 2u);
  for (const auto& b : batch) EXPECT_EQ(b.provider_code, "curl:7");
}

TEST(SesSender, BatchMixingOutcomesKeepsOrderSignsEachAndLosesNothing) {
  FakeSes fake;
  SesConfig c = config_for(fake);
  c.max_in_flight = 8;
  c.timeout_ms = 1000;
  SesEmailSender sender(c);
  auto cases = fault_cases();
  std::vector<OutboundEmail> batch;
  std::map<std::int64_t, const FaultCase*> expected;
  for (std::int64_t id = 1; id <= 60; ++id) {
    batch.push_back(sample(id));
    if (id % 7 == 0) {
      const FaultCase& fc = cases[static_cast<std::size_t>(id / 7) % cases.size()];
      fake.script(id, {fc.answer});
      expected[id] = &fc;
    }
  }
  FaultCase timeout{
      "timeout", {200, "", "", {}, 4000}, SendStatus::kRetryable, "curl:28", "", std::nullopt,
      false};
  fake.script(33, {timeout.answer});
  expected[33] = &timeout;

  auto results = sender.send_batch(batch);
  ASSERT_EQ(results.size(), batch.size());
  std::set<std::string> ids;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::int64_t id = batch[i].outbox_id;
    auto it = expected.find(id);
    if (it == expected.end()) {
      EXPECT_EQ(results[i].status, SendStatus::kSent) << id << " " << results[i].provider_message;
      EXPECT_TRUE(ids.insert(results[i].provider_message_id).second) << "duplicate id for " << id;
    } else {
      EXPECT_EQ(results[i].status, it->second->status) << id << " " << it->second->name;
      EXPECT_EQ(results[i].provider_code, it->second->code) << id;
      EXPECT_EQ(results[i].auth_refused, it->second->auth_refused) << id;
    }
  }
  auto counts = fake.requests_per_outbox();
  EXPECT_EQ(counts.size(), batch.size());
  for (const auto& m : batch) EXPECT_EQ(counts[std::to_string(m.outbox_id)], 1) << m.outbox_id;
  EXPECT_LE(fake.connection_count(), 8u + 1u);  // the window, plus the one the timeout closed
  EXPECT_TRUE(fake.violations().empty()) << first_or_none(fake.violations());

  // Reusable after a batch with failures, single sends included.
  EXPECT_EQ(sender.send(sample(1000)).status, SendStatus::kSent);
  auto again = sender.send_batch(std::vector<OutboundEmail>{sample(1001), sample(1002)});
  EXPECT_EQ(again[0].status, SendStatus::kSent);
  EXPECT_EQ(again[1].status, SendStatus::kSent);
  EXPECT_TRUE(sender.send_batch({}).empty());
}

TEST(SesClassify, ErrorTypesFromHeaderOrBody) {
  constexpr std::int64_t kNow = 784'111'777 - 30;  // 30 s before Sun, 06 Nov 1994 08:49:37 GMT
  auto r = classify_ses_response(200, R"({"MessageId":"0100-abc"})", "", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kSent);
  EXPECT_EQ(r.provider_message_id, "0100-abc");
  r = classify_ses_response(
      400, R"({"__type":"com.amazonaws.sesv2#MessageRejected","message":"no"})", "", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "MessageRejected");
  EXPECT_EQ(r.provider_message, "no");
  r = classify_ses_response(400, R"({"Message":"Missing final '@domain'"})",
                            "BadRequestException:http://internal", "", kNow);
  EXPECT_EQ(r.provider_code, "BadRequestException");
  EXPECT_EQ(r.provider_message, "Missing final '@domain'");
  r = classify_ses_response(429, "", "TooManyRequestsException", "Sun, 06 Nov 1994 08:49:37 GMT",
                            kNow);
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(30));
  r = classify_ses_response(400, "", "ThrottlingException", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_FALSE(r.auth_refused);
  // Documented as 400 by some AWS services and 403 by others: auth either way.
  for (long status : {400L, 403L}) {
    for (const char* type :
         {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
          "AccessDenied", "AccessDeniedException", "IncompleteSignature", "ExpiredToken",
          "InvalidSignatureException", "MissingAuthenticationToken", "NotAuthorized"}) {
      r = classify_ses_response(status, R"({"message":"refused"})", type, "", kNow);
      EXPECT_EQ(r.status, SendStatus::kPermanent) << type;
      EXPECT_TRUE(r.auth_refused) << status << " " << type;
      EXPECT_EQ(r.provider_code, type);
    }
  }
  r = classify_ses_response(403, "Forbidden", "", "", kNow);  // no type at all: still refused
  EXPECT_TRUE(r.auth_refused);
  EXPECT_EQ(r.provider_code, "403");
  r = classify_ses_response(400, "", "", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "400");
  EXPECT_EQ(r.provider_message, "HTTP 400");
  EXPECT_FALSE(r.auth_refused);
  r = classify_ses_response(404, R"({"message":"Configuration set does not exist"})",
                            "NotFoundException", "", kNow);
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_FALSE(r.auth_refused);
}

TEST(FakeSes, FlagsRequestsThatBreakTheApi) {
  FakeSes fake;
  httplib::Client cli(fake.base_url());
  auto r = cli.Post("/v2/email/outbound-emails", R"({"Content":{"Raw":{"Data":"x"}}})",
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);  // unsigned
  ASSERT_EQ(fake.violations().size(), 1u);
  EXPECT_EQ(fake.violations()[0].rfind("bad signature:", 0), 0u) << fake.violations()[0];
  r = cli.Post("/v2/email/outbound-emails/extra", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(fake.violations().size(), 2u);
}

// A request is recorded in one step under the fake's lock: whoever sees its
// violation sees it counted too, so a test that waits for one and reads the
// other cannot race (issue 15, point 7).
TEST(FakeSes, CountsARefusedRequestInTheSameStepAsItsViolation) {
  FakeSes fake;
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
      for (int i = 0; i < 50; ++i) cli.Post("/v2/email/outbound-emails", "{}", "application/json");
    });
  }
  for (auto& c : clients) c.join();
  done = true;
  reader.join();
  EXPECT_EQ(fake.request_count(), 200u);
  EXPECT_EQ(fake.violations().size(), 200u);
  EXPECT_EQ(torn.load(), 0) << "a reader saw a violation before its request was counted";
}

TEST(FakeSes, FlagsBodiesThatBreakTheModelEvenWhenSigned) {
  FakeSes fake;
  SesConfig c = config_for(fake);
  auto valid = validate_ses_config(c);
  ASSERT_TRUE(valid.ok());
  httplib::Client cli(fake.base_url());
  auto post = [&](const std::string& body) {
    httplib::Headers h;
    std::string ctype;
    for (const auto& [k, v] : ses_request_headers(valid.value(), body, unix_now())) {
      if (k == "Content-Type")
        ctype = v;
      else if (k != "Host")
        h.emplace(k, v);
    }
    return cli.Post("/v2/email/outbound-emails", h, body, ctype.c_str());
  };
  // Two kinds of content, a raw message with bare LFs, a tag with a space.
  auto r =
      post(R"({"FromEmailAddress":"a@b.example","Content":{"Raw":{"Data":"RnJvbTogYUBiCgpoaQ=="},
                   "Simple":{}},"EmailTags":[{"Name":"outbox id","Value":"1"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  auto v = fake.violations();
  EXPECT_GE(v.size(), 3u);
  for (const auto& s : v)
    EXPECT_EQ(s.find("signature"), std::string::npos) << s;  // the signature held
}

}  // namespace
}  // namespace sc::providers
