#include "sc/providers/smtp_email_sender.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <set>

#include "provider_test_util.h"
#include "sc/providers/mime.h"
#include "support/temp_dir.h"
#include "support/wait_for.h"

namespace sc::providers {
namespace {

using nlohmann::json;
using sc::testing::TempDir;

const std::filesystem::path kHere =
    (std::filesystem::path(SC_SOURCE_DIR) / "tests" / "unit" / "providers");
const std::filesystem::path kServer = kHere / ".." / ".." / "support" / "smtp_server.py";

// The aiosmtpd server from tests/support, on 127.0.0.1:<ephemeral>.
class SmtpServer {
 public:
  explicit SmtpServer(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {sc::provider_testing::python3(), kServer.string(), "--outdir",
                                     dir_.path().string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    child_ = std::make_unique<sc::provider_testing::Child>(argv);
    auto line = child_->read_line();
    if (!line || line->rfind("PORT ", 0) != 0)
      throw std::runtime_error("smtp_server.py did not start");
    port_ = std::stoi(line->substr(5));
  }
  int port() const { return port_; }
  std::string url(const std::string& userinfo = "") const {
    return "smtp://" + userinfo + "127.0.0.1:" + std::to_string(port_);
  }
  bool wait_messages(int n) {
    return sc::testing::wait_for(
        [&] { return std::filesystem::exists(dir_ / ("msg-" + std::to_string(n) + ".eml")); });
  }
  std::string raw(int n) const {
    return sc::provider_testing::read_file(dir_ / ("msg-" + std::to_string(n) + ".eml"));
  }
  json meta(int n) const {
    return json::parse(
        sc::provider_testing::read_file(dir_ / ("msg-" + std::to_string(n) + ".json")));
  }
  int message_count() const {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
      n += e.path().extension() == ".eml";
    return n;
  }

 private:
  TempDir dir_;
  std::unique_ptr<sc::provider_testing::Child> child_;
  int port_ = 0;
};

OutboundEmail sample(std::int64_t id = 1, std::string to = "alice@example.org") {
  OutboundEmail m;
  m.outbox_id = id;
  m.message_id = "msg" + std::to_string(id) + ".test@example.com";
  m.date_unix = 1795828249;
  m.from = {"news@example.com", "Example News"};
  m.to = {std::move(to), "Alice Ünicode"};
  m.subject = "Grüße, digest #" + std::to_string(id);
  m.text = "Hello,\n.hidden line starting with a dot\n..two dots\n.\nbye\n";
  m.html = "<p>Hello</p>\n.<p>dot</p>\n";
  m.list_unsubscribe_url = "https://example.com/u/tok" + std::to_string(id);
  return m;
}

SmtpConfig plain(const std::string& url) {
  SmtpConfig c;
  c.url = url;
  c.tls = SmtpTls::kNone;
  c.connect_timeout_ms = 5000;
  c.timeout_ms = 10000;
  return c;
}

std::string header_block(const std::string& mime) {
  return mime.substr(0, mime.find("\r\n\r\n") + 2);
}

TEST(SmtpUrl, ParsesUserPassHostPortAndDefaults) {
  auto u = parse_smtp_url("smtp://us%20er:p%40ss%3Aw@mail.example.com:2525");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, "smtp");
  EXPECT_EQ(u->host, "mail.example.com");
  EXPECT_EQ(u->port, 2525);
  EXPECT_EQ(u->username, "us er");
  EXPECT_EQ(u->password, "p@ss:w");
  EXPECT_FALSE(u->tls.has_value());

