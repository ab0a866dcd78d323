// The database holds personal data and live links: created 0600 (its -wal and
// -shm follow its mode) whatever the umask, and never opened through a symlink.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "sc/storage/storage.h"
#include "support/temp_dir.h"

namespace sc::storage {
namespace {

mode_t mode_of(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(DatabaseFiles, AreCreatedPrivateUnderUmask022) {
  const mode_t old = ::umask(022);
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  migrate(path);
  {
    WriteQueue writer(path);  // WAL mode: -wal and -shm exist while it is open
    EXPECT_EQ(mode_of(path), 0600);
    EXPECT_EQ(mode_of(path + "-wal"), 0600);
    EXPECT_EQ(mode_of(path + "-shm"), 0600);
  }
  ::umask(old);
}

// A symlink planted at the database's path (to a file that does not exist
// yet) must not make the service create the database where it points.
TEST(DatabaseFiles, ASymlinkAsTheDatabaseIsRefused) {
  testing::TempDir dir;
  std::filesystem::create_symlink(dir.str("elsewhere.db"), dir.str("sc.db"));
  EXPECT_THROW(migrate(dir.str("sc.db")), StorageError);
  EXPECT_FALSE(std::filesystem::exists(dir.str("elsewhere.db")));
}

}  // namespace
}  // namespace sc::storage
