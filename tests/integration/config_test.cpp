// Bad configuration stops the start with one clear line and exit code 2;
// signals stop the service cleanly with exit code 0.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "service_fixture.h"

namespace sc::testing {
namespace {

class ConfigTest : public ServiceTest {};

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST_F(ConfigTest, HelpListsEverySubcommand) {
  auto r = run_binary(SC_BINARY, {"--help"}, {});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"serve", "migrate", "send-test-email"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  // The variables come from load_config's table, each with its help and default.
  EXPECT_NE(r.out.find("SC_LISTEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(127.0.0.1:8080)"), std::string::npos) << r.out;
  EXPECT_EQ(run_binary(SC_BINARY, {}, {}).exit_code, 2);
  EXPECT_EQ(run_binary(SC_BINARY, {"frobnicate"}, {}).exit_code, 2);
}

struct BadConfig {
  const char* name;
  std::map<std::string, std::string> env;
  const char* mentions;
};

// Every variable's parsing and message is unit-tested (tests/unit/app); these
// check only what the process does with a bad one: one line on stderr, exit 2,
// for each way a start can fail (the table, a provider factory, the database).
TEST_F(ConfigTest, BadConfigurationStopsTheStartWithOneLineAndExit2) {
  std::ofstream(dir_.str("not-a-dir")) << "x";
  const std::vector<BadConfig> cases = {
      {"bad port (load_config)",
       {{"SC_LISTEN", "127.0.0.1:99999"}},
       "configuration error: SC_LISTEN has a bad port"},
      {"unknown email provider (factory)",
       {{"SC_EMAIL_PROVIDER", "pigeon"}},
       "configuration error: SC_EMAIL_PROVIDER"},
      {"database under a file (storage)", {{"SC_DB", dir_.str("not-a-dir/sc.db")}}, "not-a-dir"},
  };
  for (const auto& c : cases) {
    auto env = base_env();
    env["SC_LISTEN"] = "127.0.0.1:0";
    for (const auto& [k, v] : c.env) env[k] = v;
    auto r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(10));
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << c.name << ": " << r.err;
    EXPECT_NE(r.err.find(c.mentions), std::string::npos) << c.name << ": " << r.err;
  }
}

TEST_F(ConfigTest, PortInUseIsAClearError) {
  start();
  auto env = base_env();
  env["SC_LISTEN"] = "127.0.0.1:" + std::to_string(svc_->port());
  env["SC_DB"] = dir_.str("other/sc.db");
  auto r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
}

TEST_F(ConfigTest, MigrateIsIdempotent) {
  auto env = base_env();
  auto a = run_binary(SC_BINARY, {"migrate"}, env);
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("applied 0001_init"), std::string::npos);
  auto b = run_binary(SC_BINARY, {"migrate"}, env);
  EXPECT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.out.find("applied"), std::string::npos);
}

