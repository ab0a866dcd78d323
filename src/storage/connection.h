// Internal to storage: opening connections with the pragmas we rely on.
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>

namespace sc::storage::detail {

enum class Mode { kWriter, kReader };
std::unique_ptr<SQLite::Database> open(const std::string& path, Mode mode,
                                       bool synchronous_full = true);

}  // namespace sc::storage::detail
