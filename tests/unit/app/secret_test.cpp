// The data directory and the generated signing key: the service trusts its
// data directory (docs/architecture.md, "Security model"), so it refuses one that someone
// else could have written to, and it never writes through a planted symlink.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "sc/app/config.h"
#include "support/temp_dir.h"

namespace sc {
namespace {

namespace fs = std::filesystem;

class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string refusal(const Config& c) {
  try {
    resolve_secret(c);
    return {};
  } catch (const ConfigError& e) {
    return e.what();
  }
}

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path() / "data";
    fs::create_directory(data_);
    ::chmod(data_.c_str(), 0700);
    config_.db_path = (data_ / "sc.db").string();
  }
  fs::path key() const { return data_ / "secret.key"; }
  void plant_key(mode_t mode) {
    std::ofstream(key()) << std::string(64, 'a') << "\n";
    ::chmod(key().c_str(), mode);
  }

  testing::TempDir dir_;
  fs::path data_;
  Config config_;
};

TEST_F(SecretTest, GeneratesAKeyOnceCreatedPrivateEvenUnderUmask022) {
  Umask u(022);
  auto first = resolve_secret(config_);
  EXPECT_EQ(first.size(), 64u);
  EXPECT_EQ(mode_of(key()), 0600);
  EXPECT_EQ(resolve_secret(config_), first);
  // Nothing but the key is left beside the database.
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(data_)) ++n;
  EXPECT_EQ(n, 1u);
}

TEST_F(SecretTest, SecretFromTheEnvironmentIsUsedAsIs) {
  config_.secret = "from-the-environment-0123";
  EXPECT_EQ(resolve_secret(config_), "from-the-environment-0123");
  EXPECT_FALSE(fs::exists(key()));
}