  EXPECT_EQ(parse_smtp_url("smtp://relay.local")->port, 587);
  EXPECT_EQ(parse_smtp_url("smtps://relay.local")->port, 465);
  EXPECT_EQ(parse_smtp_url("SMTPS://apikey:SG.x@smtp.sendgrid.net")->username, "apikey");
  EXPECT_EQ(parse_smtp_url("smtp://[::1]:25")->host, "[::1]");
  EXPECT_EQ(parse_smtp_url("smtp://localhost:25?tls=none")->tls, SmtpTls::kNone);
}

TEST(SmtpUrl, RejectsWhatDoesNotParse) {
  for (const char* bad :
       {"", "localhost:25", "http://host", "smtp://", "smtp://host:0", "smtp://host:99999",
        "smtp://host:2x", "smtp://u:p@:25", "smtp://host?tls=maybe", "smtps://host?tls=none",
        "smtp://u:%zz@host", "smtp://ho\r\nst"}) {
    auto u = parse_smtp_url(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_EQ(u.error().code, "invalid_smtp_url");
      EXPECT_EQ(u.error().message.find('\n'), std::string::npos);
    }
  }
}

TEST(SmtpSender, DeliversHeadersMimeAndDotLinesIntact) {
  SmtpServer server;
  SmtpConfig cfg = plain(server.url());
  cfg.envelope_from = "bounces@example.com";
  SmtpEmailSender sender(cfg);
  OutboundEmail m = sample();
  SendResult r = sender.send(m);
  ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  EXPECT_EQ(r.provider_code, "smtp:250");
  EXPECT_NE(r.provider_message.find("queued as TEST1"), std::string::npos) << r.provider_message;
  EXPECT_EQ(r.provider_message_id, m.message_id);

  ASSERT_TRUE(server.wait_messages(1));
  std::string raw = server.raw(1);
  json meta = server.meta(1);
  EXPECT_EQ(meta["mail_from"], "bounces@example.com");  // envelope sender apart from From
  EXPECT_EQ(meta["rcpt_tos"], json::array({"alice@example.org"}));

  std::string head = header_block(raw);
  EXPECT_NE(head.find("From: \"Example News\" <news@example.com>\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Message-ID: <msg1.test@example.com>\r\n"), std::string::npos);
  EXPECT_NE(head.find("List-Unsubscribe: <https://example.com/u/tok1>\r\n"), std::string::npos);
  EXPECT_NE(head.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), std::string::npos);
  EXPECT_NE(head.find("Content-Type: multipart/alternative;"), std::string::npos);
  // libcurl dot-stuffed, the server unstuffed: the lines arrive as written.
  EXPECT_NE(raw.find("\r\n.hidden line starting with a dot\r\n..two dots\r\n.\r\nbye\r\n"),
            std::string::npos)
      << raw;
  EXPECT_NE(raw.find("\r\n.<p>dot</p>\r\n"), std::string::npos);
  // The received bytes are the MIME builder's (apart from the random boundary).
  std::string expected = build_mime(m);
  auto boundary = [](const std::string& s) {
    auto p = s.find("boundary=\"") + 10;
    return s.substr(p, s.find('"', p) - p);
  };
  std::string b_raw = boundary(raw), b_exp = boundary(expected);
  for (auto p = expected.find(b_exp); p != std::string::npos; p = expected.find(b_exp, p)) {
    expected.replace(p, b_exp.size(), b_raw);
    p += b_raw.size();
  }
  EXPECT_EQ(raw, expected);
}

TEST(SmtpSender, EnvelopeFromDefaultsToFromAndMessageOverrides) {
  SmtpServer server;
  SmtpEmailSender sender(plain(server.url()));
  OutboundEmail a = sample(1);
  ASSERT_EQ(sender.send(a).status, SendStatus::kSent);
  OutboundEmail b = sample(2);
  b.envelope_from = "bounce+2@example.com";
  ASSERT_EQ(sender.send(b).status, SendStatus::kSent);
  ASSERT_TRUE(server.wait_messages(2));
  EXPECT_EQ(server.meta(1)["mail_from"], "news@example.com");
  EXPECT_EQ(server.meta(2)["mail_from"], "bounce+2@example.com");
}

TEST(SmtpSender, RejectedRecipientIsPermanentWithTheServersTextThenNextSends) {
  SmtpServer server({"--reject-rcpt", "nobody@example.org"});
  SmtpEmailSender sender(plain(server.url()));
  SendResult r = sender.send(sample(1, "nobody@example.org"));
  EXPECT_EQ(r.status, SendStatus::kPermanent);
  EXPECT_EQ(r.provider_code, "smtp:550");
  EXPECT_NE(r.provider_message.find("Recipient address rejected"), std::string::npos)
      << r.provider_message;
  EXPECT_NE(r.provider_message.find("5.1.1"), std::string::npos);

  SendResult ok = sender.send(sample(2));
  EXPECT_EQ(ok.status, SendStatus::kSent) << ok.provider_code << " " << ok.provider_message;
  ASSERT_TRUE(server.wait_messages(1));
  EXPECT_EQ(server.message_count(), 1);
}

// Issue 10: a recipient the server refuses as an address (550, 551, 553 at
// RCPT) is undeliverable; the same codes as a policy refusal (5.7.x) or
// after the data (the message's content) are not about the address.
TEST(SmtpSender, RecipientRejectionsMakeTheAddressUndeliverable) {
  SmtpServer server({"--reject-rcpt", "gone@example.org", "--rcpt-reply",
                     "moved@example.org=551 5.1.6 User not local; please try <m@example.net>",
                     "--rcpt-reply", "bad@example.org=553 5.1.3 Mailbox name not allowed",
                     "--rcpt-reply", "plain@example.org=550 Requested action not taken",
                     "--rcpt-reply", "policy@example.org=550 5.7.1 Client host blocked",
                     "--rcpt-reply", "busy@example.org=450 4.2.1 Mailbox busy"});
  SmtpEmailSender sender(plain(server.url()));
  struct Want {
    const char* to;
    const char* code;
    SendStatus status;
    bool undeliverable;
  };
  for (const auto& w : {Want{"gone@example.org", "smtp:550", SendStatus::kPermanent, true},
                        Want{"moved@example.org", "smtp:551", SendStatus::kPermanent, true},
                        Want{"bad@example.org", "smtp:553", SendStatus::kPermanent, true},
                        Want{"plain@example.org", "smtp:550", SendStatus::kPermanent, true},
                        Want{"policy@example.org", "smtp:550", SendStatus::kPermanent, false},
                        Want{"busy@example.org", "smtp:450", SendStatus::kRetryable, false}}) {
    SendResult r = sender.send(sample(1, w.to));
    EXPECT_EQ(r.status, w.status) << w.to << " " << r.provider_message;
    EXPECT_EQ(r.provider_code, w.code) << w.to;
    EXPECT_EQ(r.recipient_undeliverable, w.undeliverable) << w.to << " " << r.provider_message;
    EXPECT_FALSE(r.ambiguous) << w.to;
  }
  EXPECT_EQ(server.message_count(), 0);
  // The session recovers: the next address is fine.
  EXPECT_EQ(sender.send(sample(2)).status, SendStatus::kSent);
}

TEST(SmtpSender, ARefusalAfterTheDataIsAboutTheMessageNotTheAddress) {
  SmtpServer server({"--data-reply", "550 5.7.1 Message content rejected as spam"});
  SmtpEmailSender sender(plain(server.url()));
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kPermanent) << r.provider_message;
  EXPECT_EQ(r.provider_code, "smtp:550");
  EXPECT_NE(r.provider_message.find("content rejected"), std::string::npos) << r.provider_message;
  EXPECT_FALSE(r.recipient_undeliverable);
  EXPECT_FALSE(r.ambiguous);
}

