// Internal to storage: the two database drivers behind one interface. A
// Connection prepares named statements (sql.h binds and reads them) and runs
// scripts; SQLite (sqlite_driver.cpp, through SQLiteCpp) and PostgreSQL
// (pg_driver.cpp, through libpq) implement it. Nothing above sql.h knows
// which one runs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "queries.h"

namespace sc::storage::detail {

// A statement the database refused or could not run. `sqlstate` is the
// SQLSTATE code where the driver reports one (PostgreSQL), else empty.
class DbError : public std::runtime_error {
 public:
  DbError(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// One prepared statement of one connection. Parameters are numbered from 1,
// columns from 0. Used by one thread at a time, like its connection.
class Statement {
 public:
  virtual ~Statement() = default;
  // Drops the last result and every binding: ready to bind and run again.
  virtual void clear() = 0;
  virtual void bind_null(int i) = 0;
  virtual void bind_int64(int i, std::int64_t v) = 0;
  virtual void bind_text(int i, std::string_view v) = 0;
  // Runs the statement on the first call; true while a row is current.
  virtual bool step() = 0;
  // Runs it to the end; the number of rows it changed.
  virtual int exec() = 0;
  // Done with the result (a SQLite statement left mid-result keeps its read
  // snapshot open). Never throws.
  virtual void reset() noexcept = 0;
  // The current row's column `col`: NULL, as an integer (a boolean reads as
  // 0 or 1), as text.
  virtual bool is_null(int col) const = 0;
  virtual std::int64_t int64_at(int col) const = 0;
  virtual std::string text_at(int col) const = 0;
};

enum class Dialect { kSqlite, kPostgres };
enum class Mode { kWriter, kReader };

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  // The named SQL of this connection's dialect.
  virtual const QueryRegistry& queries() const = 0;
  // Prepares `sql` (the registry's text of `name`). Throws DbError.
  virtual std::unique_ptr<Statement> prepare(std::string_view name, const std::string& sql) = 0;
  // Runs SQL without parameters, one or several statements (migrations).
  virtual void execute_script(const std::string& sql) = 0;
  // Inside BEGIN ... COMMIT.
  virtual bool in_transaction() = 0;
  // After a failure: the connection itself is gone (PostgreSQL restarted,
  // network). reconnect() opens it again (throws DbError while the server
  // stays away); statements prepared before must be prepared again, which
  // generation() tells.
  virtual bool lost() = 0;
  virtual void reconnect() = 0;
  virtual std::uint64_t generation() const = 0;
  // A failure worth running the same work again for, in a fresh savepoint:
  // another session's lock or commit got in the way (deadlock, serialization
  // failure, a unique key another instance inserted meanwhile). Never true
  // under SQLite's single writer.
  virtual bool conflict(const std::exception& e) const = 0;
  // The conflict that is a deadlock: the other transaction waits for a lock
  // this one holds, so retrying inside this transaction meets it again.
  virtual bool deadlock(const std::exception& e) const = 0;
  // A few fixed words for why a statement failed ("database or disk is
  // full", "connection to the database lost"), for /healthz: never the
  // database's own message, which may name a path or a user.
  virtual std::string failure_reason(const std::exception& e) const = 0;
  // After an erasure has committed: drops the old versions of rows that the
  // database still keeps. SQLite (writer connections run with secure_delete,
  // which zeroes what is deleted) checkpoints the WAL and truncates it;
  // PostgreSQL leaves dead rows to VACUUM (docs/deployment.md).
  virtual void drop_old_versions() = 0;
  // PostgreSQL only (migrate-data, copy.cpp): runs `sql`, a COPY ... FROM
  // STDIN in the text format, and sends it what `fill` appends to its
  // buffer, a chunk per call, until fill returns false. An exception from
  // fill aborts the COPY (the statement fails, nothing of it stays) and is
  // rethrown. Throws DbError when the server refuses a row.
  virtual void copy_in(std::string_view name, const std::string& sql,
                       const std::function<bool(std::string& chunk)>& fill);
};

// A PostgreSQL URL (postgresql:// or postgres://); anything else is a file path.
bool is_postgres(std::string_view location);
// The location without its password, for messages.
std::string redact(std::string_view location);

// Opens the database at `location` with the settings every connection has:
// SQLite (created 0600 on first open by a writer; WAL, synchronous FULL or
// NORMAL, foreign keys), or PostgreSQL (synchronous_commit on, UTC; retried
// until the URL's connect_timeout, default 10 s, has passed). Throws
// StorageError with one line.
std::unique_ptr<Connection> connect(const std::string& location, Mode mode,
                                    bool synchronous_full = true);

}  // namespace sc::storage::detail