TEST_F(ConfigTest, ConfigFileIsReadAndEnvironmentWins) {
  std::ofstream(dir_.str("sc.env"))
      << "# sample\nSC_ORG_NAME=\"File Org\"\nSC_EMAIL_PROVIDER=pigeon\n";
  auto env = base_env();
  env.erase("SC_ORG_NAME");
  auto r = run_binary(SC_BINARY, {"--config", dir_.str("sc.env"), "serve"}, env,
                      std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pigeon"), std::string::npos) << r.err;
  // The environment overrides the file; what only the file sets is used.
  env["SC_EMAIL_PROVIDER"] = "file";
  auto ok = run_binary(SC_BINARY,
                       {"--config", dir_.str("sc.env"), "send-test-email", "op@example.org"}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto mails = emails();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("Subject: Test message from File Org"), std::string::npos);
  auto missing = run_binary(SC_BINARY, {"--config", dir_.str("nope.env"), "serve"}, env,
                            std::chrono::seconds(10));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.env"), std::string::npos);
}

// A config file that is a symlink or that others could write is refused
// like secret.key: one line, exit 2, whatever the command.
TEST_F(ConfigTest, AConfigFileThatIsASymlinkOrOpenToOthersStopsWithOneLine) {
  const auto file = dir_.str("sc.env");
  std::ofstream(file) << "SC_ORG_NAME=File Org\n";
  ::chmod(file.c_str(), 0600);
  std::filesystem::create_symlink(file, dir_.str("link.env"));
  auto env = base_env();
  env["SC_LISTEN"] = "127.0.0.1:0";
  auto r = run_binary(SC_BINARY, {"--config", dir_.str("link.env"), "serve"}, env,
                      std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(
      r.err.find("configuration error: the config file " + dir_.str("link.env") + " is a symlink"),
      std::string::npos)
      << r.err;
  ::chmod(file.c_str(), 0666);
  r = run_binary(SC_BINARY, {"--config", file, "migrate"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("is writable by group or others (mode 0666)"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db()));  // nothing was done
  ::chmod(file.c_str(), 0600);
  EXPECT_EQ(run_binary(SC_BINARY, {"--config", file, "migrate"}, env).exit_code, 0);
  // SC_TEMPLATES_DIR the same way.
  std::filesystem::create_directories(dir_.str("templates"));
  ::chmod(dir_.str("templates").c_str(), 0777);
  env["SC_TEMPLATES_DIR"] = dir_.str("templates");
  r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("SC_TEMPLATES_DIR " + dir_.str("templates") + " is writable"),
            std::string::npos)
      << r.err;
}

// SC_LISTEN set, SC_PUBLIC_URL not: every link pointed at port 8080. Now
// they name the address the service listens on.
TEST_F(ConfigTest, WithoutPublicUrlLinksFollowListen) {
  auto env = base_env();
  env.erase("SC_PUBLIC_URL");
  env["SC_LISTEN"] = "0.0.0.0:9123";
  auto r = run_binary(SC_BINARY, {"send-test-email", "op@example.org"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto mails = emails();
  ASSERT_EQ(mails.size(), 1u);
  const auto link = find_link(decode_quoted_printable(mails[0]), "/unsubscribe/");
  ASSERT_TRUE(link) << mails[0];
  EXPECT_EQ(mails[0].find(":8080"), std::string::npos) << mails[0];
  EXPECT_NE(decode_quoted_printable(mails[0]).find("http://127.0.0.1:9123/unsubscribe/"),
            std::string::npos)
      << mails[0];
}

TEST_F(ConfigTest, SigtermAndSigintStopCleanly) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "sig@example.org"}})->status, 202);
  EXPECT_EQ(svc_->stop(SIGTERM), 0) << svc_->stderr_text();
  EXPECT_NE(svc_->stderr_text().find("stopped cleanly"), std::string::npos);
  ASSERT_TRUE(svc_->start());
  EXPECT_EQ(svc_->stop(SIGINT), 0) << svc_->stderr_text();
}

TEST_F(ConfigTest, SigtermDoesNotWaitForIdleKeepAliveConnections) {
  start();
  std::vector<std::unique_ptr<httplib::Client>> idle;
  for (int i = 0; i < 20; ++i) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
    c->set_keep_alive(true);
    ASSERT_EQ(c->Get("/healthz")->status, 200);
    idle.push_back(std::move(c));  // left open and idle
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(svc_->stop(SIGTERM), 0) << svc_->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

// The warning's text is unit-tested; this checks that it is printed and that
// the command still runs.
// The writer's connection settings are read back from SQLite and logged at
// start, so an operator sees the durability actually in force.
TEST_F(ConfigTest, TheStartLogsTheWritersDatabaseSettings) {
  SC_SQLITE_ONLY("its pragmas (PostgreSQL's synchronous_commit: pg_failures_test.cpp)");
  start();
  EXPECT_NE(svc_->stderr_text().find("journal_mode=wal synchronous=FULL foreign_keys=on"),
            std::string::npos)
      << svc_->stderr_text();
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
  start({{"SC_SQLITE_SYNCHRONOUS", "normal"}});
  EXPECT_NE(svc_->stderr_text().find("journal_mode=wal synchronous=NORMAL foreign_keys=on"),
            std::string::npos)
      << svc_->stderr_text();
}

TEST_F(ConfigTest, UnknownSettingIsAWarningNotAnError) {
  auto env = base_env();
  env["SC_EMAIL_PROVDER"] = "smtp";  // mistyped
  auto r = run_binary(SC_BINARY, {"migrate"}, env);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find("warning: unknown setting SC_EMAIL_PROVDER"), std::string::npos) << r.err;
}

TEST_F(ConfigTest, GeneratedSecretIsKeptAcrossRestarts) {
  SC_SQLITE_ONLY("secret.key beside the database file (PostgreSQL requires SC_SECRET)");
  auto env = base_env();
  env.erase("SC_SECRET");
  svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "keep@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  auto confirm = find_link(decode_quoted_printable(emails()[0]), "/confirm/");
  ASSERT_TRUE(confirm);
  restart();
  auto p = cli_->Post(confirm->c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200) << p->body;
  EXPECT_TRUE(std::filesystem::exists(dir_.str("data/secret.key")));
  EXPECT_EQ(std::filesystem::status(dir_.str("data/secret.key")).permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

}  // namespace
}  // namespace sc::testing
