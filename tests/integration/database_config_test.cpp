// SC_DB and the signing key, as the binary takes them: a value that looks
// like a URL but is none the service can use stops every command with one
// line and exit 2 before anything is created (it used to become the name of
// a new SQLite file), the line never shows a password, and a PostgreSQL
// SC_DB needs a key every instance shares (SC_SECRET or SC_SECRET_FILE).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "service_fixture.h"

namespace sc::testing {
namespace {

namespace fs = std::filesystem;

// Runs the binary with `dir` as its working directory, where a relative
// SC_DB would have been created.
class InDirectory {
 public:
  explicit InDirectory(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~InDirectory() { fs::current_path(old_); }
  InDirectory(const InDirectory&) = delete;
  InDirectory& operator=(const InDirectory&) = delete;

 private:
  fs::path old_;
};

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

std::size_t entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

class DatabaseConfigTest : public ServiceTest {
 protected:
  // The command's stderr; expects exit 2 with one line and nothing created.
  std::string refused(const std::vector<std::string>& args,
                      std::map<std::string, std::string> env) {
    const auto cwd = dir_.path() / "cwd";
    fs::create_directories(cwd);
    RunResult r;
    {
      InDirectory in(cwd);
      r = run_binary(SC_BINARY, args, env, std::chrono::seconds(20));
    }
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("hunter22"), std::string::npos) << r.err;
    EXPECT_EQ(entries(cwd), 0u) << args[0] << " created something in its working directory";
    EXPECT_FALSE(fs::exists(dir_.path() / "data")) << args[0];
    return r.err;
  }
};

TEST_F(DatabaseConfigTest, AUrlTheServiceCannotUseStopsEveryCommand) {
  const std::string accepted = " (a SQLite file path, or a postgresql:// or postgres:// URL)\n";
  const std::vector<std::pair<std::string, std::string>> values = {
      {"postgressql://sc:hunter22@127.0.0.1/sc",
       "SC_DB: postgressql:// is not a database this service can use" + accepted},
      {"mysql://sc:hunter22@127.0.0.1/sc",
       "SC_DB: mysql:// is not a database this service can use" + accepted},
      {"sqlite://data/sc.db", "SC_DB: sqlite:// is not a database this service can use" + accepted},
      {"http://sc:hunter22@127.0.0.1/sc",
       "SC_DB: http:// is not a database this service can use" + accepted},
      {"postgresql://sc:hunter22@127.0.0.1/sc?nosuch=1",
       "SC_DB: libpq cannot parse the PostgreSQL URL: invalid URI query parameter: \"nosuch\"\n"},
      {"postgresql://sc:hunter22@[::1/sc", "SC_DB: libpq cannot parse the PostgreSQL URL: "},
  };
  const std::vector<std::vector<std::string>> commands = {
      {"serve"}, {"migrate"}, {"keys", "list"}, {"broadcasts", "list"}};
  for (const auto& [value, line] : values) {
    for (const auto& args : commands) {
      auto env = base_env();
      env["SC_DB"] = value;
      env["SC_LISTEN"] = "127.0.0.1:0";
      const auto err = refused(args, env);
      EXPECT_EQ(err.rfind("stayconnected: configuration error: " + line, 0), 0u)
          << value << " " << args[0] << ": " << err;
    }
  }
}

TEST_F(DatabaseConfigTest, PostgresWithoutASharedKeyStopsTheStart) {
  auto env = base_env();
  env.erase("SC_SECRET");
  // Nothing listens on port 1: the start must stop before it tries.
  env["SC_DB"] = "postgresql://sc:hunter22@127.0.0.1:1/sc";
  env["SC_LISTEN"] = "127.0.0.1:0";
  const std::string line =
      "stayconnected: configuration error: SC_DB is a PostgreSQL URL: set SC_SECRET or "
      "SC_SECRET_FILE (every instance must sign links with the same key)\n";
  EXPECT_EQ(refused({"serve"}, env), line);
  EXPECT_EQ(refused({"send-test-email", "op@example.org"}, env), line);
  // Both set: which one signs would be a guess.
  env["SC_SECRET"] = "integration-test-secret-0123456789";
  env["SC_SECRET_FILE"] = dir_.str("shared.key");
  EXPECT_EQ(refused({"serve"}, env),
            "stayconnected: configuration error: SC_SECRET and SC_SECRET_FILE are both set; set "
            "only one\n");
}

// SC_SECRET_FILE signs links like SC_SECRET, and is held to secret.key's
// checks (here on SQLite, where it works today).
TEST_F(DatabaseConfigTest, SecretFileSignsLinksAndIsCheckedLikeSecretKey) {
  const auto key = dir_.str("shared.key");
  std::ofstream(key) << "shared-secret-from-a-file-0123\n";
  ::chmod(key.c_str(), 0644);
  auto env = base_env();
  env.erase("SC_SECRET");
  env["SC_SECRET_FILE"] = key;
  env["SC_LISTEN"] = "127.0.0.1:0";
  auto r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err, "stayconnected: configuration error: SC_SECRET_FILE " + key +
                       " is readable by group or others (mode 0644); chmod 600 it\n");
  EXPECT_FALSE(fs::exists(dir_.str("data/sc.db")));  // stopped before the database
  ::chmod(key.c_str(), 0600);
  start({{"SC_SECRET", ""}, {"SC_SECRET_FILE", key}});
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "file-key@example.org"}})->status, 202);
  ASSERT_TRUE(wait_emails(1));
  EXPECT_FALSE(fs::exists(dir_.str("data/secret.key")));  // none generated
  auto confirm = find_link(decode_quoted_printable(emails()[0]), "/confirm/");
  ASSERT_TRUE(confirm);
  // Signed with the file's key: the same key as SC_SECRET accepts the link.
  ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
  start({{"SC_SECRET", "shared-secret-from-a-file-0123"}});
  auto p = cli_->Post(confirm->c_str(), "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200) << p->body;
  EXPECT_EQ(email_state("file-key@example.org"), "confirmed");
}

}  // namespace
}  // namespace sc::testing
