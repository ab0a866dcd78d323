#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <regex>

#include "connection.h"
#include "sc/assets/embedded.h"
#include "sc/storage/storage.h"
#include "sql.h"

namespace sc::storage {

std::vector<AppliedMigration> migrate(const std::string& path, std::int64_t now) {
  auto db = detail::open(path, detail::Mode::kWriter);
  std::vector<AppliedMigration> applied;
  try {
    detail::Statements st(*db);
    st("migrations.create_table").exec();
    static const std::regex kName(R"(schema/migrations/sqlite/(\d+)_([A-Za-z0-9_]+)\.sql)");
    // The map is ordered by path, and versions are zero-padded, so this is
    // the numeric order too.
    for (const auto& [name, sql] : embedded::files()) {
      std::smatch m;
      if (!std::regex_match(name, m, kName)) continue;
      int version = std::stoi(m[1]);
      if (st("migrations.applied").bind(version).value<int>()) continue;
      SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
      // Another process may have applied it between the check and the lock.
      if (st("migrations.applied").bind(version).value<int>()) continue;
      db->exec(std::string(sql));
      if (sql.find("writable_schema") != std::string_view::npos) {
        // The schema text was edited in place (only ever to widen a CHECK):
        // other connections reload it when schema_version moves.
        const int v = *st("migrations.schema_version").value<int>();
        auto bump = detail::QueryRegistry::sqlite().sql("migrations.set_schema_version");
        bump.replace(bump.find("{version}"), 9, std::to_string(v + 1));
        db->exec(bump);
      }
      st("migrations.record").bind(version, m[2].str(), now).exec();
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

std::vector<AppliedMigration> migrate(const std::string& path) {
  return migrate(path, std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
}

void register_consent_text(const std::string& path, ChannelKind channel, const ConsentText& text,
                           std::int64_t now) {
  auto db = detail::open(path, detail::Mode::kWriter);
  detail::Statements st(*db);
  st("consent.register_text")
      .bind(text.sha256_hex, to_string(channel), text.version, text.text, now)
      .exec();
}

}  // namespace sc::storage
