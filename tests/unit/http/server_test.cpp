// Every route's answers, error answers first, over real HTTP against the
// in-process server (http_fixture.h). The bad-input table that used to
// start the binary lives here now; tests/integration keeps the journeys.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_fixture.h"

namespace sc::unit {
namespace {

using nlohmann::json;

std::string big(std::size_t n, char c = 'a') { return std::string(n, c); }

struct BadRequest {
  const char* name;
  const char* method;
  std::string path;
  std::string content_type;
  std::string body;
  int status;
  const char* code;  // nullptr: a browser page, not JSON
  const char* field = nullptr;
  httplib::Headers headers = {};
};

// ---- the table: each gets its 4xx and error shape, and writes nothing ----

TEST_F(HttpTest, TableOfBadRequestsAnswers4xxAndWritesNothing) {
  start();
  const auto id = signed_up_email("known@example.org");
  const auto confirm = confirm_path(id);
  auto tampered = confirm;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  const auto foreign = "/unsubscribe/" + confirm.substr(std::string("/confirm/").size());
  const auto writes_before = store_.writes();
  const auto events_before = store_.events.size();

  const std::string S = "/api/v1/subscriptions";
  const std::string J = "application/json";
  const std::string F = "application/x-www-form-urlencoded";
  const httplib::Headers html{{"Accept", "text/html"}};
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  const auto P =
      "/api/v1/admin/subscribers/" +
      std::to_string(store_.channel(ChannelKind::kEmail, "known@example.org").subscriber_id);
  const auto U = P + "/unsubscribe";
  const std::vector<BadRequest> table = {
      {"malformed json", "POST", S, J, "{\"email\": ", 422, "malformed_json"},
      {"json array body", "POST", S, J, "[\"a@example.org\"]", 422, "malformed_json"},
      {"json string body", "POST", S, J, "\"a@example.org\"", 422, "malformed_json"},
      {"empty json object", "POST", S, J, "{}", 422, "missing_contact", "email"},
      {"empty body", "POST", S, J, "", 422, "malformed_json"},
      {"array where string belongs", "POST", S, J, R"({"email":["a@example.org"]})", 422,
       "invalid_email", "email"},
      {"number where string belongs", "POST", S, J, R"({"email":42})", 422, "invalid_email",
       "email"},
      {"object where string belongs", "POST", S, J, R"({"email":{"$gt":""}})", 422, "invalid_email",
       "email"},
      {"topics not a list", "POST", S, J, R"({"email":"t@example.org","topics":"news"})", 422,
       "invalid_topics", "topics"},
      {"topics with numbers", "POST", S, J, R"({"email":"t@example.org","topics":[1,2]})", 422,
       "invalid_topics", "topics"},
      {"too many topics", "POST", S, J,
       json({{"email", "t@example.org"}, {"topics", std::vector<std::string>(21, "x")}}).dump(),
       422, "invalid_topics", "topics"},
      {"deeply nested json", "POST", S, J, big(5000, '[') + big(5000, ']'), 422, "malformed_json"},
      {"invalid utf-8 in json", "POST", S, J, "{\"email\":\"\xff\xfe@example.org\"}", 422,
       "malformed_json"},
      {"no at sign", "POST", S, J, R"({"email":"not-an-address"})", 422, "invalid_email", "email"},
      {"crlf in email", "POST", S, J, "{\"email\":\"a@example.org\\r\\nBcc: victim@example.org\"}",
       422, "invalid_email", "email"},
      {"nul in email", "POST", S, J, "{\"email\":\"a\\u0000@example.org\"}", 422, "invalid_email",
       "email"},
      {"overlong email", "POST", S, J, json({{"email", big(250) + "@example.org"}}).dump(), 422,
       "invalid_email", "email"},
      {"bidi override in name", "POST", S, J,
       "{\"email\":\"b@example.org\",\"first_name\":\"Bob\xE2\x80\xAEmoc\"}", 422,
       "invalid_first_name", "first_name"},
      {"markup in name", "POST", S, J,
       R"({"email":"b@example.org","first_name":"<a href=x>Win</a>"})", 422, "invalid_first_name",
       "first_name"},
      {"link in name", "POST", S, J,
       R"({"email":"b@example.org","first_name":"Visit evil.example"})", 422, "invalid_first_name",
       "first_name"},
      {"math bold digits in name", "POST", S, J,
       json({{"email", "b@example.org"},
             {"first_name",
              "Refund pending call \U0001d7d6\U0001d7ce\U0001d7ce \U0001d7d3\U0001d7d3\U0001d7d3 "
              "\U0001d7ce\U0001d7cf\U0001d7d7\U0001d7d7 now"}})
           .dump(),
       422, "invalid_first_name", "first_name"},
      {"fullwidth digits in name", "POST", S, J,
       json({{"email", "b@example.org"}, {"first_name", "Ann \uff18\uff10\uff10"}}).dump(), 422,
       "invalid_first_name", "first_name"},
      {"emoji in name", "POST", S, J,
       json({{"email", "b@example.org"}, {"first_name", "Ann \U0001f4b0"}}).dump(), 422,
       "invalid_first_name", "first_name"},
      {"www in name", "POST", S, J, R"({"email":"b@example.org","first_name":"www.evil"})", 422,
       "invalid_first_name", "first_name"},
      {"overlong name", "POST", S, J,
       json({{"email", "b@example.org"}, {"first_name", big(101)}}).dump(), 422,
       "invalid_first_name", "first_name"},
      {"bad postal code", "POST", S, J,
       R"({"email":"b@example.org","postal_code":"12345; DROP TABLE"})", 422, "invalid_postal_code",
       "postal_code"},
      {"phone without consent", "POST", S, J, R"({"phone":"+16502530000"})", 422,
       "sms_consent_required", "sms_consent"},
      {"invalid phone", "POST", S, J, R"({"phone":"12","sms_consent":true})", 422, "invalid_phone",
       "phone"},
      {"phone in a country not texted", "POST", S, J,
       R"({"phone":"+442079460000","sms_consent":true})", 422, "unsupported_country", "phone"},
      {"sms_consent not a bool", "POST", S, J, R"({"phone":"+16502530000","sms_consent":[true]})",
       422, "invalid_sms_consent", "sms_consent"},
      {"form with bad escape", "POST", S, F, "email=a%ZZ%40example.org", 422, "malformed_body"},
      {"form duplicate email", "POST", S, F, "email=a%40example.org&email=b%40example.org", 422,
       "duplicate_field", "email"},
      {"json duplicate email", "POST", S, J, R"({"email":"a@example.org","email":"b@example.org"})",
       422, "duplicate_field", "email"},
      {"form crlf in name", "POST", S, F, "email=c%40example.org&first_name=Eve%0D%0ABcc%3A%20x",
       422, "invalid_first_name", "first_name"},
      {"wrong content type", "POST", S, "text/plain", "email=a@example.org", 415,
       "unsupported_media_type"},
      {"xml content type", "POST", S, "application/xml", "<email>a@example.org</email>", 415,
       "unsupported_media_type"},
      {"json with charset is json", "POST", S, "Application/JSON; charset=utf-8", "{", 422,
       "malformed_json"},
      {"oversized body", "POST", S, J, "{\"email\":\"" + big(70000) + "\"}", 413,
       "payload_too_large"},
      {"unknown path", "GET", "/wp-admin/install.php", "", "", 404, "not_found"},
      {"unknown api path", "POST", "/api/v1/nope", J, "{}", 404, "not_found"},
      {"GET on the sign-up API", "GET", S, "", "", 405, "method_not_allowed"},
      {"POST on the health check", "POST", "/healthz", J, "{}", 405, "method_not_allowed"},
      {"tampered confirm token", "POST", tampered, F, "", 400, "invalid_token"},
      {"truncated confirm token", "POST", confirm.substr(0, confirm.size() - 10), F, "", 400,
       "invalid_token"},
      {"confirm token used to unsubscribe", "POST", foreign, F, "List-Unsubscribe=One-Click", 400,
       "invalid_token"},
      {"token signed with another key", "POST",
       "/confirm/c.1.9999999999.00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
       F, "", 400, "invalid_token"},
      {"empty token", "POST", "/confirm/", F, "", 400, "invalid_token"},
      {"garbage token GET", "GET", "/unsubscribe/%00%0d%0a", "", "", 400, "invalid_token"},
      {"admin without key", "GET", "/api/v1/admin/subscribers?email=known@example.org", "", "", 401,
       "unauthorized"},
      {"admin with a wrong key",
       "GET",
       "/api/v1/admin/subscribers?email=known@example.org",
       "",
       "",
       401,
       "unauthorized",
       nullptr,
       {{"Authorization", "Bearer wrong-key-123"}}},
      {"admin key as Basic",
       "GET",
       "/api/v1/admin/subscribers?email=known@example.org",
       "",
       "",
       401,
       "unauthorized",
       nullptr,
       {{"Authorization", std::string("Basic ") + kAdminKey}}},
      {"admin key prefix",
       "GET",
       "/api/v1/admin/subscribers?email=known@example.org",
       "",
       "",
       401,
       "unauthorized",
       nullptr,
       {{"Authorization", "Bearer admin-key-012345678"}}},
      // Without ?email= or ?phone=, the list (docs/api.md, the admin API): its filters.
      {"admin list, bad state", "GET", "/api/v1/admin/subscribers?state=happy", "", "", 422,
       "invalid_state", "state", admin},
      {"admin list, bad search", "GET", "/api/v1/admin/subscribers?q=%01", "", "", 422, "invalid_q",
       "q", admin},
      {"admin list, bad created_after", "GET", "/api/v1/admin/subscribers?created_after=1", "", "",
       422, "invalid_created_after", "created_after", admin},
      {"admin bad email", "GET", "/api/v1/admin/subscribers?email=nope", "", "", 422,
       "invalid_email", "email", admin},
      {"admin bad phone", "GET", "/api/v1/admin/subscribers?phone=12", "", "", 422, "invalid_phone",
       "phone", admin},
      {"admin unknown subscriber", "GET", "/api/v1/admin/subscribers?email=nobody@example.org", "",
       "", 404, "not_found", nullptr, admin},
      // An operator's changes (docs/api.md, the admin API).
      {"change without key", "PATCH", P, J, R"({"first_name":"Al"})", 401, "unauthorized"},
      {"change, bad topic", "PATCH", P, J, R"({"topics":["a b"]})", 422, "invalid_topics", "topics",
       admin},
      {"change, a field it cannot change", "PATCH", P, J, R"({"email":"x@example.org"})", 422,
       "unknown_field", "email", admin},
      {"change, name with a link", "PATCH", P, J, R"({"first_name":"www.x.example"})", 422,
       "invalid_first_name", "first_name", admin},
      {"change, not JSON", "PATCH", P, F, "first_name=Al", 415, "unsupported_media_type", nullptr,
       admin},
      {"change, malformed JSON", "PATCH", P, J, R"({"first_name":)", 400, "malformed_json", nullptr,
       admin},
      {"change, unknown subscriber", "PATCH", "/api/v1/admin/subscribers/99999", J,
       R"({"first_name":"Al"})", 404, "not_found", nullptr, admin},
      {"unsubscribe without key", "POST", U, J, R"({"channel":"all"})", 401, "unauthorized"},
      {"unsubscribe, bad channel", "POST", U, J, R"({"channel":"fax"})", 422, "invalid_channel",
       "channel", admin},
      {"unsubscribe, no channel", "POST", U, J, "{}", 422, "invalid_channel", "channel", admin},
      {"unsubscribe, a channel not held", "POST", U, J, R"({"channel":"sms"})", 404, "not_found",
       nullptr, admin},
      {"unsubscribe, unknown subscriber", "POST", "/api/v1/admin/subscribers/99999/unsubscribe", J,
       R"({"channel":"all"})", 404, "not_found", nullptr, admin},
      {"erase without key", "DELETE", P, "", "", 401, "unauthorized"},
      {"erase, unknown subscriber", "DELETE", "/api/v1/admin/subscribers/99999", "", "", 404,
       "not_found", nullptr, admin},
      {"erase, not an id", "DELETE", "/api/v1/admin/subscribers/x", "", "", 404, "not_found",
       nullptr, admin},
      {"suppression without an address", "GET", "/api/v1/admin/suppressions", "", "", 422,
       "missing_query", "email", admin},
      {"suppression, bad email", "GET", "/api/v1/admin/suppressions?email=nope", "", "", 422,
       "invalid_email", "email", admin},
      {"audit log without key", "GET", "/api/v1/admin/audit", "", "", 401, "unauthorized"},
      {"audit log bad limit", "GET", "/api/v1/admin/audit?limit=0", "", "", 422, "invalid_limit",
       "limit", admin},
      {"audit log bad cursor", "GET", "/api/v1/admin/audit?before=x", "", "", 422, "invalid_before",
       "before", admin},
      {"webhook without signature", "POST", "/webhooks/twilio/sms", F,
       "From=%2B16502530000&Body=STOP", 403, "invalid_signature"},
      {"webhook with a wrong signature",
       "POST",
       "/webhooks/twilio/sms",
       F,
       "From=%2B16502530000&Body=STOP",
       403,
       "invalid_signature",
       nullptr,
       {{"X-Twilio-Signature", "c2lnbmF0dXJl"}}},
      {"tampered token as a browser", "GET", tampered, "", "", 400, nullptr, nullptr, html},
      {"browser 404", "GET", "/nope", "", "", 404, nullptr, nullptr, html},
      {"browser 415", "POST", S, "text/plain", "x", 415, nullptr, nullptr, html},
  };
  for (const auto& t : table) {
    auto h = t.headers;
    if (t.code != nullptr && h.find("Accept") == h.end()) h.emplace("Accept", "application/json");
    const auto type = t.content_type.empty() ? std::string("text/plain") : t.content_type;
    const std::string method = t.method;
    auto r = method == "GET"      ? get(t.path, h)
             : method == "PATCH"  ? cli_->Patch(t.path.c_str(), h, t.body, type.c_str())
             : method == "DELETE" ? cli_->Delete(t.path.c_str(), h)
                                  : post(t.path, t.body, type, h);
    ASSERT_TRUE(r) << t.name << ": no response (" << httplib::to_string(r.error()) << ")";
    EXPECT_EQ(r->status, t.status) << t.name << ": " << r->body.substr(0, 300);
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store") << t.name;
    if (t.code == nullptr) {
      EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8") << t.name;
      EXPECT_NE(r->body.find("<h1>page:error</h1>"), std::string::npos)
          << t.name << ": " << r->body;
      continue;
    }
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << t.name;
    EXPECT_EQ(error_code(r), t.code) << t.name << ": " << r->body.substr(0, 300);
    auto j = json::parse(r->body, nullptr, false);
    if (t.field != nullptr) {
      EXPECT_EQ(j["error"].value("field", ""), t.field) << t.name << ": " << r->body;
    } else if (!j.is_discarded()) {
      EXPECT_FALSE(j["error"].contains("field")) << t.name << ": " << r->body;
    }
  }
  EXPECT_EQ(store_.writes(), writes_before) << "a bad request wrote something";
  EXPECT_EQ(store_.events.size(), events_before);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "known@example.org").state, ConsentState::kPending);
}

