// The local providers (file outbox, SMS log), the phone normalizer and the factory.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "provider_test_util.h"
#include "sc/providers/factory.h"
#include "sc/providers/file_email_sender.h"
#include "sc/providers/log_sms_sender.h"
#include "sc/providers/phone_normalizer.h"
#include "support/temp_dir.h"

namespace sc::providers {
namespace {

using nlohmann::json;
using sc::testing::TempDir;

OutboundEmail sample(std::int64_t id = 3) {
  OutboundEmail m;
  m.outbox_id = id;
  m.message_id = "abc" + std::to_string(id) + "@example.com";
  m.date_unix = 1795828249;
  m.from = {"news@example.com", "News"};
  m.to = {"alice@example.org", ""};
  m.subject = "Hi";
  m.text = "Hello";
  m.list_unsubscribe_url = "https://example.com/u/x";
  return m;
}

OutboundSms sms(std::int64_t id, std::string to, std::string body) {
  OutboundSms m;
  m.outbox_id = id;
  m.to = std::move(to);
  m.body = std::move(body);
  return m;
}

std::size_t count_files(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(FileEmailSender, WritesOneEmlPerMessageAndARetryOverwrites) {
  TempDir tmp;
  FileEmailSender sender(tmp / "nested" / "outbox");
  OutboundEmail m = sample();
  SendResult r = sender.send(m);
  ASSERT_EQ(r.status, SendStatus::kSent) << r.provider_message;
  EXPECT_EQ(r.provider_message_id, "abc3@example.com");
  auto path = sender.path_for(m);
  EXPECT_EQ(path.filename(), "3-abc3@example.com.eml");
  std::string content = sc::provider_testing::read_file(path);
  EXPECT_NE(content.find("Message-ID: <abc3@example.com>\r\n"), std::string::npos);
  EXPECT_NE(content.find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            std::string::npos);

  ASSERT_EQ(sender.send(m).status, SendStatus::kSent);  // retry: same file
  ASSERT_EQ(sender.send(sample(4)).status, SendStatus::kSent);
  EXPECT_EQ(count_files(tmp / "nested" / "outbox"), 2u);  // no temp files left behind
}

TEST(FileEmailSender, HostileMessageIdCannotEscapeTheDirectory) {
  TempDir tmp;
  FileEmailSender sender(tmp / "outbox");
  OutboundEmail m = sample();
  m.message_id = "../../etc/passwd";
  ASSERT_EQ(sender.send(m).status, SendStatus::kSent);
  EXPECT_EQ(sender.path_for(m).parent_path(), tmp / "outbox");
}

TEST(FileEmailSender, IoErrorIsRetryable) {
  TempDir tmp;
  sc::provider_testing::write_file(tmp / "file", "x");
  FileEmailSender sender(tmp / "file" / "outbox");  // a file where the directory should be
  SendResult r = sender.send(sample());
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "io");
}

// Sets the process umask for one test and restores it: the files below must be
// private whatever umask the service was started with.
class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// The .eml files hold personal data and live confirm links: 0600 even under umask 022.
TEST(FileEmailSender, WritesFilesOnlyTheServiceUserCanRead) {
  Umask u(022);
  TempDir tmp;
  FileEmailSender sender(tmp / "outbox");
  ASSERT_EQ(sender.send(sample()).status, SendStatus::kSent);
  EXPECT_EQ(mode_of(sender.path_for(sample())), 0600);
}

// A symlink planted where the .eml goes is replaced, never written through.
TEST(FileEmailSender, ASymlinkAtTheTargetIsReplacedNotFollowed) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "outbox");
  std::ofstream(tmp / "victim") << "keep";
  FileEmailSender sender(tmp / "outbox");
  std::filesystem::create_symlink(tmp / "victim", sender.path_for(sample()));
  ASSERT_EQ(sender.send(sample()).status, SendStatus::kSent);
  EXPECT_EQ(sc::provider_testing::read_file(tmp / "victim"), "keep");
  EXPECT_FALSE(std::filesystem::is_symlink(sender.path_for(sample())));
}

TEST(LogSmsSender, WritesALogOnlyTheServiceUserCanRead) {
  Umask u(022);
  TempDir tmp;
  LogSmsSender sender(tmp / "sms.log", [] { return std::int64_t{1795828249}; });
  ASSERT_EQ(sender.send(sms(1, "+15005550006", "hi")).status, SendStatus::kSent);
  EXPECT_EQ(mode_of(tmp / "sms.log"), 0600);
}

