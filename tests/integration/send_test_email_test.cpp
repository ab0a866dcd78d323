// `stayconnected send-test-email ADDRESS` sends one message through the
// configured provider and prints the provider's answer.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "fakes/fake_sendgrid.h"
#include "service_fixture.h"

namespace sc::testing {
namespace {

class SendTestEmailTest : public ServiceTest {};

TEST_F(SendTestEmailTest, FileProviderWritesTheMessage) {
  auto r = run_binary(SC_BINARY, {"send-test-email", "operator@example.org"}, base_env());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("provider: file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("result: sent"), std::string::npos) << r.out;
  auto mails = emails();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("Subject: Test message from Test Org"), std::string::npos);
  EXPECT_NE(mails[0].find("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), std::string::npos);
  EXPECT_EQ(run_binary(SC_BINARY, {"send-test-email", "not an address"}, base_env()).exit_code, 2);
}

TEST_F(SendTestEmailTest, SendgridRejectionIsPrintedWithTheProviderText) {
  fakes::FakeSendgrid fake;
  fake.set_default(
      {403,
       R"({"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]})",
       {},
       0});
  auto env = base_env();
  env["SC_EMAIL_PROVIDER"] = "sendgrid";
  env["SC_SENDGRID_API_KEY"] = fake.api_key();
  env["SC_SENDGRID_API_BASE"] = fake.base_url();
  auto r = run_binary(SC_BINARY, {"send-test-email", "operator@example.org"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("result: permanent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("code: 403"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verified Sender Identity"), std::string::npos) << r.out;
  EXPECT_TRUE(fake.violations().empty());
}

// A real SMTP server (aiosmtpd, tests/support/smtp_server.py) on loopback.
TEST_F(SendTestEmailTest, SmtpProviderDeliversToARealServer) {
  const std::string python =
      std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const std::string script = std::string(SC_SOURCE_DIR) + "/tests/support/smtp_server.py";
  const std::string out = dir_.str("smtp");
  std::filesystem::create_directories(out);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::close(pipefd[0]);
    ::execlp(python.c_str(), python.c_str(), script.c_str(), "--outdir", out.c_str(), nullptr);
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  FILE* f = ::fdopen(pipefd[0], "r");
  char line[128] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), f), nullptr)
      << "smtp_server.py did not start (python3-aiosmtpd missing?)";
  int port = 0;
  ASSERT_EQ(std::sscanf(line, "PORT %d", &port), 1) << line;

  auto env = base_env();
  env["SC_EMAIL_PROVIDER"] = "smtp";
  env["SC_SMTP_URL"] = "smtp://127.0.0.1:" + std::to_string(port);
  env["SC_SMTP_TLS"] = "none";
  env["SC_EMAIL_BOUNCE_ADDRESS"] = "bounces@test-org.example";
  auto r = run_binary(SC_BINARY, {"send-test-email", "operator@example.org"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("provider: smtp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("code: smtp:250"), std::string::npos) << r.out;
  ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(out + "/msg-1.eml"); }));
  std::ifstream meta(out + "/msg-1.json");
  std::stringstream ss;
  ss << meta.rdbuf();
  auto j = nlohmann::json::parse(ss.str());
  EXPECT_EQ(j["mail_from"], "bounces@test-org.example") << ss.str();  // envelope sender, not From
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  std::fclose(f);
}

}  // namespace
}  // namespace sc::testing
