// The hardened HTTP edge (issue 7 point 5): every attack the security review
// reproduced on cpp-httplib 0.11.4, sent as raw bytes to a real EdgeServer on
// 127.0.0.1 port 0. Each rejected request is followed by a smuggled second
// request, which must never be answered.
#include "http/edge_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "http/elastic_pool.h"
#include "support/edge_server_probe.h"
#include "support/raw_http.h"
#include "support/wait_for.h"

namespace sc::detail {
namespace {

using sc::testing::count_responses;
using sc::testing::first_status;
using sc::testing::RawConnection;
using sc::testing::wait_for;
using namespace std::chrono_literals;

constexpr std::size_t kLimit = 4096;
// A request that must not be answered when it follows a rejected one.
constexpr std::string_view kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

class EdgeTest : public ::testing::Test {
 protected:
  void start(EdgeOptions o = {}) {
    o.max_body_bytes = kLimit;
    svr_ = std::make_unique<EdgeServer>(o);
    svr_->set_payload_max_length(std::max(kLimit, o.max_large_body_bytes));
    svr_->new_task_queue = [] { return new ElasticPool(4, 256); };
    svr_->Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts_;
      res.set_content(std::to_string(req.body.size()) + ":" + req.body, "text/plain");
    });
    svr_->Post("/big", [this](const httplib::Request& req, httplib::Response& res) {
      ++posts_;
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    svr_->Get("/page", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(8192, 'p'), "text/html");
    });
    svr_->Get("/whoami", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.remote_addr + "|" + req.get_header_value("X-Test"), "text/plain");
    });
    svr_->Get("/smuggled", [this](const httplib::Request&, httplib::Response& res) {
      ++smuggled_;
      res.set_content("smuggled", "text/plain");
    });
    port_ = svr_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { svr_->listen_after_bind(); });
    ASSERT_TRUE(wait_for([this] { return svr_->is_running(); }));
  }
  void TearDown() override {
    if (svr_) svr_->stop();
    if (thread_.joinable()) thread_.join();
  }

  // Sends `attack` followed by a smuggled request; expects one answer with
  // `status`, the connection closed, and the second request never served.
  void expect_refused_and_closed(const std::string& attack, int status) {
    RawConnection c(port_);
    ASSERT_TRUE(c.connected());
    c.send(attack + std::string(kSmuggled));
    auto got = c.read_until_close();
    EXPECT_TRUE(c.closed()) << "the connection was left open after:\n" << attack.substr(0, 200);
    EXPECT_EQ(first_status(got), status) << got.substr(0, 300);
    EXPECT_EQ(count_responses(got), 1) << got.substr(0, 600);
    EXPECT_NE(got.find("Connection: close"), std::string::npos);
    EXPECT_EQ(smuggled_.load(), 0);
    EXPECT_EQ(posts_.load(), 0) << "the rejected request reached its handler";
  }

  std::unique_ptr<EdgeServer> svr_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> posts_{0}, smuggled_{0};
};

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

TEST_F(EdgeTest, ChunkedBodyOverTheLimitIs413AndClosed) {
  start();
  std::string attack = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 9; ++i) attack += chunk(std::string(512, 'a'));  // 4,608 > 4,096
  attack += "0\r\n\r\n";
  expect_refused_and_closed(attack, 413);
}

TEST_F(EdgeTest, ChunkedBodyWithinTheLimitIsDecodedAndTheConnectionKept) {
  start();
  RawConnection c(port_);
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n" + chunk("hello ") +
         "5;ext=1\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n" + std::string(kSmuggled));
  auto got =
      c.read_until([](const std::string& s) { return s.find("smuggled") != std::string::npos; });
  EXPECT_EQ(first_status(got), 200);
  EXPECT_NE(got.find("11:hello world"), std::string::npos) << got;
  // A well-framed pipelined request is answered: the framing is ours, not a guess.
  EXPECT_EQ(count_responses(got), 2);
  EXPECT_FALSE(c.closed());
}

TEST_F(EdgeTest, ContentLengthOverTheLimitIs413AndClosed) {
  start();
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n" +
                                std::string(1000, 'a'),
                            413);
}

