// The hardened edge in the real binary: the attacks reach the real routes
// (the unit tests in tests/unit/http/edge_server_test.cpp cover each one in
// detail), and behind a real nginx the consent log records the client's
// address, not the proxy's.
#include <gtest/gtest.h>

#include "service_fixture.h"
#include "support/nginx.h"
#include "support/raw_http.h"

namespace sc::testing {
namespace {

constexpr std::string_view kSmuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

class EdgeServiceTest : public ServiceTest {
 protected:
  // Sends `attack` and a smuggled request on one connection; expects one
  // answer with `status` and the connection closed.
  void expect_refused(const std::string& attack, int status) {
    RawConnection c(svc_->port());
    ASSERT_TRUE(c.connected());
    c.send(attack + std::string(kSmuggled));
    auto got = c.read_until_close();
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(first_status(got), status) << got.substr(0, 300);
    EXPECT_EQ(count_responses(got), 1) << got.substr(0, 600);
  }
};

TEST_F(EdgeServiceTest, AttacksOnTheRealRoutesAreRefusedAndTheConnectionClosed) {
  start();
  // A chunked sign-up over the 64 KB limit.
  std::string chunked =
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 80; ++i) chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
  expect_refused(chunked + "0\r\n\r\n", 413);
  expect_refused(
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
      415);
  expect_refused(
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: %63hunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
      400);
  expect_refused(
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: "
      "3\r\n\r\n{}",
      400);
  // Range on the sign-up page: the whole page, once.
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 2700; ++i) ranges += ",0-";
  RawConnection c(svc_->port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\nRange: " + ranges + "\r\nConnection: close\r\n\r\n");
  auto page = c.read_until_close();
  EXPECT_EQ(first_status(page), 200);
  EXPECT_EQ(page.find("multipart/byteranges"), std::string::npos);
  EXPECT_LT(page.size(), 64u * 1024);
  // Nothing was signed up by any of it.
  EXPECT_EQ(count("subscribers"), 0);
}

// Signs up `email` through `port` from `source`, with a forged X-Forwarded-For.
int sign_up_from(int port, const std::string& source, const std::string& email) {
  RawConnection c(port, source);
  if (!c.connected()) return 0;
  std::string body = R"({"email":")" + email + R"("})";
  c.send(
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: signup.example.org\r\nContent-Type: "
      "application/json\r\n"
      "X-Forwarded-For: 6.6.6.6\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  return first_status(c.read_until_close());
}

TEST_F(EdgeServiceTest, BehindNginxTheConsentLogRecordsTheRealClientIp) {
  const auto nginx = nginx_binary();
  if (nginx.empty()) GTEST_SKIP() << "nginx is not installed (scripts/install-deps.sh installs it)";
  start({{"SC_TRUSTED_PROXIES", "127.0.0.1/32, ::1"}});
  const int port = free_port();
  NginxProcess proxy(dir_.str("nginx"),
                     "  upstream stayconnected { server 127.0.0.1:" + std::to_string(svc_->port()) +
                         "; keepalive 8; }\n"
                         "  limit_conn_zone $binary_remote_addr zone=sc_per_ip:1m;\n"
                         "  server {\n    listen 127.0.0.1:" +
                         std::to_string(port) + ";\n    include " + SC_SOURCE_DIR +
                         "/deploy/nginx/stayconnected-proxy.conf;\n  }\n",
                     port);
  ASSERT_TRUE(proxy.ready()) << proxy.log();

  // Through nginx from 127.0.0.2: nginx appends 127.0.0.2 to the forged
  // header; the service trusts nginx (127.0.0.1) and takes that hop.
  ASSERT_EQ(sign_up_from(port, "127.0.0.2", "via-proxy@example.org"), 202) << proxy.log();
  auto via = admin_lookup("via-proxy@example.org");
  ASSERT_FALSE(via.is_null());
  ASSERT_FALSE(via["consent_log"].empty());
  EXPECT_EQ(via["consent_log"][0]["ip"], "127.0.0.2") << via.dump();

  // Straight to the service from 127.0.0.3, which is not a trusted proxy:
  // its forged X-Forwarded-For is not believed.
  ASSERT_EQ(sign_up_from(svc_->port(), "127.0.0.3", "direct@example.org"), 202);
  auto direct = admin_lookup("direct@example.org");
  ASSERT_FALSE(direct.is_null());
  EXPECT_EQ(direct["consent_log"][0]["ip"], "127.0.0.3") << direct.dump();

  // The proxy's own limits hold too: a body over 64 KB stops at nginx.
  RawConnection big(port, "127.0.0.2");
  big.send(
      "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: 70000\r\n\r\n");
  // (nginx then lingers for the body it refused: read the answer, not until close.)
  EXPECT_EQ(first_status(big.read_until(
                [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; })),
            413);
}

}  // namespace
}  // namespace sc::testing
