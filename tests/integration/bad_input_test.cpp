// The bad-input table: each request gets a 4xx with the error shape of
// CONTRACT.md (JSON, or a page for a browser), changes nothing, and the
// service keeps serving.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service_fixture.h"

namespace sc::testing {
namespace {

using nlohmann::json;

struct BadRequest {
  const char* name;
  const char* method;
  std::string path;
  std::string content_type;
  std::string body;
  int status;             // expected status
  const char* code;       // expected error.code (nullptr: any)
  const char* field = nullptr;
  const char* accept = "application/json";
};

class BadInputTest : public ServiceTest {
 protected:
  std::map<std::string, std::int64_t> snapshot() {
    std::map<std::string, std::int64_t> s;
    for (const char* t : {"subscribers", "channels", "consent_log", "outbox", "subscriber_topics"}) s[t] = count(t);
    return s;
  }
};

std::string big(std::size_t n, char c = 'a') { return std::string(n, c); }

TEST_F(BadInputTest, TableOfBadRequests) {
  start({{"SC_SIGNUP_LIMITS", "off"}});  // the table alone is more than a burst
  // One good subscriber so that tokens and known addresses exist.
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "known@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  auto body = decode_quoted_printable(emails()[0]);
  auto confirm = *find_link(body, "/confirm/");
  auto unsub = *find_link(body, "/unsubscribe/");
  auto tampered_confirm = confirm;
  tampered_confirm.back() = tampered_confirm.back() == '0' ? '1' : '0';
  auto truncated_confirm = confirm.substr(0, confirm.size() - 10);
  // A confirm token used as an unsubscribe token (same id, wrong purpose).
  auto foreign = "/unsubscribe/" + confirm.substr(std::string("/confirm/").size());
  // A token signed with another key.
  auto other_key = "/confirm/c.1.9999999999.00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

  const std::string S = "/api/v1/subscriptions";
  const std::string J = "application/json";
  const std::string F = "application/x-www-form-urlencoded";
  const std::vector<BadRequest> table = {
      {"malformed json", "POST", S, J, "{\"email\": ", 422, "malformed_json"},
      {"json array body", "POST", S, J, "[\"a@example.org\"]", 422, "malformed_json"},
      {"json string body", "POST", S, J, "\"a@example.org\"", 422, "malformed_json"},
      {"empty json object", "POST", S, J, "{}", 422, "missing_contact", "email"},
      {"empty body", "POST", S, J, "", 422, "malformed_json"},
      {"array where string belongs", "POST", S, J, R"({"email":["a@example.org"]})", 422, "invalid_email", "email"},
      {"number where string belongs", "POST", S, J, R"({"email":42})", 422, "invalid_email", "email"},
      {"object where string belongs", "POST", S, J, R"({"email":{"$gt":""}})", 422, "invalid_email", "email"},
      {"topics not a list", "POST", S, J, R"({"email":"t@example.org","topics":"news"})", 422, "invalid_topics", "topics"},
      {"topics with numbers", "POST", S, J, R"({"email":"t@example.org","topics":[1,2]})", 422, "invalid_topics", "topics"},
      {"too many topics", "POST", S, J, json({{"email", "t@example.org"}, {"topics", std::vector<std::string>(21, "x")}}).dump(), 422, "invalid_topics", "topics"},
      {"deeply nested json", "POST", S, J, big(5000, '[') + big(5000, ']'), 422, "malformed_json"},
      {"invalid utf-8 in json", "POST", S, J, "{\"email\":\"\xff\xfe@example.org\"}", 422, "malformed_json"},
      {"no at sign", "POST", S, J, R"({"email":"not-an-address"})", 422, "invalid_email", "email"},
      {"two at signs", "POST", S, J, R"({"email":"a@b@example.org"})", 422, "invalid_email", "email"},
      {"no tld", "POST", S, J, R"({"email":"a@localhost"})", 422, "invalid_email", "email"},
      {"crlf in email", "POST", S, J, "{\"email\":\"a@example.org\\r\\nBcc: victim@example.org\"}", 422, "invalid_email", "email"},
      {"nul in email", "POST", S, J, "{\"email\":\"a\\u0000@example.org\"}", 422, "invalid_email", "email"},
      {"overlong email", "POST", S, J, json({{"email", big(250) + "@example.org"}}).dump(), 422, "invalid_email", "email"},
      {"overlong local part", "POST", S, J, json({{"email", big(65) + "@example.org"}}).dump(), 422, "invalid_email", "email"},
      {"unicode domain", "POST", S, J, R"({"email":"a@exämple.org"})", 422, "invalid_email", "email"},
      {"bidi override in name", "POST", S, J, "{\"email\":\"b@example.org\",\"first_name\":\"Bob\xE2\x80\xAEmoc\"}", 422, "invalid_first_name", "first_name"},
      {"markup in name", "POST", S, J, R"({"email":"b@example.org","first_name":"<a href=x>Win</a>"})", 422, "invalid_first_name", "first_name"},
      {"link in name", "POST", S, J, R"({"email":"b@example.org","first_name":"Visit evil.example"})", 422, "invalid_first_name", "first_name"},
      {"math bold digits in name", "POST", S, J, json({{"email", "b@example.org"}, {"first_name", "Refund pending call \U0001d7d6\U0001d7ce\U0001d7ce \U0001d7d3\U0001d7d3\U0001d7d3 \U0001d7ce\U0001d7cf\U0001d7d7\U0001d7d7 now"}}).dump(), 422, "invalid_first_name", "first_name"},
      {"fullwidth digits in name", "POST", S, J, json({{"email", "b@example.org"}, {"first_name", "Ann \uff18\uff10\uff10"}}).dump(), 422, "invalid_first_name", "first_name"},
      {"emoji in name", "POST", S, J, json({{"email", "b@example.org"}, {"first_name", "Ann \U0001f4b0"}}).dump(), 422, "invalid_first_name", "first_name"},
      {"www in name", "POST", S, J, R"({"email":"b@example.org","first_name":"www.evil"})", 422, "invalid_first_name", "first_name"},
      {"overlong name", "POST", S, J, json({{"email", "b@example.org"}, {"first_name", big(101)}}).dump(), 422, "invalid_first_name", "first_name"},
      {"bad postal code", "POST", S, J, R"({"email":"b@example.org","postal_code":"12345; DROP TABLE"})", 422, "invalid_postal_code", "postal_code"},
      {"phone without consent", "POST", S, J, R"({"phone":"+16502530000"})", 422, "sms_consent_required", "sms_consent"},
      {"invalid phone", "POST", S, J, R"({"phone":"12","sms_consent":true})", 422, "invalid_phone", "phone"},
      {"phone in a country not texted", "POST", S, J, R"({"phone":"+442079460000","sms_consent":true})", 422, "unsupported_country", "phone"},
      {"sms_consent not a bool", "POST", S, J, R"({"phone":"+16502530000","sms_consent":[true]})", 422, "invalid_sms_consent", "sms_consent"},
      {"form with bad escape", "POST", S, F, "email=a%ZZ%40example.org", 422, "malformed_body"},
      {"form duplicate email", "POST", S, F, "email=a%40example.org&email=b%40example.org", 422, "duplicate_field", "email"},
      {"json duplicate email", "POST", S, J, R"({"email":"a@example.org","email":"b@example.org"})", 422, "duplicate_field", "email"},
      {"form nul byte", "POST", S, F, "email=a%00%40example.org", 422, "invalid_email", "email"},
      {"form crlf in name", "POST", S, F, "email=c%40example.org&first_name=Eve%0D%0ABcc%3A%20x", 422, "invalid_first_name", "first_name"},
      {"wrong content type", "POST", S, "text/plain", "email=a@example.org", 415, "unsupported_media_type"},
      {"xml content type", "POST", S, "application/xml", "<email>a@example.org</email>", 415, "unsupported_media_type"},
      {"oversized body", "POST", S, J, "{\"email\":\"" + big(70000) + "\"}", 413, "payload_too_large"},
      {"unknown path", "GET", "/wp-admin/install.php", "", "", 404, "not_found"},
      {"unknown api path", "POST", "/api/v1/nope", J, "{}", 404, "not_found"},
      {"tampered confirm token", "POST", tampered_confirm, F, "", 400, "invalid_token"},
      {"truncated confirm token", "POST", truncated_confirm, F, "", 400, "invalid_token"},
      {"confirm token used to unsubscribe", "POST", foreign, F, "List-Unsubscribe=One-Click", 400, "invalid_token"},
      {"token signed with another key", "POST", other_key, F, "", 400, "invalid_token"},
      {"empty token", "POST", "/confirm/", F, "", 400, "invalid_token"},
      {"garbage token GET", "GET", "/unsubscribe/%00%0d%0a", "", "", 400, "invalid_token"},
      {"tampered token as a browser", "GET", tampered_confirm, "", "", 400, nullptr, nullptr, "text/html"},
      {"admin without key", "GET", "/api/v1/admin/subscribers?email=known@example.org", "", "", 401, "unauthorized"},
      {"browser 404", "GET", "/nope", "", "", 404, nullptr, nullptr, "text/html"},
  };
  ASSERT_GE(table.size(), 30u);
  const auto before = snapshot();
  const auto mails_before = emails().size();
  for (const auto& t : table) {
    httplib::Headers h{{"Accept", t.accept}};
    httplib::Result r = std::string(t.method) == "GET"
                            ? cli_->Get(t.path.c_str(), h)
                            : cli_->Post(t.path.c_str(), h, t.body, t.content_type.empty() ? "text/plain" : t.content_type.c_str());
    ASSERT_TRUE(r) << t.name << ": no response (" << httplib::to_string(r.error()) << ")";
    EXPECT_EQ(r->status, t.status) << t.name << ": " << r->body.substr(0, 300);
    if (std::string(t.accept) == "text/html") {
      EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos) << t.name;
      EXPECT_NE(r->body.find("<h1>"), std::string::npos) << t.name;
    } else {
      auto j = json::parse(r->body, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << t.name << ": not JSON: " << r->body.substr(0, 200);
      ASSERT_TRUE(j.contains("error") && j["error"].contains("code") && j["error"].contains("message")) << t.name << ": " << r->body;
      if (t.code) {
        EXPECT_EQ(j["error"]["code"], t.code) << t.name << ": " << r->body;
      }
      if (t.field) {
        EXPECT_EQ(j["error"]["field"], t.field) << t.name << ": " << r->body;
      }
    }
    // The service keeps serving after every one of them.
    auto health = cli_->Get("/healthz");
    ASSERT_TRUE(health && health->status == 200) << "after " << t.name;
  }
  EXPECT_EQ(snapshot(), before) << "a bad request changed the database";
  EXPECT_EQ(emails().size(), mails_before);
  EXPECT_EQ(email_state("known@example.org"), "pending");
}

TEST_F(BadInputTest, ExtraFieldsNeverChangeState) {
  start();
  auto r = post_json("/api/v1/subscriptions",
                     {{"email", "mass@example.org"}, {"state", "confirmed"}, {"status", "confirmed"},
                      {"id", 1}, {"subscriber_id", 1}, {"confirmed", true}, {"admin", true}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(email_state("mass@example.org"), "pending");
}

// Requests no client library would send, written to the socket directly.
TEST_F(BadInputTest, MalformedHttpDoesNotHurtTheService) {
  start();
  const std::vector<std::string> raw = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n",
      std::string("GET /\0x HTTP/1.1\r\nHost: x\r\n\r\n", 28),
      "GET / HTTP/1.1\r\n" + std::string(100000, 'X') + ": y\r\n\r\n",
  };
  for (const auto& req : raw) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(svc_->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof(buf), 0);
    ::close(fd);
    if (n > 12) {
      std::string status(buf + 9, 3);
      EXPECT_EQ(status[0], '4') << "for request starting " << req.substr(0, 40) << " got " << std::string(buf, static_cast<std::size_t>(n));
    }
    auto health = cli_->Get("/healthz");
    ASSERT_TRUE(health && health->status == 200);
  }
  EXPECT_EQ(count("channels"), 0);
}

TEST_F(BadInputTest, SignupsPerAddressAreLimitedUnlessLimitsAreOff) {
  start();
  int accepted = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = post_json("/api/v1/subscriptions", {{"email", "flood" + std::to_string(i) + "@example.org"}});
    ASSERT_TRUE(r);
    if (r->status == 202) ++accepted;
    if (r->status == 429) {
      ++limited;
      EXPECT_EQ(json::parse(r->body)["error"]["code"], "rate_limited");
      EXPECT_EQ(r->get_header_value("Retry-After"), "60");
    }
  }
  EXPECT_EQ(accepted + limited, 40);
  EXPECT_GE(accepted, 30);
  EXPECT_LE(accepted, 31);  // a token may refill during the loop
  EXPECT_EQ(count("channels"), accepted);  // a refused sign-up changed nothing
  restart();
  svc_->stop();
  svc_->env()["SC_SIGNUP_LIMITS"] = "off";
  ASSERT_TRUE(svc_->start());
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "open" + std::to_string(i) + "@example.org"}})->status, 202);
  }
}

}  // namespace
}  // namespace sc::testing
