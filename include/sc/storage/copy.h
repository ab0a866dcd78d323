// `stayconnected migrate-data`: a SQLite installation copied into an empty
// PostgreSQL database, every table with its ids, in one transaction.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sc/storage/storage.h"

namespace sc::storage {

// The copy was refused before anything was written: the target is not
// empty, the source is not fully migrated, --to is not a PostgreSQL URL.
// One line, without a password.
class CopyRefused : public StorageError {
 public:
  using StorageError::StorageError;
};

// The copy failed once started (a row the target refused, the connection
// lost): the transaction was rolled back, the target holds no row.
class CopyFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CopiedTable {
  std::string table;
  std::int64_t source_rows = 0;  // counted in the source's snapshot
  std::int64_t target_rows = 0;  // counted in the target before the commit
  double seconds = 0;            // the COPY of this table
};

struct CopyReport {
  std::vector<CopiedTable> tables;                  // in the order copied
  std::vector<AppliedMigration> target_migrations;  // applied to the target first
};

// Copies the SQLite database at `from` (never written; opened read-only and
// read in one snapshot) into the PostgreSQL database at `to`: migrates `to`
// with the normal migrations first (its migrations are recorded at `now`),
// requires both at the same schema version and every table of `to` empty,
// then copies every table with its ids and moves each identity past the
// largest id copied, all in one transaction on `to`.
// Throws CopyRefused (nothing written), StorageError (a database that
// cannot be opened or migrated), CopyFailed (rolled back).
CopyReport copy_database(const std::string& from, const std::string& to, std::int64_t now);

// The tables copy_database copies, in its order (referenced tables first).
const std::vector<std::string>& copied_tables();

}  // namespace sc::storage
