// The named queries (schema/queries/sqlite/) and the executor that runs them
// (src/storage/sql.h).
#include "storage/queries.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "sc/storage/storage.h"
#include "storage/sql.h"
#include "storage/sqlite_driver.h"
#include "support/temp_dir.h"

namespace sc::storage::detail {
namespace {

namespace fs = std::filesystem;

// Every "area.verb" string literal in src/storage, where area is a file of
// schema/queries/sqlite/: the names the code asks for, by the file that asks.
std::map<std::string, std::set<std::string>> names_in_code(const std::set<std::string>& areas) {
  static const std::regex kLiteral(R"re("([a-z_]+)\.([a-z_0-9]+)")re");
  std::map<std::string, std::set<std::string>> out;
  for (const auto& f : fs::directory_iterator(fs::path(SC_SOURCE_DIR) / "src" / "storage")) {
    std::ifstream in(f.path());
    std::stringstream text;
    text << in.rdbuf();
    // Include lines name files ("driver.h"), not queries.
    const auto s = std::regex_replace(text.str(), std::regex("#include[^\n]*"), "");
    for (std::sregex_iterator it(s.begin(), s.end(), kLiteral), end; it != end; ++it) {
      if (areas.contains((*it)[1].str()))
        out[f.path().filename().string()].insert((*it)[1].str() + "." + (*it)[2].str());
    }
  }
  return out;
}

// The names only one dialect has: asked for by its driver, or by the code
// that runs only on it (the migration runner's lock, SQLite's schema text,
// migrate-data's reads of the source and COPY into the target).
const std::set<std::string> kPostgresOnly = {"migrations.lock", "migrations.unlock",
                                             "copy.lock",       "copy.write",
                                             "copy.identities", "copy.restart_identity"};
const std::set<std::string> kSqliteOnly = {"migrations.schema_version",
                                           "migrations.set_schema_version", "copy.snapshot_begin",
                                           "copy.snapshot_end", "copy.read"};

TEST(QueriesTest, EveryNameTheCodeUsesExistsAndEveryBlockIsUsed) {
  ASSERT_GT(QueryRegistry::sqlite().names().size(), 80u);
  std::set<std::string> areas;
  for (const auto& f : fs::directory_iterator(fs::path(SC_SOURCE_DIR) / "schema/queries/sqlite"))
    areas.insert(f.path().stem().string());
  const auto by_file = names_in_code(areas);
  std::set<std::string> sqlite_used, postgres_used;
  for (const auto& [file, names] : by_file) {
    for (const auto& n : names) {
      const bool sqlite = file != "pg_driver.cpp" && !kPostgresOnly.contains(n);
      const bool postgres = file != "sqlite_driver.cpp" && !kSqliteOnly.contains(n);
      if (sqlite) {
        sqlite_used.insert(n);
        EXPECT_NO_THROW(QueryRegistry::sqlite().sql(n)) << n << " (asked for in " << file << ")";
      }
      if (postgres) {
        postgres_used.insert(n);
        EXPECT_NO_THROW(QueryRegistry::postgres().sql(n)) << n << " (asked for in " << file << ")";
      }
    }
  }
  for (const auto& n : QueryRegistry::sqlite().names())
    EXPECT_TRUE(sqlite_used.contains(n)) << n << " is never used on SQLite";
  for (const auto& n : QueryRegistry::postgres().names())
    EXPECT_TRUE(postgres_used.contains(n)) << n << " is never used on PostgreSQL";
}

TEST(QueriesTest, EveryQueryPreparesOnAMigratedDatabase) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  migrate(path);
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  for (const auto& n : QueryRegistry::sqlite().names()) {
    // Templates ({version}, {table}, {columns}): prepared once filled in.
    if (QueryRegistry::sqlite().sql(n).find('{') != std::string::npos) continue;
    EXPECT_NO_THROW(SQLite::Statement(db, QueryRegistry::sqlite().sql(n))) << n;
  }
}

TEST(QueriesTest, AnUnknownNameThrowsAtOnce) {
  EXPECT_THROW(QueryRegistry::sqlite().sql("outbox.no_such_query"), std::logic_error);
  auto db = connect(":memory:", Mode::kWriter);
  Statements st(*db);
  EXPECT_THROW(st("outbox.no_such_query"), std::logic_error);
}

std::map<std::string, std::string_view> files(std::string_view text) {
  return {{"schema/queries/test/t.sql", text}, {"schema/queries/other/t.sql", "junk"}};
}

TEST(QueriesTest, BlocksAreParsedByNameAndCommentsDropped) {
  QueryRegistry r(files("-- about t\n\n-- name: t.one\n-- why\nSELECT ?1 +\n  1;\n"
                        "-- name: t.two\nSELECT 2\n"),
                  "test");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"t.one", "t.two"}));
  EXPECT_EQ(r.sql("t.one"), "SELECT ?1 +\n  1");
  EXPECT_EQ(r.sql("t.two"), "SELECT 2");
}

