// The SQLite driver (driver.h) over SQLiteCpp.
#include "sqlite_driver.h"

#include <SQLiteCpp/SQLiteCpp.h>
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

class SqliteStatement final : public Statement {
 public:
  SqliteStatement(SQLite::Database& db, const std::string& sql) : s_(db, sql) {}
  void clear() override {
    s_.reset();
    s_.clearBindings();
  }
  void bind_null(int i) override { s_.bind(i); }
  void bind_int64(int i, std::int64_t v) override { s_.bind(i, v); }
  // As text: SQLiteCpp's pointer-and-size overload would bind a blob.
  void bind_text(int i, std::string_view v) override { s_.bind(i, std::string(v)); }
  bool step() override { return s_.executeStep(); }
  int exec() override { return s_.exec(); }
  void reset() noexcept override {
    try {
      s_.reset();
    } catch (...) {
      // reset() reports the statement's last error again; it is reset all the same.
    }
  }
  bool is_null(int col) const override { return s_.isColumnNull(col); }
  std::int64_t int64_at(int col) const override { return s_.getColumn(col).getInt64(); }
  std::string text_at(int col) const override { return s_.getColumn(col).getString(); }

 private:
  mutable SQLite::Statement s_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(std::unique_ptr<SQLite::Database> db)
      : owned_(std::move(db)), db_(owned_.get()) {}
  explicit SqliteConnection(SQLite::Database& borrowed) : db_(&borrowed) {}
  Dialect dialect() const override { return Dialect::kSqlite; }
  const QueryRegistry& queries() const override { return QueryRegistry::sqlite(); }
  std::unique_ptr<Statement> prepare(std::string_view, const std::string& sql) override {
    return std::make_unique<SqliteStatement>(*db_, sql);
  }
  void execute_script(const std::string& sql) override { db_->exec(sql); }
  bool in_transaction() override { return sqlite3_get_autocommit(db_->getHandle()) == 0; }
  bool lost() override { return false; }  // a file does not go away between calls
  void reconnect() override {}
  std::uint64_t generation() const override { return 0; }
  bool conflict(const std::exception&) const override { return false; }
  bool deadlock(const std::exception&) const override { return false; }
  void drop_old_versions() override { db_->exec(queries().sql("erasure.checkpoint")); }
  std::string failure_reason(const std::exception& e) const override {
    // SQLite's text for the code, never the message (which may name a path).
    const auto* sqlite_error = dynamic_cast<const SQLite::Exception*>(&e);
    return sqlite_error != nullptr ? sqlite3_errstr(sqlite_error->getErrorCode()) : "write failed";
  }

 private:
  std::unique_ptr<SQLite::Database> owned_;
  SQLite::Database* db_;
};

}  // namespace

std::unique_ptr<Connection> borrow_sqlite(SQLite::Database& db) {
  return std::make_unique<SqliteConnection>(db);
}

std::unique_ptr<Connection> connect_sqlite(const std::string& path, Mode mode,
                                           bool synchronous_full) {
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
      db->exec(q.sql("connection.secure_delete_on"));
    }
    db->exec(q.sql("connection.temp_store_memory"));
    return std::make_unique<SqliteConnection>(std::move(db));
  } catch (const std::exception& e) {
    throw StorageError("cannot open database " + path + ": " + e.what());
  }
}

}  // namespace sc::storage::detail