// A symlink at sms.log made the service append to the file it pointed to.
TEST(LogSmsSender, ASymlinkAtTheLogIsRefusedNotFollowed) {
  TempDir tmp;
  std::ofstream(tmp / "victim") << "keep";
  std::filesystem::create_symlink(tmp / "victim", tmp / "sms.log");
  LogSmsSender sender(tmp / "sms.log", [] { return std::int64_t{1795828249}; });
  auto r = sender.send(sms(1, "+15005550006", "hi"));
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_EQ(r.provider_code, "io");
  EXPECT_EQ(sc::provider_testing::read_file(tmp / "victim"), "keep");
}

TEST(LogSmsSender, AppendsOneJsonLinePerText) {
  TempDir tmp;
  auto file = tmp / "logs" / "sms.log";
  {
    LogSmsSender sender(file, [] { return std::int64_t{1795828249}; });
    EXPECT_EQ(
        sender.send(sms(7, "+16502530000", "Reply YES to confirm.\nSTOP to end \"now\"")).status,
        SendStatus::kSent);
    // Flushed per message: readable while the sender is alive.
    std::string content = sc::provider_testing::read_file(file);
    ASSERT_FALSE(content.empty());
    EXPECT_EQ(sender.send(sms(8, "+447400123456", "Grüße 🎉")).status, SendStatus::kSent);
  }
  std::string content = sc::provider_testing::read_file(file);
  auto nl = content.find('\n');
  ASSERT_NE(nl, std::string::npos);
  json a = json::parse(content.substr(0, nl));
  json b = json::parse(content.substr(nl + 1, content.find('\n', nl + 1) - nl - 1));
  EXPECT_EQ(a["ts"], "2026-11-28T01:10:49Z");
  EXPECT_EQ(a["outbox_id"], 7);
  EXPECT_EQ(a["to"], "+16502530000");
  EXPECT_EQ(a["body"], "Reply YES to confirm.\nSTOP to end \"now\"");
  EXPECT_EQ(b["body"], "Grüße 🎉");
  EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 2);
}

TEST(LogSmsSender, ConcurrentSendsNeverInterleave) {
  TempDir tmp;
  LogSmsSender sender(tmp / "sms.log");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i)
        sender.send(sms(t * 1000 + i, "+16502530000", std::string(300, 'x')));
    });
  }
  for (auto& th : threads) th.join();
  std::string content = sc::provider_testing::read_file(tmp / "sms.log");
  std::size_t lines = 0, start = 0;
  for (auto nl = content.find('\n'); nl != std::string::npos; nl = content.find('\n', start)) {
    EXPECT_FALSE(json::parse(content.substr(start, nl - start), nullptr, false).is_discarded());
    start = nl + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 400u);
}

TEST(LogSmsSender, IoErrorIsRetryable) {
  TempDir tmp;
  sc::provider_testing::write_file(tmp / "file", "x");
  LogSmsSender sender(tmp / "file" / "sms.log");
  EXPECT_EQ(sender.send(sms(1, "+16502530000", "x")).status, SendStatus::kRetryable);
}

TEST(PhoneNormalizer, ReturnsE164ForMobileCapableNumbersInAllowedCountries) {
  LibPhoneNormalizer n("US", {"US", "GB"});
  EXPECT_EQ(n.normalize("(650) 253-0000").value(), "+16502530000");
  EXPECT_EQ(n.normalize(" +1 650-253-0000 ").value(), "+16502530000");
  EXPECT_EQ(n.normalize("+44 7400 123456").value(), "+447400123456");
}

TEST(PhoneNormalizer, RejectsInvalidLandlineForeignHostile) {
  LibPhoneNormalizer n("US", {"US", "GB"});
  auto expect_error = [&](std::string_view raw, const std::string& code) {
    auto r = n.normalize(raw);
    ASSERT_FALSE(r.ok()) << raw;
    EXPECT_EQ(r.error().code, code) << raw;
    EXPECT_EQ(r.error().field, "phone");
  };
  expect_error("", "invalid_phone");
  expect_error("hello", "invalid_phone");
  expect_error("123", "invalid_phone");
  expect_error("+1 000 000 0000", "invalid_phone");
  expect_error("+44 20 7946 0958", "invalid_phone");        // London landline: cannot receive texts
  expect_error("+49 1512 3456789", "unsupported_country");  // a German mobile
  expect_error(std::string(33, '1'), "invalid_phone");
  expect_error("650\n253 0000", "invalid_phone");
  expect_error(std::string("650\0 253 0000", 13), "invalid_phone");
  expect_error("\xff\xfe", "invalid_phone");
}

