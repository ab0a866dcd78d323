#include <chrono>
#include <regex>

#include "driver.h"
#include "sc/assets/embedded.h"
#include "sc/storage/storage.h"
#include "sql.h"

namespace sc::storage {

namespace {

// The dialect's migrations are schema/migrations/<dialect>/NNNN_name.sql,
// the same numbers and names in each dialect.
const char* folder_of(detail::Dialect d) {
  return d == detail::Dialect::kPostgres ? "postgres" : "sqlite";
}

// Applies one migration in its own transaction, unless it is recorded.
bool apply(detail::Connection& db, detail::Statements& st, int version, const std::string& name,
           std::string_view sql, std::int64_t now) {
  if (st("migrations.applied").bind(version).value<int>()) return false;
  detail::Transaction tx(st);
  // Another process may have applied it between the check and the lock
  // (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory lock held around all).
  if (st("migrations.applied").bind(version).value<int>()) return false;
  st.reset_all();
  db.execute_script(std::string(sql));
  if (db.dialect() == detail::Dialect::kSqlite &&
      sql.find("writable_schema") != std::string_view::npos) {
    // The schema text was edited in place (only ever to widen a CHECK):
    // other connections reload it when schema_version moves.
    const int v = *st("migrations.schema_version").value<int>();
    auto bump = db.queries().sql("migrations.set_schema_version");
    bump.replace(bump.find("{version}"), 9, std::to_string(v + 1));
    db.execute_script(bump);
  }
  st("migrations.record").bind(version, name, now).exec();
  tx.commit();
  return true;
}

}  // namespace

std::vector<AppliedMigration> migrate(const std::string& path, std::int64_t now) {
  auto db = detail::connect(path, detail::Mode::kWriter);
  std::vector<AppliedMigration> applied;
  try {
    detail::Statements st(*db);
    const bool postgres = db->dialect() == detail::Dialect::kPostgres;
    // Instances starting at once on one PostgreSQL database: one migrates,
    // the others wait here and then find every version recorded.
    if (postgres) st("migrations.lock").exec();
    try {
      st("migrations.create_table").exec();
      const std::regex name_re(std::string("schema/migrations/") + folder_of(db->dialect()) +
                               R"(/(\d+)_([A-Za-z0-9_]+)\.sql)");
      // The map is ordered by path, and versions are zero-padded, so this is
      // the numeric order too.
      for (const auto& [file, sql] : embedded::files()) {
        std::smatch m;
        if (!std::regex_match(file, m, name_re)) continue;
        const int version = std::stoi(m[1]);
        if (apply(*db, st, version, m[2].str(), sql, now)) applied.push_back({version, m[2].str()});
      }
    } catch (...) {
      if (postgres && !db->lost()) st("migrations.unlock").exec();
      throw;
    }
    if (postgres) st("migrations.unlock").exec();
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception& e) {
    throw StorageError("migration failed on " + detail::redact(path) + ": " + e.what());
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
  auto db = detail::connect(path, detail::Mode::kWriter);
  detail::Statements st(*db);
  st("consent.register_text")
      .bind(text.sha256_hex, to_string(channel), text.version, text.text, now)
      .exec();
}

}  // namespace sc::storage