TEST(QueriesTest, MalformedFilesAreRefused) {
  EXPECT_THROW(QueryRegistry(files("SELECT 1;\n-- name: t.a\nSELECT 2"), "test"), std::logic_error);
  EXPECT_THROW(QueryRegistry(files("-- name: t.a\nSELECT 1\n-- name: t.a\nSELECT 2"), "test"),
               std::logic_error);
  EXPECT_THROW(QueryRegistry(files("-- name: t.a\n-- name: t.b\nSELECT 2"), "test"),
               std::logic_error);
  EXPECT_THROW(QueryRegistry(files("-- name: u.a\nSELECT 1"), "test"), std::logic_error);
}

class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest()
      : registry_(files("-- name: t.create\nCREATE TABLE x (i INTEGER, s TEXT)\n"
                        "-- name: t.insert\nINSERT INTO x (i, s) VALUES (?1, ?2)\n"
                        "-- name: t.all\nSELECT i, s FROM x ORDER BY rowid\n"
                        "-- name: t.count\nSELECT count(*) FROM x WHERE i > ?1\n"
                        "-- name: t.bump\nUPDATE x SET i = i + 1 WHERE i IS NOT NULL\n"),
                  "test"),
        db_(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE),
        conn_(borrow_sqlite(db_)),
        st_(*conn_, registry_) {
    st_("t.create").exec();
  }
  QueryRegistry registry_;
  SQLite::Database db_;
  std::unique_ptr<Connection> conn_;
  Statements st_;
};

TEST_F(ExecutorTest, BindsByOverloadAndReadsByType) {
  const std::string s = "string";
  const std::string_view v = "view";
  std::optional<std::int64_t> none;
  st_("t.insert").bind(1, s).exec();
  st_("t.insert").bind(std::int64_t{1} << 40, v).exec();
  st_("t.insert").bind(none, "literal").exec();
  st_("t.insert").bind(std::optional<int>(7), nullptr).exec();
  const auto rows = st_("t.all").all<std::optional<std::int64_t>, std::string>();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], std::tuple(std::optional<std::int64_t>(1), std::string("string")));
  EXPECT_EQ(std::get<0>(rows[1]), std::int64_t{1} << 40);
  EXPECT_EQ(rows[1], std::tuple(std::optional<std::int64_t>(std::int64_t{1} << 40), "view"));
  EXPECT_EQ(rows[2], std::tuple(std::optional<std::int64_t>(), std::string("literal")));
  EXPECT_EQ(rows[3], std::tuple(std::optional<std::int64_t>(7), std::string()));  // NULL: ""
  EXPECT_EQ(st_("t.bump").exec(), 3);                                             // rows changed
  EXPECT_EQ(st_("t.count").bind(7).value<int>(), 2);
  EXPECT_EQ((st_("t.all").one<int, std::string>()), std::tuple(2, std::string("string")));
  int seen = 0;
  st_("t.all").each([&](const Row& r) { seen += r.get<bool>(0) ? 1 : 0; });
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(st_("t.count").bind(std::int64_t{1} << 41).one([](const Row& r) {
    return r.get<int>(0) + 10;
  }),
            10);
}

TEST_F(ExecutorTest, OneResetsSoNoReadIsLeftOpen) {
  st_("t.insert").bind(1, "a").exec();
  st_("t.insert").bind(2, "b").exec();
  ASSERT_TRUE(st_("t.all").one<int>());
  // A statement left mid-result would be busy (and hold its read snapshot).
  ASSERT_NE(sqlite3_next_stmt(db_.getHandle(), nullptr), nullptr);
  for (auto* s = sqlite3_next_stmt(db_.getHandle(), nullptr); s != nullptr;
       s = sqlite3_next_stmt(db_.getHandle(), s))
    EXPECT_EQ(sqlite3_stmt_busy(s), 0) << sqlite3_sql(s);
}

TEST_F(ExecutorTest, EachNameIsPreparedOncePerConnection) {
  auto count = [&] {
    int n = 0;
    for (auto* s = sqlite3_next_stmt(db_.getHandle(), nullptr); s != nullptr;
         s = sqlite3_next_stmt(db_.getHandle(), s))
      ++n;
    return n;
  };
  const int before = count();
  for (int i = 0; i < 5; ++i) st_("t.insert").bind(i, std::to_string(i)).exec();
  // The name is the key, whatever string it is asked with.
  const std::string name = "t.insert";
  st_(name).bind(9, "nine").exec();
  EXPECT_EQ(count(), before + 1);
  EXPECT_EQ(st_("t.count").bind(-1).value<int>(), 6);
}

}  // namespace
}  // namespace sc::storage::detail
