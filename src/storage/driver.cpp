#include "driver.h"

#include "sc/storage/location.h"
#include "sqlite_driver.h"

namespace sc::storage::detail {

std::unique_ptr<Connection> connect_postgres(const std::string& url);

bool is_postgres(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact(std::string_view location) { return redacted(std::string(location)); }

void Connection::copy_in(std::string_view name, const std::string&,
                         const std::function<bool(std::string&)>&) {
  throw DbError(std::string(name) + ": COPY needs PostgreSQL", "");
}

std::unique_ptr<Connection> connect(const std::string& location, Mode mode, bool synchronous_full) {
  if (is_postgres(location)) return connect_postgres(location);
  return connect_sqlite(location, mode, synchronous_full);
}

}  // namespace sc::storage::detail
