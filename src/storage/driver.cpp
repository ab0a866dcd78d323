#include "driver.h"

#include <regex>

#include "sqlite_driver.h"

namespace sc::storage::detail {

std::unique_ptr<Connection> connect_postgres(const std::string& url);

bool is_postgres(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact(std::string_view location) {
  if (!is_postgres(location)) return std::string(location);
  // postgresql://user:secret@host/db?password=secret -> user:***@ and password=***
  static const std::regex kUserinfo(R"(^(postgres(?:ql)?://[^:@/?#]*):[^@/?#]*@)");
  static const std::regex kParam(R"(([?&]password=)[^&#]*)");
  auto out = std::regex_replace(std::string(location), kUserinfo, "$1:***@");
  return std::regex_replace(out, kParam, "$1***");
}

void Connection::copy_in(std::string_view name, const std::string&,
                         const std::function<bool(std::string&)>&) {
  throw DbError(std::string(name) + ": COPY needs PostgreSQL", "");
}

std::unique_ptr<Connection> connect(const std::string& location, Mode mode, bool synchronous_full) {
  if (is_postgres(location)) return connect_postgres(location);
  return connect_sqlite(location, mode, synchronous_full);
}

}  // namespace sc::storage::detail
