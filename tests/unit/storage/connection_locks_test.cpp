// Opening another connection to a database the process already has open
// must not drop the locks SQLite holds on it: closing any descriptor of a
// file drops every POSIX lock the process holds on that file, and a WAL
// connection's lock on the database file is what tells another process's
// connection that it is not the last one (the last one checkpoints and
// removes the WAL on close).
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc/storage/storage.h"
#include "support/temp_dir.h"

extern char** environ;

namespace sc::storage {
namespace {

// Whether another process would find a lock on the database file's lock
// bytes (SQLite's pending, reserved and shared bytes from 2^30). F_GETLK
// sees only other processes' locks, hence a child (python3, spawned rather
// than forked: the writer's thread is running).
bool another_process_sees_a_lock(const std::string& path) {
  static const char* kCheck =
      "import fcntl, os, struct, sys\n"
      "fd = os.open(sys.argv[1], os.O_RDWR)\n"
      "ask = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0x40000000, 0x10000, 0) + bytes(4)\n"
      "got = struct.unpack('hhqqi', fcntl.fcntl(fd, fcntl.F_GETLK, ask)[:28])[0]\n"
      "sys.exit(0 if got != fcntl.F_UNLCK else 3)\n";
  const char* argv[] = {"python3", "-c", kCheck, path.c_str(), nullptr};
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "python3", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0)
    return false;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(ConnectionLocks, AnotherWriterConnectionKeepsTheOpenOnesLocks) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  migrate(path);
  WriteQueue writer(path);
  ASSERT_TRUE(another_process_sees_a_lock(path));  // the WAL connection's
  // The consent texts are registered through a writer connection of their own.
  register_consent_text(path, ChannelKind::kEmail,
                        ConsentText{"email-v1", "By signing up…", std::string(64, 'e')}, 100);
  EXPECT_TRUE(another_process_sees_a_lock(path));
}

}  // namespace
}  // namespace sc::storage