TEST_F(HttpTest, StatusesTheLibrarySetsGetTheErrorShape) {
  start();
  auto r = post("/api/v1/subscriptions", "{\"email\":\"" + big(70000) + "\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_code(r), "payload_too_large");
  r = get("/api/v1/subscriptions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  r = cli_->Put("/confirm/abc", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD, POST");
  r = cli_->Delete("/nothing-here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_code(r), "not_found");
}

// Requests no client library would send, written to the socket directly.
// half_close: shut our side after sending (the library then sees the end of
// input); otherwise the answer's head is read with the connection still
// open, so that a body the server leaves unread cannot turn its close into a
// reset that discards the answer.
std::string raw_exchange(int port, const std::string& request, bool half_close = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    if (!half_close && out.find("\r\n\r\n") != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

TEST_F(HttpTest, MalformedHttpGets4xxAndTheServerKeepsServing) {
  start();
  struct Raw {
    std::string request;
    const char* status;  // nullptr: the library may close without answering (else a 4xx)
  };
  const std::vector<Raw> raw = {
      {"GARBAGE\r\n\r\n", nullptr},  // the library closes without a word
      // The library may answer or drop these; either way the server lives on.
      {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", nullptr},
      {"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Length: "
       "12abc\r\n\r\n{\"email\":12}",
       "400"},
      {"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: "
       "application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
       nullptr},
      {"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n",
       nullptr},
      {std::string("GET /\0x HTTP/1.1\r\nHost: x\r\n\r\n", 28), nullptr},
      {"GET / HTTP/1.1\r\n" + std::string(100000, 'X') + ": y\r\n\r\n", nullptr},
  };
  for (const auto& t : raw) {
    auto answer = raw_exchange(port_, t.request, t.status == nullptr);
    if (t.status != nullptr) {
      ASSERT_GE(answer.size(), 12u) << "no answer to " << t.request.substr(0, 60);
      EXPECT_EQ(answer.substr(9, 3), t.status)
          << t.request.substr(0, 60) << " got " << answer.substr(0, 200);
    } else if (answer.size() >= 12) {
      EXPECT_EQ(answer[9], '4') << t.request.substr(0, 40) << " got " << answer.substr(0, 200);
    }
    auto health = get("/healthz");
    ASSERT_TRUE(health && health->status == 200) << "after " << t.request.substr(0, 40);
  }
  EXPECT_EQ(store_.writes(), 0u);
}

// ---- public sign-up ----

TEST_F(HttpTest, JsonSignupAnswers202NamingEachChannel) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"email", "ann@example.org"},
                                               {"phone", "(650) 253-0000"},
                                               {"sms_consent", true},
                                               {"first_name", "Ann"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body), json({{"email", "pending"}, {"sms", "pending"}}));
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kPending);
  ASSERT_EQ(store_.events.size(), 2u);
  EXPECT_EQ(store_.events[0].context.ip, "127.0.0.1");
  EXPECT_EQ(writes_.runs, 1);  // one transaction for the whole sign-up
}

TEST_F(HttpTest, ExtraFieldsNeverChangeState) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"email", "mass@example.org"},
                                               {"state", "confirmed"},
                                               {"status", "confirmed"},
                                               {"id", 1},
                                               {"confirmed", true}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "mass@example.org").state, ConsentState::kPending);
}