// SendGrid posts its events in batches larger than any form: one path may
// take larger bodies, every other keeps the limit.
TEST_F(EdgeTest, OnePathTakesLargerBodiesOthersKeepTheLimit) {
  EdgeOptions o;
  o.large_body_path = "/big";
  o.max_large_body_bytes = 4 * kLimit;
  start(o);
  const std::string body(3 * kLimit, 'e');
  {
    RawConnection c(port_);
    c.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
    auto got =
        c.read_until([](const std::string& s) { return s.find("12288") != std::string::npos; });
    EXPECT_EQ(first_status(got), 200) << got.substr(0, 300);
  }
  {
    RawConnection c(port_);
    c.send("POST /big?from=sendgrid HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
           chunk(body) + "0\r\n\r\n");
    auto got =
        c.read_until([](const std::string& s) { return s.find("12288") != std::string::npos; });
    EXPECT_EQ(first_status(got), 200) << got.substr(0, 300);
  }
  EXPECT_EQ(posts_.load(), 2);
  posts_ = 0;
  expect_refused_and_closed("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                std::to_string(4 * kLimit + 1) + "\r\n\r\n",
                            413);
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body,
                            413);
  expect_refused_and_closed("POST /bigger HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body,
                            413);
}

TEST_F(EdgeTest, AnUnservedHttpVersionIs400NotA5xx) {
  start();
  expect_refused_and_closed("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400);
  expect_refused_and_closed("GET /healthz HTTP/9\r\nHost: x\r\n\r\n", 400);
}

TEST_F(EdgeTest, CompressedRequestBodyIs415AndClosed) {
  start();
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
      415);
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 4\r\n\r\nabcd",
      415);
}

TEST_F(EdgeTest, PostWithoutLengthOrTransferEncodingHasAnEmptyBody) {
  start();
  RawConnection c(port_);
  // RFC 9112 §6.3: no Content-Length and no Transfer-Encoding means no body;
  // the bytes that follow are the next request, answered without waiting
  // for the client to close.
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(kSmuggled));
  auto got = c.read_until(
      [](const std::string& s) { return s.find("smuggled") != std::string::npos; }, 3s);
  EXPECT_EQ(first_status(got), 200);
  EXPECT_NE(got.find("\r\n\r\n0:"), std::string::npos) << got;
  EXPECT_EQ(count_responses(got), 2);
}

TEST_F(EdgeTest, RangeIsIgnoredOnDynamicPages) {
  start();
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 2700; ++i) ranges += ",0-";
  RawConnection c(port_);
  c.send("GET /page HTTP/1.1\r\nHost: x\r\nRange: " + ranges + "\r\nConnection: close\r\n\r\n");
  auto got = c.read_until_close();
  EXPECT_EQ(first_status(got), 200) << got.substr(0, 200);
  EXPECT_NE(got.find("Content-Length: 8192\r\n"), std::string::npos);
  EXPECT_EQ(got.find("multipart/byteranges"), std::string::npos);
  EXPECT_LT(got.size(), 9000u);
}

TEST_F(EdgeTest, MoreThan100HeadersIs431AndClosed) {
  start();
  std::string head = "GET /page HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";  // 101 with Host
  expect_refused_and_closed(head + "\r\n", 431);
}

TEST_F(EdgeTest, OneHundredHeadersAreServed) {
  start();
  std::string head = "GET /page HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 98; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  RawConnection c(port_);
  c.send(head + "Connection: close\r\n\r\n");
  EXPECT_EQ(first_status(c.read_until_close()), 200);
}

TEST_F(EdgeTest, AHugeHeadIs431BeforeItIsStored) {
  start();
  RawConnection c(port_);
  std::string head = "GET /page HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 100; ++i)
    head += "X-Big: " + std::string(1000, 'b') + "\r\n";  // 100 KB, no end yet
  c.send(head);
  auto got = c.read_until_close();
  EXPECT_EQ(first_status(got), 431);
  EXPECT_TRUE(c.closed());
}

TEST_F(EdgeTest, TwoDifferentContentLengthsAre400AndClosed) {
  start();
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd", 400);
}

TEST_F(EdgeTest, ContentLengthWithChunkedIs400AndClosed) {
  start();
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
          chunk("abcd") + "0\r\n\r\n",
      400);
}

