// `stayconnected migrate-data --from FILE --to URL`: moves a SQLite
// installation into an empty PostgreSQL database (sc/storage/copy.h) and
// says what the operator must carry over: the key links are signed with.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "sc/app/commands.h"
#include "sc/storage/copy.h"

namespace sc {

namespace {

constexpr const char* kUsage =
    "usage: stayconnected migrate-data --from SQLITE_FILE --to postgresql://...";

// The secret.key a SQLite installation without SC_SECRET generated beside
// its database (config.cpp, resolve_secret).
std::filesystem::path secret_key_beside(const std::string& db_file) {
  auto dir = std::filesystem::path(db_file).parent_path();
  return (dir.empty() ? std::filesystem::path(".") : dir) / "secret.key";
}

}  // namespace

int cmd_migrate_data(const std::vector<std::string>& args) {
  std::string from, to;
  for (std::size_t i = 1; i < args.size(); i += 2) {
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      std::fprintf(stderr, "stayconnected: migrate-data: %s\n", kUsage);
      return 2;
    }
    if (args[i] == "--from" && from.empty()) {
      from = args[i + 1];
    } else if (args[i] == "--to" && to.empty()) {
      to = args[i + 1];
    } else {
      std::fprintf(stderr, "stayconnected: migrate-data: %s\n", kUsage);
      return 2;
    }
  }
  if (from.empty() || to.empty()) {
    std::fprintf(stderr, "stayconnected: migrate-data: %s\n", kUsage);
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  storage::CopyReport report;
  try {
    report = storage::copy_database(from, to,
                                    std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  } catch (const storage::CopyFailed& e) {
    std::fprintf(stderr,
                 "stayconnected: migrate-data failed and was rolled back, the target holds no "
                 "row: %s\n",
                 e.what());
    return 1;
  } catch (const storage::StorageError& e) {
    std::fprintf(stderr, "stayconnected: migrate-data: %s\n", e.what());
    return 2;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  for (const auto& m : report.target_migrations)
    std::printf("target: applied %04d_%s\n", m.version, m.name.c_str());
  std::printf("%-20s %12s %12s %9s\n", "table", "source", "target", "seconds");
  std::int64_t rows = 0;
  for (const auto& t : report.tables) {
    std::printf("%-20s %12lld %12lld %9.1f\n", t.table.c_str(),
                static_cast<long long>(t.source_rows), static_cast<long long>(t.target_rows),
                t.seconds);
    rows += t.target_rows;
  }
  std::printf("copied %zu tables, %lld rows, in %.1f s\n", report.tables.size(),
              static_cast<long long>(rows), seconds);

  // Links already mailed (confirm, unsubscribe) are signed: the instances on
  // PostgreSQL must sign with the same key.
  std::error_code ec;
  const auto key = secret_key_beside(from);
  if (std::filesystem::exists(key, ec)) {
    std::printf(
        "next: start every instance with SC_SECRET_FILE=%s (the key the links already mailed are "
        "signed with; if the SQLite service ran with SC_SECRET set, give them that SC_SECRET "
        "instead)\n",
        std::filesystem::absolute(key, ec).c_str());
  } else {
    std::printf(
        "next: start every instance with the SC_SECRET the SQLite service ran with (there is no "
        "%s), so the links already mailed keep working\n",
        key.c_str());
  }
  return 0;
}

}  // namespace sc