TEST_F(HttpTest, BrowserFormPostIsRedirectedToThanks) {
  start();
  auto r =
      post("/api/v1/subscriptions", "email=form%40example.org&source=homepage",
           "application/x-www-form-urlencoded", {{"Accept", "text/html,application/xhtml+xml"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
  EXPECT_EQ(r->get_header_value("Location"), "/thanks");
  EXPECT_EQ(store_.events.at(0).detail, "homepage");
  auto t = get("/thanks");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 200);
  EXPECT_EQ(t->body.rfind("<h1>page:thanks</h1>", 0), 0u);
}

TEST_F(HttpTest, SignupPageCarriesTheConsentTexts) {
  start();
  auto r = get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<h1>page:signup</h1>"), std::string::npos);
  EXPECT_NE(r->body.find("sms_consent_text=SMS consent text"), std::string::npos);
  EXPECT_NE(r->body.find("email_consent_text=Email consent text"), std::string::npos);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
}

TEST_F(HttpTest, BrowserWithABadFieldGetsTheFormBackWithWhatTheyTyped) {
  start();
  auto r = post("/api/v1/subscriptions", "email=nope&first_name=Ann",
                "application/x-www-form-urlencoded", {{"Accept", "text/html"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_NE(r->body.find("<h1>page:signup</h1>"), std::string::npos);
  EXPECT_NE(r->body.find("flag:error_email"), std::string::npos);
  EXPECT_NE(r->body.find("first_name=Ann"), std::string::npos);
  EXPECT_NE(r->body.find("error=Please check your email address"), std::string::npos) << r->body;
  EXPECT_EQ(store_.writes(), 0u);
}

TEST_F(HttpTest, SignupsPerClientAreLimitedUnlessLimitsAreOff) {
  auto o = test_options();
  o.signup_limits = true;
  o.signup_burst = 5;
  o.signup_per_minute = 1;  // no refill within the test's few milliseconds worth counting
  start(o);
  int accepted = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = post_json("/api/v1/subscriptions",
                       {{"email", "flood" + std::to_string(i) + "@example.org"}});
    ASSERT_TRUE(r);
    if (r->status == 202) ++accepted;
    if (r->status == 429) {
      ++limited;
      EXPECT_EQ(error_code(r), "rate_limited");
      EXPECT_EQ(r->get_header_value("Retry-After"), "60");
    }
  }
  EXPECT_EQ(accepted, 5);
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(store_.channels.size(), 5u);  // a refused sign-up wrote nothing
  start(test_options());
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(
        post_json("/api/v1/subscriptions", {{"email", "open" + std::to_string(i) + "@example.org"}})
            ->status,
        202);
  }
}

// ---- infrastructure failures: 503, nothing written, the server lives on ----

TEST_F(HttpTest, AStoreThatThrowsGets503WithRetryAfter) {
  start();
  const auto id = signed_up_email("known@example.org");
  writes_.fail = true;
  const auto writes_before = store_.writes();
  std::vector<httplib::Result> answers;
  answers.push_back(post_json("/api/v1/subscriptions", {{"email", "new@example.org"}}));
  answers.push_back(post(confirm_path(id), "", "application/x-www-form-urlencoded"));
  answers.push_back(post(unsubscribe_path(id), "List-Unsubscribe=One-Click",
                         "application/x-www-form-urlencoded"));
  FormParams p{{"MessageSid", "SM1"}, {"From", "+16502530000"}, {"Body", "STOP"}};
  answers.push_back(
      post("/webhooks/twilio/sms", "MessageSid=SM1&From=%2B16502530000&Body=STOP",
           "application/x-www-form-urlencoded",
           {{"X-Twilio-Signature",
             FakeVerifier::signature(std::string(kPublicUrl) + "/webhooks/twilio/sms", p)}}));
  for (const auto& r : answers) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(error_code(r), "unavailable");
    EXPECT_EQ(r->get_header_value("Retry-After"), "5");
  }
  EXPECT_EQ(writes_.runs, 4);  // the setup's sign-up ran outside the server
  EXPECT_EQ(store_.writes(), writes_before);
  auto page =
      post(confirm_path(id), "", "application/x-www-form-urlencoded", {{"Accept", "text/html"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 503);
  EXPECT_NE(page->body.find("heading=Something went wrong"), std::string::npos) << page->body;
  writes_.fail = false;
  auto ok = post_json("/api/v1/subscriptions", {{"email", "new@example.org"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 202);
}

// ---- health ----

TEST_F(HttpTest, HealthAnswers200WhileTheDatabaseAnswers) {
  start();
  auto r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  reads_.up = false;
  r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["status"], "unavailable");
  EXPECT_EQ(json::parse(r->body)["reason"], "database does not answer");
  reads_.up = true;
  reads_.fail = true;
  r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(error_code(r), "unavailable");
}

// A full disk: reads still answer, every commit fails. A load balancer must
// see it (it used to read "ok" while every sign-up got 503).
TEST_F(HttpTest, HealthIsDegradedWhileTheDatabaseCannotWrite) {
  start();
  auto r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["database"], json({{"writable", true}}));
  {
    std::lock_guard lk(providers_mu_);
    database_health_ = {false, "database cannot write: database or disk is full", 1700000000};
  }
  r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  auto j = json::parse(r->body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["reason"], "database cannot write: database or disk is full");
  EXPECT_EQ(j["database"], json({{"writable", false},
                                 {"reason", "database cannot write: database or disk is full"},
                                 {"since", "2023-11-14T22:13:20Z"}}));
  {
    std::lock_guard lk(providers_mu_);
    database_health_ = {};
  }
  r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");
  EXPECT_FALSE(json::parse(r->body).contains("reason"));
}

// ---- confirm and unsubscribe links ----

TEST_F(HttpTest, ConfirmGetChangesNothingAndPostConfirms) {
  start();
  const auto id = signed_up_email("reader@example.org");
  const auto writes_before = store_.writes();
  auto g = get(confirm_path(id));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(json::parse(g->body), json({{"action", "POST to this URL to confirm"}}));
  g = get(confirm_path(id), {{"Accept", "text/html"}});
  ASSERT_TRUE(g);
  EXPECT_NE(g->body.find("<h1>page:confirm</h1>"), std::string::npos);
  EXPECT_NE(g->body.find("action=" + confirm_path(id)), std::string::npos);
  EXPECT_EQ(store_.writes(), writes_before);

  auto p = post(confirm_path(id), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_EQ(json::parse(p->body), json({{"state", "confirmed"}}));
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "reader@example.org").state,
            ConsentState::kConfirmed);
  EXPECT_EQ(store_.events.back().source, ConsentSource::kLink);
}

TEST_F(HttpTest, ExpiredConfirmLinkGets410) {
  start();
  const auto id = signed_up_email("late@example.org");
  const auto path = confirm_path(id);
  clock_.advance(8 * 24 * 3600);
  for (const auto& r : {get(path), post(path, "", "application/x-www-form-urlencoded")}) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 410);
    EXPECT_EQ(error_code(r), "expired_token");
  }
  auto page = get(path, {{"Accept", "text/html"}});
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("heading=This link has expired"), std::string::npos);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "late@example.org").state, ConsentState::kPending);
}

