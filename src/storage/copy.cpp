// `stayconnected migrate-data` (sc/storage/copy.h): a SQLite installation
// into an empty PostgreSQL database. The statements are
// schema/queries/{sqlite,postgres}/copy.sql; the identifiers filled into
// their templates come from the fixed table list below and from the column
// names both databases report, which must be equal, in order, and plain
// identifiers before anything is written.
#include "sc/storage/copy.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "driver.h"
#include "sql.h"

namespace sc::storage {

namespace {

// Every table of the schema but schema_migrations (the target has its own),
// referenced tables before those that reference them (foreign keys are
// checked row by row). A table a migration adds must be added here: the
// copy refuses a database with a table it does not know.
const std::vector<std::string> kTables = {
    "subscribers",  "channels",   "subscriber_topics", "topic_requests",  "consent_texts",
    "consent_log",  "broadcasts", "broadcast_leases",  "instances",       "outbox",
    "admin_keys",   "audit_log",  "inbound_texts",     "provider_events", "rate_grants",
    "suppressions", "imports",    "import_parts",      "import_rows",     "sms_confirm_sends"};
constexpr const char* kMigrationsTable = "schema_migrations";

// Rows are sent to the server in chunks of about this many bytes.
constexpr std::size_t kChunkBytes = 1 << 20;

bool plain_identifier(std::string_view s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The named template with each {key} replaced; every value is a checked
// identifier or a list of them.
std::string filled(const detail::Connection& db, std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& values) {
  std::string sql = db.queries().sql(name);
  for (const auto& [key, value] : values) {
    const std::string mark = "{" + key + "}";
    for (auto at = sql.find(mark); at != std::string::npos; at = sql.find(mark, at + value.size()))
      sql.replace(at, mark.size(), value);
  }
  if (sql.find('{') != std::string::npos)
    throw std::logic_error(std::string(name) + ": a placeholder was left unfilled");
  return sql;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::vector<std::string> texts(detail::Query q) {
  std::vector<std::string> out;
  q.each([&](const detail::Row& r) { out.push_back(r.get<std::string>(0)); });
  return out;
}

std::vector<std::int64_t> versions(detail::Statements& st) {
  std::vector<std::int64_t> out;
  st("copy.versions").each([&](const detail::Row& r) { out.push_back(r.get<std::int64_t>(0)); });
  return out;
}

// The templates of one connection filled in, each prepared once (a
// PostgreSQL statement name is taken for the session).
class Filled {
 public:
  explicit Filled(detail::Connection& db) : db_(db) {}
  detail::Query operator()(std::string_view name,
                           const std::vector<std::pair<std::string, std::string>>& values) {
    std::string key(name);
    for (const auto& v : values) key += "/" + v.second;
    auto& st = cache_[key];
    if (!st) st = db_.prepare(key, filled(db_, name, values));
    st->reset();
    st->clear();
    return detail::Query(*st);
  }

 private:
  detail::Connection& db_;
  std::map<std::string, std::unique_ptr<detail::Statement>> cache_;
};

// SELECT count(*) of `table`, in the connection's current transaction.
std::int64_t count_rows(Filled& db, const std::string& table) {
  return db("copy.count", {{"table", table}}).value<std::int64_t>().value_or(0);
}

// COPY's text format: backslash, tab, newline and carriage return escaped.
void append_value(std::string& out, const std::string& v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

// Both databases hold exactly the tables of kTables (and schema_migrations).
void check_tables(std::vector<std::string> found, const std::string& which) {
  std::set<std::string> want(kTables.begin(), kTables.end());
  want.insert(kMigrationsTable);
  std::vector<std::string> unknown, missing;
  for (const auto& t : found)
    if (!want.contains(t)) unknown.push_back(t);
  const std::set<std::string> have(found.begin(), found.end());
  for (const auto& t : want)
    if (!have.contains(t)) missing.push_back(t);
  if (!unknown.empty())
    throw CopyRefused(which + " has tables migrate-data does not know: " + joined(unknown));
  if (!missing.empty()) throw CopyRefused(which + " lacks the tables " + joined(missing));
}

// Copies one table's rows with COPY; the number of rows sent.
std::int64_t copy_table(detail::Connection& src, detail::Connection& dst, const std::string& table,
                        const std::string& columns, int column_count) {
  auto read = src.prepare("copy.read/" + table,
                          filled(src, "copy.read", {{"table", table}, {"columns", columns}}));
  read->clear();
  std::int64_t sent = 0;
  dst.copy_in("copy.write", filled(dst, "copy.write", {{"table", table}, {"columns", columns}}),
              [&](std::string& chunk) {
                while (chunk.size() < kChunkBytes) {
                  if (!read->step()) return false;
                  for (int c = 0; c < column_count; ++c) {
                    if (c > 0) chunk += '\t';
                    if (read->is_null(c))
                      chunk += "\\N";
                    else
                      append_value(chunk, read->text_at(c));
                  }
                  chunk += '\n';
                  ++sent;
                }
                return true;
              });
  read->reset();
  return sent;
}

}  // namespace

const std::vector<std::string>& copied_tables() { return kTables; }

CopyReport copy_database(const std::string& from, const std::string& to, std::int64_t now) {
  if (!detail::is_postgres(to))
    throw CopyRefused("--to must be a postgresql:// or postgres:// URL, not '" + to + "'");
  if (detail::is_postgres(from))
    throw CopyRefused("--from must be the SQLite database file of the installation, not a URL");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(from, ec))
    throw CopyRefused("--from " + from + " is not a SQLite database file");

  // The source: read-only, never migrated here.
  auto src = detail::connect(from, detail::Mode::kReader);
  detail::Statements s(*src);
  std::vector<std::string> src_tables;
  std::vector<std::int64_t> src_versions;
  try {
    src_tables = texts(s("copy.tables"));
    if (std::find(src_tables.begin(), src_tables.end(), kMigrationsTable) == src_tables.end())
      throw CopyRefused(from + " has no schema_migrations table: not a stayconnected database, " +
                        "or never migrated (run `SC_DB=" + from + " stayconnected migrate` first)");
    src_versions = versions(s);
  } catch (const detail::DbError& e) {
    throw CopyRefused(from + " cannot be read as a SQLite database: " + e.what());
  }

  // The target: the normal migrations first, so both are at this build's
  // schema when the source is.
  CopyReport report;
  report.target_migrations = migrate(to, now);
  auto dst = detail::connect(to, detail::Mode::kWriter);
  detail::Statements d(*dst);
  const auto dst_versions = versions(d);
  if (src_versions != dst_versions) {
    const auto src_top = src_versions.empty() ? 0 : src_versions.back();
    const auto dst_top = dst_versions.empty() ? 0 : dst_versions.back();
    if (src_top > dst_top)
      throw CopyRefused(from + " is at schema version " + std::to_string(src_top) +
                        ", newer than this build's " + std::to_string(dst_top) +
                        ": run the migrate-data of the build that last ran on it");
    throw CopyRefused(from + " is at schema version " + std::to_string(src_top) + ", not " +
                      std::to_string(dst_top) + ": run `SC_DB=" + from +
                      " stayconnected migrate` first, then migrate-data again");
  }
  check_tables(src_tables, from);
  check_tables(texts(d("copy.tables")), detail::redact(to));

  // The columns: the same names in the same order on both sides.
  std::vector<std::pair<std::string, int>> columns;  // per table of kTables
  for (const auto& t : kTables) {
    const auto a = texts(s("copy.columns").bind(t));
    const auto b = texts(d("copy.columns").bind(t));
    if (a != b || a.empty())
      throw CopyRefused("table " + t + " has the columns (" + joined(a) + ") in " + from +
                        " but (" + joined(b) + ") in the PostgreSQL schema");
    for (const auto& c : a)
      if (!plain_identifier(c)) throw CopyRefused("table " + t + ": column name '" + c + "'");
    columns.emplace_back(joined(a), static_cast<int>(a.size()));
  }
  std::vector<std::pair<std::string, std::string>> identities;
  d("copy.identities").each([&](const detail::Row& r) {
    identities.emplace_back(r.get<std::string>(0), r.get<std::string>(1));
  });
  for (const auto& [t, c] : identities)
    if (!plain_identifier(t) || !plain_identifier(c))
      throw CopyRefused("identity column '" + t + "." + c + "'");

  // One snapshot of the source, one transaction on the target. The tables
  // are locked against writes before they are checked empty.
  s("copy.snapshot_begin").exec();
  detail::Transaction tx(d);
  dst->execute_script(filled(*dst, "copy.lock", {{"tables", joined(kTables)}}));
  Filled src_filled(*src), dst_filled(*dst);
  std::vector<std::string> not_empty;
  for (const auto& t : kTables)
    if (const auto n = count_rows(dst_filled, t); n > 0)
      not_empty.push_back(t + " " + std::to_string(n) + (n == 1 ? " row" : " rows"));
  if (!not_empty.empty())
    throw CopyRefused("the target database " + detail::redact(to) + " is not empty (" +
                      joined(not_empty) + "): migrate-data copies only into an empty database");

  try {
    for (std::size_t i = 0; i < kTables.size(); ++i) {
      const auto& t = kTables[i];
      std::int64_t sent = 0;
      const auto started = std::chrono::steady_clock::now();
      try {
        sent = copy_table(*src, *dst, t, columns[i].first, columns[i].second);
      } catch (const std::exception& e) {
        throw CopyFailed("table " + t + ": " + e.what());
      }
      CopiedTable row{
          t, count_rows(src_filled, t), count_rows(dst_filled, t),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
      if (row.source_rows != sent || row.target_rows != sent)
        throw CopyFailed("table " + t + ": " + std::to_string(row.source_rows) +
                         " rows in the source, " + std::to_string(sent) + " read, " +
                         std::to_string(row.target_rows) + " in the target");
      report.tables.push_back(std::move(row));
    }
    for (const auto& [t, c] : identities) {
      dst_filled("copy.restart_identity", {{"table", t}, {"column", c}}).value<std::int64_t>();
    }
    tx.commit();
  } catch (const CopyFailed&) {
    throw;
  } catch (const std::exception& e) {
    throw CopyFailed(std::string(e.what()));
  }
  s("copy.snapshot_end").exec();
  return report;
}

}  // namespace sc::storage