TEST(SmtpSender, NoAnswerAfterTheDataIsAmbiguous) {
  SmtpServer server({"--silent-after-data"});
  SmtpConfig cfg = plain(server.url());
  // Long enough for the greeting, MAIL, RCPT and DATA on a loaded machine;
  // the wait that times out is the one after the data.
  cfg.timeout_ms = 4000;
  SmtpEmailSender sender(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  SendResult r = sender.send(sample());
  // The timeout, then at most as long again for the QUIT that closes the
  // failed session (libcurl's own default wait for it is 120 s).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:28") << r.provider_message;
  EXPECT_TRUE(r.ambiguous) << r.provider_message;
  EXPECT_FALSE(r.recipient_undeliverable);
}

TEST(SmtpSender, TemporaryFailureIsRetryableThenTheRetrySends) {
  SmtpServer server({"--tempfail-data", "1"});
  SmtpEmailSender sender(plain(server.url()));
  OutboundEmail m = sample(7);
  SendResult first = sender.send(m);
  EXPECT_EQ(first.status, SendStatus::kRetryable);
  EXPECT_EQ(first.provider_code, "smtp:451");
  EXPECT_NE(first.provider_message.find("try again later"), std::string::npos)
      << first.provider_message;
  SendResult second = sender.send(m);
  EXPECT_EQ(second.status, SendStatus::kSent) << second.provider_message;
  ASSERT_TRUE(server.wait_messages(1));
  EXPECT_EQ(server.message_count(), 1);
}

TEST(SmtpSender, DroppedConnectionIsRetryable) {
  for (const char* when : {"mail", "data"}) {
    SmtpServer server({"--drop-on", when});
    SmtpEmailSender sender(plain(server.url()));
    SendResult r = sender.send(sample());
    EXPECT_EQ(r.status, SendStatus::kRetryable) << when;
    EXPECT_EQ(r.provider_code.rfind("curl:", 0), 0u) << when << " " << r.provider_code;
    EXPECT_FALSE(r.provider_message.empty());
    // Dropped after the whole message went out, the server may have taken
    // it: ambiguous (a broadcast message then ends unknown, never resent).
    // Dropped at MAIL FROM, nothing was taken.
    EXPECT_EQ(r.ambiguous, std::string(when) == "data") << when;
  }
}

TEST(SmtpSender, ConnectionRefusedIsRetryable) {
  // A port that was just free: bind, read the number, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  SmtpEmailSender sender(plain("smtp://127.0.0.1:" + std::to_string(ntohs(a.sin_port))));
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:7") << r.provider_message;
}

TEST(SmtpSender, SilentServerTimesOutRetryable) {
  // Listening but never accepting: the TCP connect succeeds, no greeting comes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  SmtpConfig cfg = plain("smtp://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  cfg.timeout_ms = 300;
  SmtpEmailSender sender(cfg);
  auto t0 = std::chrono::steady_clock::now();
  SendResult r = sender.send(sample());
  ::close(fd);
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:28") << r.provider_message;
  EXPECT_FALSE(r.ambiguous);  // nothing was sent
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(SmtpSender, StartTlsRequiredAgainstAServerWithoutItSendsNothing) {
  SmtpServer server;
  SmtpConfig cfg = plain(server.url());
  cfg.tls = SmtpTls::kRequired;
  SmtpEmailSender sender(cfg);
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "curl:" + std::to_string(64))
      << r.provider_message;  // CURLE_USE_SSL_FAILED
  EXPECT_NE(r.provider_message.find("SSL"), std::string::npos) << r.provider_message;
  EXPECT_EQ(server.message_count(), 0);
}

TEST(SmtpSender, UrlTlsNoneWinsOverConfig) {
  SmtpServer server;
  SmtpConfig cfg = plain(server.url() + "?tls=none");
  cfg.tls = SmtpTls::kRequired;
  SmtpEmailSender sender(cfg);
  EXPECT_EQ(sender.send(sample()).status, SendStatus::kSent);
}

TEST(SmtpSender, StartTlsWithASelfSignedCertificateOneConnectionForAll) {
  TempDir certs;
  const auto [cert, key] = sc::provider_testing::self_signed_certificate(certs);
  SmtpServer server({"--tls-cert", cert, "--tls-key", key});
  SmtpConfig cfg = plain(server.url());
  cfg.tls = SmtpTls::kRequired;
  cfg.ca_file = cert;
  SmtpEmailSender sender(cfg);
  for (int i = 1; i <= 3; ++i) {
    SendResult r = sender.send(sample(i));
    ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  }
  ASSERT_TRUE(server.wait_messages(3));
  std::set<int> peers;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(server.meta(i)["tls"], true) << i;
    peers.insert(server.meta(i)["peer"][1].get<int>());
  }
  EXPECT_EQ(peers.size(), 1u);  // one TLS session, reused: no handshake per message

  // Without the CA the certificate must not be trusted.
  SmtpConfig untrusted = cfg;
  untrusted.ca_file.clear();
  SmtpEmailSender strict(untrusted);
  SendResult bad = strict.send(sample(4));
  EXPECT_EQ(bad.status, SendStatus::kRetryable);
  EXPECT_EQ(server.message_count(), 3);
}