TEST_F(HttpTest, OneClickUnsubscribeUrlencodedAndMultipart) {
  start();
  const auto a = signed_up_email("a@example.org");
  const auto b = signed_up_email("b@example.org");
  auto g = get(unsubscribe_path(a));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "a@example.org").state, ConsentState::kPending);

  auto u =
      post(unsubscribe_path(a), "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 200);
  EXPECT_EQ(json::parse(u->body), json({{"state", "unsubscribed"}}));
  EXPECT_EQ(store_.events.back().source, ConsentSource::kOneClick);

  httplib::MultipartFormDataItems items{{"List-Unsubscribe", "One-Click", "", ""}};
  sync_with_server();
  u = cli_->Post(unsubscribe_path(b).c_str(), items);
  sync_with_server();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->status, 200);
  EXPECT_EQ(store_.channel(ChannelKind::kEmail, "b@example.org").state,
            ConsentState::kUnsubscribed);
  EXPECT_EQ(store_.events.back().source, ConsentSource::kOneClick);

  // A browser pressing the page's button: a link, not one-click.
  const auto c = signed_up_email("c@example.org");
  u = post(unsubscribe_path(c), "", "application/x-www-form-urlencoded", {{"Accept", "text/html"}});
  ASSERT_TRUE(u);
  EXPECT_NE(u->body.find("<h1>page:unsubscribed</h1>"), std::string::npos);
  EXPECT_EQ(store_.events.back().source, ConsentSource::kLink);
}

