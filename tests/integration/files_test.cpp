// The files the service writes hold personal data, live links and the signing
// key: they are private whatever umask the service is started with, and a
// planted key in the data directory stops the start (exit 2, one line).
#include <sys/stat.h>

#include <fstream>

#include "service_fixture.h"

namespace sc::testing {
namespace {

mode_t mode_of(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class FilesTest : public ServiceTest {
 protected:
  // The usual umask of a shell or a container: without the service's own
  // umask(077) every file below came out 0644 (the review's finding).
  void SetUp() override { old_ = ::umask(022); }
  void TearDown() override { ::umask(old_); }
  mode_t old_ = 0;
};

TEST_F(FilesTest, EveryFileTheServiceWritesIsPrivateUnderUmask022) {
  SC_SQLITE_ONLY("the modes of the database's files and of the generated secret.key");
  auto env = base_env();
  env.erase("SC_SECRET");  // so secret.key is generated too
  svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
  ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  auto r = post_json(
      "/api/v1/subscriptions",
      {{"email", "files@example.org"}, {"phone", "+1 650 253 0000"}, {"sms_consent", "on"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(wait_emails(1));
  ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(dir_.str("sms.log")); }));

  // While the service runs, so the WAL and shared-memory files exist.
  EXPECT_EQ(mode_of(dir_.str("data")), 0700);
  for (const char* f :
       {"data/sc.db", "data/sc.db-wal", "data/sc.db-shm", "data/secret.key", "sms.log"}) {
    ASSERT_TRUE(std::filesystem::exists(dir_.str(f))) << f;
    EXPECT_EQ(mode_of(dir_.str(f)), 0600) << f;
  }
  EXPECT_EQ(mode_of(dir_.str("outbox")), 0700);
  for (const auto& e : std::filesystem::directory_iterator(dir_.str("outbox"))) {
    EXPECT_EQ(mode_of(e.path().string()), 0600) << e.path();
  }
}

TEST_F(FilesTest, APlantedKeyOthersCanWriteStopsTheStart) {
  SC_SQLITE_ONLY("secret.key in the data directory (PostgreSQL requires SC_SECRET)");
  std::filesystem::create_directories(dir_.str("data"));
  ::chmod(dir_.str("data").c_str(), 0700);
  std::ofstream(dir_.str("data/secret.key")) << std::string(64, 'a') << "\n";
  ::chmod(dir_.str("data/secret.key").c_str(), 0666);
  auto env = base_env();
  env.erase("SC_SECRET");
  env["SC_LISTEN"] = "127.0.0.1:0";
  auto r = run_binary(SC_BINARY, {"serve"}, env, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("configuration error: the secret file " + dir_.str("data/secret.key") +
                       " is writable"),
            std::string::npos)
      << r.err;
}

TEST_F(FilesTest, ADataDirectoryOthersCanWriteStopsTheStart) {
  SC_SQLITE_ONLY("the directory of the database file");
  std::filesystem::create_directories(dir_.str("data"));
  ::chmod(dir_.str("data").c_str(), 0777);
  auto env = base_env();
  env["SC_LISTEN"] = "127.0.0.1:0";
  auto r = run_binary(SC_BINARY, {"migrate"}, env, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(
      r.err.find("the data directory " + dir_.str("data") + " is writable by group or others"),
      std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace sc::testing
