#include "sql.h"

namespace sc::storage::detail {

Query Statements::operator()(std::string_view name) {
  auto it = cache_.find(name);
  if (it == cache_.end()) {
    it = cache_
             .emplace(queries_.key(name),
                      std::make_unique<SQLite::Statement>(db_, queries_.sql(name)))
             .first;
  } else {
    it->second->reset();
    it->second->clearBindings();
  }
  return Query(*it->second);
}

void Statements::reset_all() noexcept {
  for (auto& [name, s] : cache_) {
    try {
      s->reset();
    } catch (...) {
      // reset() reports the statement's last error again; it is reset all the same.
    }
  }
}

}  // namespace sc::storage::detail