TEST_F(HttpTest, TokenForAChannelThatIsGoneGets404) {
  start();
  auto r = post(confirm_path(999), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_code(r), "not_found");
}

// ---- Twilio's inbound-text webhook ----

class TwilioWebhookTest : public HttpTest {
 protected:
  static std::string form(const FormParams& p) {
    std::string out;
    for (const auto& [k, v] : p) {
      if (!out.empty()) out += '&';
      out += httplib::detail::encode_query_param(k) + "=" + httplib::detail::encode_query_param(v);
    }
    return out;
  }
  httplib::Result text(const FormParams& p, const std::string& target = "/webhooks/twilio/sms") {
    return post(
        target, form(p), "application/x-www-form-urlencoded",
        {{"X-Twilio-Signature", FakeVerifier::signature(std::string(kPublicUrl) + target, p)}});
  }
  void pending_number() {
    SignupRequest r;
    r.phone = "+16502530000";
    r.sms_consent = true;
    auto v = service_.validate(r);
    ASSERT_TRUE(v);
    (void)service_.sign_up(store_.tx(), v.value(), {}, clock_.now_unix());
  }
};

TEST_F(TwilioWebhookTest, SignedYesConfirmsAndIsAnsweredWithTwiml) {
  start();
  pending_number();
  auto r = text({{"MessageSid", "SM0001"}, {"From", "+1 650 253 0000"}, {"Body", " yes "}},
                "/webhooks/twilio/sms?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/xml");
  EXPECT_EQ(r->body, "<Response>twiml:sms_subscribed</Response>");
  // The signature was checked over the public URL and the target as requested.
  EXPECT_EQ(verifier_.urls,
            std::vector<std::string>{std::string(kPublicUrl) + "/webhooks/twilio/sms?x=1"});
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kConfirmed);
  EXPECT_EQ(store_.events.back().detail, "sms SM0001");
}

