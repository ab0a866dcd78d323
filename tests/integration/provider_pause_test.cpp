// A provider that refuses our credentials (SMTP 535) is paused by the
// dispatcher: the messages stay queued with no attempt spent, and go out once
// the credentials work.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "service_fixture.h"

namespace sc::testing {
namespace {

// A real SMTP server (aiosmtpd, tests/support/smtp_server.py) on loopback
// that requires AUTH with user:right.
class SmtpAuthServer {
 public:
  explicit SmtpAuthServer(const std::string& outdir) {
    const std::string python =
        std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const std::string script = std::string(SC_SOURCE_DIR) + "/tests/support/smtp_server.py";
    std::filesystem::create_directories(outdir);
    int pipefd[2];
    if (::pipe(pipefd) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipefd[1], 1);
      ::close(pipefd[0]);
      ::execlp(python.c_str(), python.c_str(), script.c_str(), "--outdir", outdir.c_str(), "--auth",
               "user:right", nullptr);
      std::_Exit(127);
    }
    ::close(pipefd[1]);
    out_ = ::fdopen(pipefd[0], "r");
    char line[128] = {};
    if (std::fgets(line, sizeof(line), out_) != nullptr) std::sscanf(line, "PORT %d", &port_);
  }
  ~SmtpAuthServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int port_ = 0;
};

class ProviderPauseTest : public ServiceTest {};

TEST_F(ProviderPauseTest, RevokedSmtpCredentialsPauseSendingWithoutSpendingAttempts) {
  SmtpAuthServer smtp(dir_.str("smtp"));
  ASSERT_GT(smtp.port(), 0) << "smtp_server.py did not start (python3-aiosmtpd missing?)";
  auto env = base_env();
  env["SC_EMAIL_PROVIDER"] = "smtp";
  env["SC_SMTP_TLS"] = "none";
  env["SC_SMTP_URL"] = "smtp://user:wrong@127.0.0.1:" + std::to_string(smtp.port());
  svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  for (int i = 0; i < 5; ++i) {
    auto r =
        post_json("/api/v1/subscriptions", {{"email", "p" + std::to_string(i) + "@example.org"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202);
  }
  ASSERT_TRUE(wait_for([&] { return svc_->stderr_text().find("paused") != std::string::npos; },
                       std::chrono::seconds(20)))
      << svc_->stderr_text();
  EXPECT_NE(svc_->stderr_text().find("smtp:535"), std::string::npos) << svc_->stderr_text();
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
  {
    auto rows = db_inspect::outbox_rows(db(), 0, 10);
    ASSERT_EQ(rows.size(), 5u);
    for (const auto& r : rows) {
      EXPECT_EQ(r.state, "queued") << r.id;
      EXPECT_EQ(r.attempts, 0) << "a refusal of our credentials spent an attempt of message "
                               << r.id;
    }
  }
  // The operator fixes the password: everything goes, each at its first attempt.
  env["SC_SMTP_URL"] = "smtp://user:right@127.0.0.1:" + std::to_string(smtp.port());
  svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  ASSERT_TRUE(
      wait_for([&] { return db_inspect::outbox_counts(db()).sent == 5; }, std::chrono::seconds(20)))
      << svc_->stderr_text();
  for (const auto& r : db_inspect::outbox_rows(db(), 0, 10)) EXPECT_EQ(r.attempts, 1) << r.id;
}

}  // namespace
}  // namespace sc::testing