TEST_F(EdgeTest, IdentityThenChunkedIs400AndClosed) {
  start();
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n" +
          chunk("abcd") + "0\r\n\r\n",
      400);
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      400);
}

TEST_F(EdgeTest, MalformedContentLengthIs400AndClosed) {
  start();
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4x\r\n\r\nabcd",
                            400);
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nabcd",
                            400);
}

TEST_F(EdgeTest, PercentEncodedTransferEncodingIsNotDecoded) {
  start();
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %63hunked\r\n\r\n" + chunk("abcd") +
          "0\r\n\r\n",
      400);
}

TEST_F(EdgeTest, HeaderValuesReachHandlersAsSent) {
  start();
  RawConnection c(port_);
  c.send(
      "GET /whoami HTTP/1.1\r\nHost: x\r\nX-Test: a%41b%0d%0aInjected: 1\r\nConnection: "
      "close\r\n\r\n");
  auto got = c.read_until_close();
  EXPECT_NE(got.find("|a%41b%0d%0aInjected: 1"), std::string::npos) << got;
}

TEST_F(EdgeTest, ObsoleteLineFoldingAndSpaceBeforeColonAre400) {
  start();
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd",
                            400);
  expect_refused_and_closed(
      "POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\nContent-Length: 4\r\n\r\nabcd", 400);
  expect_refused_and_closed("POST /echo HTTP/1.1\r\nHost: x\nContent-Length: 4\r\n\r\nabcd", 400);
}

TEST_F(EdgeTest, TheWholeHeadMustArriveWithinTheDeadline) {
  EdgeOptions o;
  o.head_timeout = 600ms;
  start(o);
  RawConnection c(port_);
  const auto t0 = std::chrono::steady_clock::now();
  c.send("GET /page HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  // One byte every 100 ms: each recv succeeds, only the total deadline can end it.
  while (c.send("a") && std::chrono::steady_clock::now() - t0 < 5s) {
    c.read_until([](const std::string&) { return false; }, 100ms);
    if (c.closed()) break;
  }
  auto got = c.read_until_close(1s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(first_status(got), 408) << got;
  EXPECT_TRUE(c.closed());
  EXPECT_LT(took, 3s) << "the deadline is per head, not per recv";
}

TEST_F(EdgeTest, AnIpOverItsConnectionCapIsClosedAtOnceWhileOthersAreServed) {
  EdgeOptions o;
  o.max_connections_per_ip = 4;
  start(o);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConnection>(port_));
    held.back()->send("GET /page HTTP/1.1\r\n");  // a head that never ends
  }
  ASSERT_TRUE(wait_for([&] { return EdgeServerProbe::open_connections(*svr_) == 4; }));
  RawConnection extra(port_);
  extra.send("GET /page HTTP/1.1\r\nHost: x\r\n\r\n");
  auto got = extra.read_until_close(2s);
  EXPECT_TRUE(extra.closed());
  EXPECT_EQ(count_responses(got), 0);
  EXPECT_EQ(EdgeServerProbe::refused_connections(*svr_), 1u);
  // Another client is served meanwhile.
  RawConnection other(port_, "127.0.0.2");
  ASSERT_TRUE(other.connected());
  other.send("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto body = other.read_until_close(2s);
  EXPECT_EQ(first_status(body), 200);
  EXPECT_NE(body.find("127.0.0.2|"), std::string::npos);
  // A slot freed is a slot again.
  held.pop_back();
  ASSERT_TRUE(wait_for([&] { return EdgeServerProbe::open_connections(*svr_) == 3; }));
  RawConnection again(port_);
  again.send("GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(first_status(again.read_until_close(2s)), 200);
}

TEST_F(EdgeTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  start();  // trusts nobody
  {
    RawConnection c(port_);
    c.send(
        "GET /whoami HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: "
        "close\r\n\r\n");
    EXPECT_NE(c.read_until_close().find("\r\n\r\n127.0.0.1|"), std::string::npos);
  }
  TearDown();
  EdgeOptions o;
  o.trusted_proxies = CidrSet::parse("127.0.0.0/8").value();
  start(o);
  RawConnection c(port_);
  c.send(
      "GET /whoami HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1, "
      "203.0.113.9\r\nX-Forwarded-For: 127.0.0.5\r\nConnection: close\r\n\r\n");
  EXPECT_NE(c.read_until_close().find("\r\n\r\n203.0.113.9|"), std::string::npos);
}

TEST_F(EdgeTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  start();
  RawConnection c(port_);
  c.send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: "
      "close\r\n\r\n");
  auto interim = c.read_until(
      [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }, 2s);
  EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << interim;
  c.send("abcd");
  auto got = c.read_until_close();
  EXPECT_NE(got.find("4:abcd"), std::string::npos) << got;
}

TEST(CidrSet, MatchesIpv4AndIpv6NetworksAndRefusesGarbage) {
  auto set = CidrSet::parse("10.0.0.0/8, 192.168.1.7 fd00::/8,::1");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->contains("10.200.3.4"));
  EXPECT_TRUE(set->contains("::ffff:10.1.1.1"));
  EXPECT_FALSE(set->contains("11.0.0.1"));
  EXPECT_TRUE(set->contains("192.168.1.7"));
  EXPECT_FALSE(set->contains("192.168.1.8"));
  EXPECT_TRUE(set->contains("fd12:3456::1"));
  EXPECT_TRUE(set->contains("::1"));
  EXPECT_FALSE(set->contains("fe80::1"));
  EXPECT_FALSE(set->contains("not-an-ip"));
  EXPECT_FALSE(CidrSet::parse("10.0.0.0/33").ok());
  EXPECT_FALSE(CidrSet::parse("fd00::/129").ok());
  EXPECT_FALSE(CidrSet::parse("example.com").ok());
  EXPECT_FALSE(CidrSet::parse("10.0.0.0/").ok());
  EXPECT_TRUE(CidrSet::parse("").ok());
  EXPECT_TRUE(CidrSet::parse("").value().empty());
}