TEST(SmtpSender, SmtpsIsTlsFromTheFirstByte) {
  TempDir certs;
  const auto [cert, key] = sc::provider_testing::self_signed_certificate(certs);
  SmtpServer server({"--implicit-tls", "--tls-cert", cert, "--tls-key", key});
  SmtpConfig cfg = plain("smtps://127.0.0.1:" + std::to_string(server.port()));
  cfg.tls = SmtpTls::kRequired;
  cfg.ca_file = cert;
  SmtpEmailSender sender(cfg);
  for (int i = 1; i <= 2; ++i) {
    SendResult r = sender.send(sample(i));
    ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  }
  ASSERT_TRUE(server.wait_messages(2));
  EXPECT_EQ(server.meta(1)["tls"], true);
  EXPECT_EQ(server.meta(1)["peer"][1], server.meta(2)["peer"][1]);

  // Plain smtp:// to a TLS-only port sends nothing and is retried later.
  SmtpConfig mismatch = plain(server.url());
  mismatch.timeout_ms = 1000;  // no greeting ever comes: the server waits for a TLS hello
  SmtpEmailSender plain_sender(mismatch);
  EXPECT_EQ(plain_sender.send(sample(3)).status, SendStatus::kRetryable);
  EXPECT_EQ(server.message_count(), 2);
}

