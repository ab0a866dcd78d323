// Where the data lives, from SC_DB: a file path (SQLite) or a PostgreSQL
// connection URI. Decided once at start, so a mistyped URL stops the start
// instead of becoming the name of a new SQLite file.
#pragma once
#include <string>

namespace sc::storage {

enum class Backend { kSqlite, kPostgres };

// A checked database location. `value` is what storage opens: the path as
// given, or the URL with connect_timeout added when it had none, so every
// connection attempt is bounded. `redacted` is for logs and messages: the
// same with any password replaced by "***".
struct Location {
  Backend backend = Backend::kSqlite;
  std::string value;
  std::string redacted;
};

// Throws std::invalid_argument with one line (never the password) for an
// empty value, a URL of any scheme but postgresql:// or postgres://, or a
// PostgreSQL URL that libpq cannot parse. `connect_timeout_seconds` (1..600)
// is added to a PostgreSQL URL that sets no connect_timeout.
Location parse_location(const std::string& sc_db, int connect_timeout_seconds);

// A location for messages: a URL with any password replaced by "***"; a
// path as it is.
std::string redacted(const std::string& location);

}  // namespace sc::storage