TEST_F(TwilioWebhookTest, AdvancedOptOutIsRecordedWithoutASecondAnswer) {
  start();
  pending_number();
  auto r = text(
      {{"MessageSid", "SM1"}, {"From", "+16502530000"}, {"Body", "stop"}, {"OptOutType", "STOP"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<Response>twiml:</Response>");
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kUnsubscribed);
}

TEST_F(TwilioWebhookTest, UnsignedForgedOrMalformedRequestsAre403AndChangeNothing) {
  start();
  pending_number();
  const auto writes_before = store_.writes();
  FormParams p{{"From", "+16502530000"}, {"Body", "STOP"}};
  const auto good = FakeVerifier::signature(std::string(kPublicUrl) + "/webhooks/twilio/sms", p);
  struct Case {
    const char* name;
    std::string body, type, signature, message_part;
  };
  const std::vector<Case> cases = {
      {"no signature", form(p), "application/x-www-form-urlencoded", "", "missing"},
      {"another body", form({{"From", "+16502530000"}, {"Body", "YES"}}),
       "application/x-www-form-urlencoded", good, "does not match"},
      {"an extra parameter", form(p) + "&Body=YES", "application/x-www-form-urlencoded", good,
       "does not match"},
      {"json", R"({"Body":"STOP"})", "application/json", good, "form post"},
      {"bad escape", "Body=%ZZ", "application/x-www-form-urlencoded", good, "well-formed"},
  };
  for (const auto& c : cases) {
    httplib::Headers h;
    if (!c.signature.empty()) h.emplace("X-Twilio-Signature", c.signature);
    auto r = post("/webhooks/twilio/sms", c.body, c.type, h);
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(r->status, 403) << c.name;
    EXPECT_EQ(error_code(r), "invalid_signature") << c.name;
    EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find(c.message_part),
              std::string::npos)
        << c.name << ": " << r->body;
  }
  EXPECT_EQ(writes_.runs, 0);
  EXPECT_EQ(store_.writes(), writes_before);
}

TEST_F(TwilioWebhookTest, WithoutAVerifierEveryRequestIsRefused) {
  with_verifier_ = false;
  start();
  auto r = text({{"From", "+16502530000"}, {"Body", "STOP"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(
      json::parse(r->body)["error"]["message"].get<std::string>().find("SC_TWILIO_AUTH_TOKEN"),
      std::string::npos);
  EXPECT_EQ(writes_.runs, 0);
}

TEST_F(TwilioWebhookTest, StatusCallbackIsSignedAndMovesOnlyForward) {
  start();
  store_.sent[{"twilio", "SMabc"}] = {SentMessageRef{41, 0, 0, ""}, "", 0};
  auto report = [&](const std::string& sid, const std::string& st) {
    return text({{"MessageSid", sid}, {"MessageStatus", st}, {"SmsStatus", st}},
                "/webhooks/twilio/status");
  };
  auto r = report("SMabc", "delivered");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(store_.sent.at({"twilio", "SMabc"}).ref.delivery_state, "delivered");
  EXPECT_EQ(store_.sent.at({"twilio", "SMabc"}).delivery_at, clock_.now_unix());
  r = report("SMabc", "sent");  // late
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(store_.sent.at({"twilio", "SMabc"}).ref.delivery_state, "delivered");
  r = report("SMunknown", "delivered");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Unsigned, or signed over other values: 403 before anything is written.
  const auto runs = writes_.runs.load();
  auto unsigned_post = post("/webhooks/twilio/status", "MessageSid=SMabc&MessageStatus=failed",
                            "application/x-www-form-urlencoded");
  ASSERT_TRUE(unsigned_post);
  EXPECT_EQ(unsigned_post->status, 403);
  EXPECT_EQ(writes_.runs, runs);
  // Values no status callback carries: 422, nothing written.
  r = text({{"MessageSid", std::string(65, 'S')}, {"MessageStatus", "delivered"}},
           "/webhooks/twilio/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(writes_.runs, runs);
  EXPECT_EQ(store_.sent.at({"twilio", "SMabc"}).ref.delivery_state, "delivered");
}

// The verifier names a parameter not shaped as the provider's id (a signed
// request re-cut so that other parameters fold into its MessageSid): 400 on
// both webhooks, before anything is written.
TEST_F(TwilioWebhookTest, ASidOfTheWrongShapeIs400OnBothWebhooksAndChangesNothing) {
  start();
  pending_number();
  store_.sent[{"twilio", "SMabc"}] = {SentMessageRef{41, 0, 0, ""}, "", 0};
  const auto writes = store_.writes();
  const std::string bad = FakeVerifier::kMalformed;
  auto r = text({{"MessageSid", bad}, {"From", "+16502530000"}, {"Body", "YES"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_code(r), "invalid_sid");
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "MessageSid");
  r = text({{"MessageSid", "SM1"}, {"AccountSid", bad}, {"From", "+16502530000"}, {"Body", "YES"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "AccountSid");
  r = text({{"MessageSid", "SMabc"}, {"SmsSid", bad}, {"MessageStatus", "failed"}},
           "/webhooks/twilio/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_code(r), "invalid_sid");
  // A YES with no MessageSid at all (moved from tests/integration/twilio_feedback_test.cpp).
  r = text({{"From", "+16502530000"}, {"Body", "YES"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_code(r), "missing_message_sid");
  EXPECT_EQ(writes_.runs, 0);
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kPending);
  EXPECT_EQ(store_.sent.at({"twilio", "SMabc"}).ref.delivery_state, "");
}

TEST_F(TwilioWebhookTest, ARepeatedMessageSidGetsAnEmptyAnswerAndChangesNothing) {
  start();
  pending_number();
  FormParams yes{{"MessageSid", "SM7"}, {"From", "+16502530000"}, {"Body", "YES"}};
  auto r = text(yes);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "<Response>twiml:sms_subscribed</Response>");
  const auto writes = store_.writes();
  r = text(yes);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<Response>twiml:</Response>");
  EXPECT_EQ(store_.writes(), writes);
  // No MessageSid at all: 400, nothing written.
  r = text({{"From", "+16502530000"}, {"Body", "STOP"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_code(r), "missing_message_sid");
  EXPECT_EQ(store_.writes(), writes);
  EXPECT_EQ(store_.channel(ChannelKind::kSms, "+16502530000").state, ConsentState::kConfirmed);
}

// ---- admin ----

TEST_F(HttpTest, AdminLookupByEmailAndPhone) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "ann@example.org"},
                                                {"phone", "6502530000"},
                                                {"sms_consent", true},
                                                {"first_name", "Ann"},
                                                {"topics", {"news"}}})
                ->status,
            202);
  httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto r = get("/api/v1/admin/subscribers?email=ANN%40example.org", h);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["first_name"], "Ann");
  EXPECT_EQ(j["email"], "ann@example.org");
  EXPECT_EQ(j["phone"], "+16502530000");
  EXPECT_EQ(j["channels"]["email"]["state"], "pending");
  EXPECT_EQ(j["channels"]["sms"]["state"], "pending");
  EXPECT_EQ(j["topics"], json({"news"}));
  ASSERT_EQ(j["consent_log"].size(), 2u);
  EXPECT_EQ(j["consent_log"][0]["action"], "grant");
  EXPECT_EQ(j["consent_log"][0]["ip"], "127.0.0.1");
  // The second key works as well; the phone is normalised before the lookup.
  r = get("/api/v1/admin/subscribers?phone=%28650%29%20253-0000",
          {{"Authorization", "Bearer second-admin-key"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(reads_.lookups.back(),
            (std::pair<ChannelKind, std::string>{ChannelKind::kSms, "+16502530000"}));
}

TEST_F(HttpTest, AdminWithoutAValidKeyIsAskedForABearerToken) {
  start();
  auto r = get("/api/v1/admin/subscribers?email=a@example.org", {{"Accept", "text/html"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(error_code(r), "unauthorized");  // JSON even for a browser: an API
  EXPECT_TRUE(reads_.lookups.empty());
}

TEST_F(HttpTest, AdminPhoneLookupWithoutTextingIs422) {
  with_phones_ = false;
  start();
  auto r = get("/api/v1/admin/subscribers?phone=6502530000",
               {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(error_code(r), "invalid_phone");
}

}  // namespace
}  // namespace sc::unit