TEST(SmtpSender, AuthenticatesWithUrlDecodedCredentials) {
  SmtpServer server({"--auth", "us er:p@ss:w"});
  SmtpEmailSender sender(plain(server.url("us%20er:p%40ss%3Aw@")));
  SendResult r = sender.send(sample());
  ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_code << " " << r.provider_message;
  ASSERT_TRUE(server.wait_messages(1));
  EXPECT_EQ(server.meta(1)["auth_user"], "us er");

  SmtpEmailSender wrong(plain(server.url("us%20er:nope@")));
  SendResult denied = wrong.send(sample(2));
  EXPECT_NE(denied.status, SendStatus::kSent);
  EXPECT_EQ(denied.provider_code, "smtp:535") << denied.provider_message;
  EXPECT_TRUE(denied.auth_refused);  // the dispatcher pauses the provider on it
  EXPECT_FALSE(r.auth_refused);
}

TEST(SmtpSender, ReusesOneConnectionAcrossMessages) {
  SmtpServer server;
  SmtpEmailSender sender(plain(server.url()));
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(sender.send(sample(i)).status, SendStatus::kSent);
  ASSERT_TRUE(server.wait_messages(5));
  std::set<int> peers;
  for (int i = 1; i <= 5; ++i) peers.insert(server.meta(i)["peer"][1].get<int>());
  EXPECT_EQ(peers.size(), 1u);
}

}  // namespace
}  // namespace sc::providers
