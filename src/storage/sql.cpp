#include "sql.h"

namespace sc::storage::detail {

Query Statements::operator()(std::string_view name) {
  if (generation_ != db_.generation()) {
    cache_.clear();  // prepared on a connection that is gone
    generation_ = db_.generation();
  }
  auto it = cache_.find(name);
  if (it == cache_.end()) {
    const auto key = queries_.key(name);
    it = cache_.emplace(key, db_.prepare(key, queries_.sql(name))).first;
  } else {
    it->second->clear();
  }
  return Query(*it->second);
}

void Statements::reset_all() noexcept {
  for (auto& [name, s] : cache_) s->reset();
}

}  // namespace sc::storage::detail