// Found by the review: a 0666 secret.key planted in the data directory was
// used as the signing key.
TEST_F(SecretTest, AKeyFileOthersCanWriteIsRefused) {
  plant_key(0666);
  auto why = refusal(config_);
  EXPECT_NE(why.find(key().string()), std::string::npos) << why;
  EXPECT_NE(why.find("writable"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos);
  plant_key(0620);  // group-writable is as bad
  EXPECT_NE(refusal(config_), "");
  plant_key(0600);
  EXPECT_EQ(refusal(config_), "");
}

TEST_F(SecretTest, AKeyFileOthersCanReadIsRefused) {
  plant_key(0644);
  EXPECT_NE(refusal(config_).find("readable"), std::string::npos) << refusal(config_);
}

TEST_F(SecretTest, AKeyFileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  plant_key(0600);
  ASSERT_EQ(::chown(key().c_str(), 65534, 65534), 0);
  auto why = refusal(config_);
  EXPECT_NE(why.find("owned by uid 65534"), std::string::npos) << why;
}

TEST_F(SecretTest, ASymlinkAsTheKeyIsRefused) {
  std::ofstream(dir_.path() / "elsewhere") << std::string(64, 'b') << "\n";
  ::chmod((dir_.path() / "elsewhere").c_str(), 0600);
  fs::create_symlink(dir_.path() / "elsewhere", key());
  auto why = refusal(config_);
  EXPECT_NE(why.find("symlink"), std::string::npos) << why;
}

// Found by the review: a symlink at secret.key.tmp made the service (as root)
// overwrite the file it pointed to.
TEST_F(SecretTest, ASymlinkAtTheOldTempNameIsNeverWrittenThrough) {
  std::ofstream(dir_.path() / "victim") << "keep";
  fs::create_symlink(dir_.path() / "victim", data_ / "secret.key.tmp");
  auto s = resolve_secret(config_);
  EXPECT_EQ(s.size(), 64u);
  EXPECT_EQ(slurp(dir_.path() / "victim"), "keep");
  EXPECT_EQ(slurp(key()), s + "\n");
}

TEST_F(SecretTest, ADataDirectoryOthersCanWriteIsRefused) {
  ::chmod(data_.c_str(), 0777);
  auto why = refusal(config_);
  EXPECT_NE(why.find(data_.string()), std::string::npos) << why;
  EXPECT_NE(why.find("writable"), std::string::npos) << why;
  EXPECT_FALSE(fs::exists(key()));
  // Also with SC_SECRET set: the database lives there too.
  config_.secret = "from-the-environment-0123";
  EXPECT_NE(refusal(config_), "");
  ::chmod(data_.c_str(), 0750);  // group may read, not write
  EXPECT_EQ(refusal(config_), "");
}

TEST_F(SecretTest, ADataDirectoryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory to another user";
  ASSERT_EQ(::chown(data_.c_str(), 65534, 65534), 0);
  auto why = refusal(config_);
  EXPECT_NE(why.find("owned by uid 65534"), std::string::npos) << why;
}

TEST_F(SecretTest, AMissingDataDirectoryIsCreatedPrivate) {
  Umask u(022);
  config_.db_path = (dir_.path() / "fresh" / "sc.db").string();
  EXPECT_EQ(resolve_secret(config_).size(), 64u);
  EXPECT_EQ(mode_of(dir_.path() / "fresh"), 0700);
}

// SC_SECRET_FILE: the key every instance shares, held to secret.key's rules.
TEST_F(SecretTest, SecretFileIsReadWithTheKeyFileChecks) {
  const auto file = dir_.path() / "shared.key";
  std::ofstream(file) << "shared-key-0123456789\n";
  ::chmod(file.c_str(), 0600);
  config_.secret_file = file.string();
  EXPECT_EQ(resolve_secret(config_), "shared-key-0123456789");
  EXPECT_FALSE(fs::exists(key()));  // nothing generated beside the database
  ::chmod(file.c_str(), 0640);
  EXPECT_EQ(refusal(config_), "SC_SECRET_FILE " + file.string() +
                                  " is readable by group or others (mode 0640); chmod 600 it");
  ::chmod(file.c_str(), 0602);
  EXPECT_EQ(refusal(config_), "SC_SECRET_FILE " + file.string() +
                                  " is writable by group or others (mode 0602); chmod go-w it");
  ::chmod(file.c_str(), 0600);
  std::ofstream(file) << "short\n";
  EXPECT_EQ(refusal(config_),
            "SC_SECRET_FILE " + file.string() + " holds no key of at least 16 characters");
  fs::remove(file);
  EXPECT_EQ(refusal(config_), "SC_SECRET_FILE " + file.string() + " does not exist");
  std::ofstream(dir_.path() / "elsewhere") << std::string(64, 'b') << "\n";
  ::chmod((dir_.path() / "elsewhere").c_str(), 0600);
  fs::create_symlink(dir_.path() / "elsewhere", file);
  EXPECT_EQ(refusal(config_),
            "SC_SECRET_FILE " + file.string() + " is a symlink; refusing to use it");
}

TEST_F(SecretTest, ASecretFileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file to another user";
  const auto file = dir_.path() / "shared.key";
  std::ofstream(file) << "shared-key-0123456789\n";
  ::chmod(file.c_str(), 0600);
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  config_.secret_file = file.string();
  EXPECT_NE(refusal(config_).find("SC_SECRET_FILE " + file.string() + " is owned by uid 65534"),
            std::string::npos)
      << refusal(config_);
}

// On PostgreSQL every instance must sign with one key: none generated.
TEST_F(SecretTest, PostgresNeedsASecretOrASecretFile) {
  config_ = load_config({{"SC_DB", "postgresql://sc:pw@db.invalid/sc"}});
  EXPECT_EQ(refusal(config_),
            "SC_DB is a PostgreSQL URL: set SC_SECRET or SC_SECRET_FILE (every instance must sign "
            "links with the same key)");
  EXPECT_FALSE(fs::exists("postgresql:"));  // no data directory made from the URL
  config_.secret = "from-the-environment-0123";
  EXPECT_EQ(resolve_secret(config_), "from-the-environment-0123");
  config_.secret.clear();
  const auto file = dir_.path() / "shared.key";
  std::ofstream(file) << "shared-key-0123456789\n";
  ::chmod(file.c_str(), 0600);
  config_.secret_file = file.string();
  EXPECT_EQ(resolve_secret(config_), "shared-key-0123456789");
}

}  // namespace
}  // namespace sc