TEST(ClientAddress, TakesTheRightmostUntrustedHop) {
  auto trusted = CidrSet::parse("10.0.0.0/8").value();
  EXPECT_EQ(client_address("192.0.2.1", {"203.0.113.9"}, trusted),
            "192.0.2.1");  // peer not trusted
  EXPECT_EQ(client_address("10.0.0.1", {"1.1.1.1, 203.0.113.9"}, trusted), "203.0.113.9");
  EXPECT_EQ(client_address("10.0.0.1", {"1.1.1.1, 203.0.113.9, 10.0.0.2"}, trusted), "203.0.113.9");
  EXPECT_EQ(client_address("10.0.0.1", {"203.0.113.9", "10.0.0.2"}, trusted), "203.0.113.9");
  EXPECT_EQ(client_address("10.0.0.1", {"10.0.0.3"}, trusted), "10.0.0.3");
  EXPECT_EQ(client_address("10.0.0.1", {}, trusted), "10.0.0.1");
  EXPECT_EQ(client_address("10.0.0.1", {"1.1.1.1, garbage, 10.0.0.2"}, trusted), "10.0.0.2");
  EXPECT_EQ(client_address("10.0.0.1", {"2001:db8::1"}, trusted), "2001:db8::1");
  EXPECT_EQ(client_address("::ffff:10.0.0.1", {"203.0.113.9"}, trusted), "203.0.113.9");
}

TEST(ElasticPool, ReapsThreadsThatIdleAboveTheMinimum) {
  ElasticPool pool(2, 16, 100ms);
  std::atomic<bool> release{false};
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) {
    pool.enqueue([&] {
      while (!release) std::this_thread::sleep_for(1ms);
      ++done;
    });
  }
  EXPECT_TRUE(wait_for([&] { return pool.threads() >= 10; }));
  release = true;
  EXPECT_TRUE(wait_for([&] { return done == 10; }));
  EXPECT_TRUE(wait_for([&] { return pool.threads() == 2; }, 5s));
  // And it still grows and serves after reaping.
  pool.enqueue([&] { ++done; });
  EXPECT_TRUE(wait_for([&] { return done == 11; }));
  pool.shutdown();
}

}  // namespace
}  // namespace sc::detail
