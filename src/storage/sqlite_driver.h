// Internal to storage: the SQLite driver's own entry points (driver.h has
// the common ones).
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>

#include "driver.h"

namespace sc::storage::detail {

std::unique_ptr<Connection> connect_sqlite(const std::string& path, Mode mode,
                                           bool synchronous_full);
// A Connection over a database the caller keeps open (and must outlive it).
std::unique_ptr<Connection> borrow_sqlite(SQLite::Database& db);

}  // namespace sc::storage::detail
