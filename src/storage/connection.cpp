#include "connection.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "queries.h"
#include "sc/storage/storage.h"

namespace sc::storage::detail {

namespace {
// Each connection is used by one thread at a time (docs/architecture.md), so SQLite's
// own per-connection mutexes and its global memory statistics (another
// mutex per allocation) are pure cost. Must run before the first open.
void configure_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}
}  // namespace

std::unique_ptr<SQLite::Database> open(const std::string& path, Mode mode, bool synchronous_full) {
  configure_once();
  try {
    if (mode == Mode::kWriter && path != ":memory:") {
      auto parent = std::filesystem::path(path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      // Created 0600 by us before SQLite opens it (SQLite would make it 0644
      // less the umask), so its -wal and -shm, which copy its mode, are 0600 too.
      // Only when it is new (O_EXCL): closing a descriptor of a file drops
      // every POSIX lock this process holds on it, SQLite's locks of the
      // connections already open included.
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd >= 0)
        ::close(fd);
      else if (errno != EEXIST)
        throw std::runtime_error(std::strerror(errno));  // prefixed below
    }
    // NOFOLLOW: a symlink planted at the database's path is refused.
    int flags = mode == Mode::kWriter
                    ? (SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX |
                       SQLite::OPEN_NOFOLLOW)
                    : (SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX | SQLite::OPEN_NOFOLLOW);
    auto db = std::make_unique<SQLite::Database>(path, flags, 5000);
    // Run once per connection, so not kept prepared (schema/queries/sqlite/connection.sql).
    const auto& q = QueryRegistry::sqlite();
    if (mode == Mode::kWriter) {
      db->exec(q.sql("connection.journal_wal"));
      db->exec(q.sql(synchronous_full ? "connection.synchronous_full"
                                      : "connection.synchronous_normal"));
      db->exec(q.sql("connection.foreign_keys_on"));
    }
    db->exec(q.sql("connection.temp_store_memory"));
    return db;
  } catch (const std::exception& e) {
    throw StorageError("cannot open database " + path + ": " + e.what());
  }
}

}  // namespace sc::storage::detail
