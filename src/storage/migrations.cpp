#include <SQLiteCpp/SQLiteCpp.h>

#include <regex>

#include "connection.h"
#include "sc/assets/embedded.h"
#include "sc/storage/storage.h"

namespace sc::storage {

std::vector<AppliedMigration> migrate(const std::string& path) {
  auto db = detail::open(path, detail::Mode::kWriter);
  std::vector<AppliedMigration> applied;
  try {
    db->exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    static const std::regex kName(R"(schema/migrations/(\d+)_([A-Za-z0-9_]+)\.sql)");
    // The map is ordered by path, and versions are zero-padded, so this is
    // the numeric order too.
    for (const auto& [name, sql] : embedded::files()) {
      std::smatch m;
      if (!std::regex_match(name, m, kName)) continue;
      int version = std::stoi(m[1]);
      SQLite::Statement q(*db, "SELECT 1 FROM schema_migrations WHERE version = ?");
      q.bind(1, version);
      if (q.executeStep()) continue;
      SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
      // Another process may have applied it between the check and the lock.
      SQLite::Statement again(*db, "SELECT 1 FROM schema_migrations WHERE version = ?");
      again.bind(1, version);
      if (again.executeStep()) continue;
      db->exec(std::string(sql));
      if (sql.find("writable_schema") != std::string_view::npos) {
        // The schema text was edited in place (only ever to widen a CHECK):
        // other connections reload it when schema_version moves.
        const int v = db->execAndGet("PRAGMA schema_version").getInt();
        db->exec("PRAGMA schema_version = " + std::to_string(v + 1));
      }
      SQLite::Statement ins(*db,
                            "INSERT INTO schema_migrations (version, name, applied_at)"
                            " VALUES (?, ?, strftime('%s','now'))");
      ins.bind(1, version);
      ins.bind(2, m[2].str());
      ins.exec();
      tx.commit();
      applied.push_back({version, m[2].str()});
    }
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception& e) {
    throw StorageError("migration failed on " + path + ": " + e.what());
  }
  return applied;
}

void register_consent_text(const std::string& path, ChannelKind channel, const ConsentText& text,
                           std::int64_t now) {
  auto db = detail::open(path, detail::Mode::kWriter);
  SQLite::Statement q(
      *db,
      "INSERT OR IGNORE INTO consent_texts (sha256, channel, version, text, created_at)"
      " VALUES (?, ?, ?, ?, ?)");
  q.bind(1, text.sha256_hex);
  q.bind(2, to_string(channel));
  q.bind(3, text.version);
  q.bind(4, text.text);
  q.bind(5, static_cast<int64_t>(now));
  q.exec();
}

}  // namespace sc::storage
