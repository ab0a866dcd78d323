// Reading (and, where a test must, writing) the database the way an auditor
// would: through a connection of the test's own, never through the service's
// writer. WAL readers see every committed write. Production code has no such
// raw-SQL API; these helpers are for tests and benchmarks only.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sc::db_inspect {

// One outbox row as stored (NULL text columns read as "").
struct OutboxRow {
  std::int64_t id = 0;
  std::string kind, purpose, state, provider, provider_message_id, last_code, last_error, payload;
  int attempts = 0;
  std::int64_t channel_id = 0, next_attempt_at = 0;
};

// Outbox rows by state (tests wait on these; production reads have no such count).
struct OutboxCounts {
  std::int64_t queued = 0, sending = 0, sent = 0, failed = 0, skipped = 0;
};
OutboxCounts outbox_counts(const std::string& db_path);

// Outbox rows with id > after_id, in id order, at most limit (read-only).
std::vector<OutboxRow> outbox_rows(const std::string& db_path, std::int64_t after_id, int limit);
// SELECT COUNT(*) of a table (read-only); throws std::invalid_argument for a
// name that is not a plain identifier.
std::int64_t count(const std::string& db_path, const std::string& table);
// The first column of every row as text, NULL as "" (read-only).
std::vector<std::string> column(const std::string& db_path, const std::string& sql);
// The first column of the first row as text, "" for no row or NULL (read-only).
std::string query_value(const std::string& db_path, const std::string& sql);
// Every row of a query, each column as text (an integer as its digits, on
// either backend), NULL as nullopt (read-only).
std::vector<std::vector<std::optional<std::string>>> rows(const std::string& db_path,
                                                          const std::string& sql);
// Runs SQL on a read-write connection of its own (autocommit); throws
// an exception on error, e.g. when a trigger refuses the statement.
void exec(const std::string& db_path, const std::string& sql);

}  // namespace sc::db_inspect