TEST(PhoneNormalizer, RegionList) {
  auto ok = LibPhoneNormalizer::parse_region_list(" us, gb ,CA");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), (std::vector<std::string>{"US", "GB", "CA"}));
  auto bad = LibPhoneNormalizer::parse_region_list("US,XX");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_region");
}

TEST(ProviderFactory, BuildsEachEmailProvider) {
  TempDir tmp;
  EmailProviderConfig c;
  c.outbox_dir = (tmp / "out").string();
  auto file = make_email_sender(c);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file.value()->name(), "file");

  c.kind = "smtp";
  c.smtp_url = "smtp://user:pass@127.0.0.1:2525";
  auto smtp = make_email_sender(c);
  ASSERT_TRUE(smtp.ok()) << smtp.error().message;
  EXPECT_EQ(smtp.value()->name(), "smtp");

  c.kind = "sendgrid";
  c.sendgrid_api_key = "SG.x";
  auto sg = make_email_sender(c);
  ASSERT_TRUE(sg.ok()) << sg.error().message;
  EXPECT_EQ(sg.value()->name(), "sendgrid");
}

TEST(ProviderFactory, RejectsBadConfigWithOneClearLine) {
  struct Case {
    std::function<void(EmailProviderConfig&)> edit;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](auto& c) { c.kind = "mailchimp"; }, "SC_EMAIL_PROVIDER"},
      {[](auto& c) { c.kind = "smtp"; }, "SC_SMTP_URL"},
      {[](auto& c) { c.kind = "smtp", c.smtp_url = "http://host"; }, "SC_SMTP_URL"},
      {[](auto& c) { c.kind = "smtp", c.smtp_url = "smtp://host:notaport"; }, "SC_SMTP_URL"},
      {[](auto& c) { c.kind = "smtp", c.smtp_url = "smtp://host", c.smtp_tls = "maybe"; },
       "SC_SMTP_TLS"},
      {[](auto& c) { c.kind = "sendgrid"; }, "SC_SENDGRID_API_KEY"},
      {[](auto& c) {
         c.kind = "sendgrid", c.sendgrid_api_key = "k", c.sendgrid_api_base = "api.sendgrid.com";
       },
       "SC_SENDGRID_API_BASE"},
      {[](auto& c) {
         c.kind = "sendgrid", c.sendgrid_api_key = "k", c.sendgrid_api_base = "https://h/v3";
       },
       "SC_SENDGRID_API_BASE"},
  };
  for (const auto& tc : cases) {
    EmailProviderConfig c;
    tc.edit(c);
    auto r = make_email_sender(c);
    ASSERT_FALSE(r.ok()) << tc.field;
    EXPECT_EQ(r.error().code, "invalid_config");
    EXPECT_EQ(r.error().field, tc.field);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    EXPECT_NE(r.error().message.find(tc.field), std::string::npos) << r.error().message;
  }
}

TEST(ProviderFactory, SmsProviders) {
  TempDir tmp;
  SmsProviderConfig c;
  c.log_file = (tmp / "sms.log").string();
  auto log = make_sms_sender(c);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log.value()->name(), "log");
  c.kind = "twilio";
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_ACCOUNT_SID");
  c.twilio_account_sid = "AC" + std::string(32, 'a');
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_AUTH_TOKEN");
  c.twilio_auth_token = "token";
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_FROM");  // neither sender given
  c.twilio_from = "+15005550006";
  c.twilio_messaging_service_sid = "MG" + std::string(32, 'b');
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_FROM");  // both given
  c.twilio_from.clear();
  c.twilio_messaging_service_sid = "MGnot-hex";
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_MESSAGING_SERVICE_SID");
  c.twilio_messaging_service_sid = "MG" + std::string(32, 'b');
  c.twilio_api_base = "https://api.twilio.com/2010-04-01";
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_TWILIO_API_BASE");
  c.twilio_api_base = "https://api.twilio.com";
  auto tw = make_sms_sender(c);
  ASSERT_TRUE(tw.ok()) << tw.error().message;
  EXPECT_EQ(tw.value()->name(), "twilio");
  c.kind = "carrier-pigeon";
  EXPECT_EQ(make_sms_sender(c).error().field, "SC_SMS_PROVIDER");
}

}  // namespace
}  // namespace sc::providers
