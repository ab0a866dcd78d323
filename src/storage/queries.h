// Internal to storage: the named SQL of one dialect. Every statement lives in
// schema/queries/<dialect>/<area>.sql as a block that starts with a line
// "-- name: <area>.<verb>"; the files are embedded like the migrations and
// parsed once. A second backend is a folder beside sqlite/ with the same names.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sc::storage::detail {

class QueryRegistry {
 public:
  // Parses the files under schema/queries/<dialect>/ of `files` (path ->
  // text). Throws std::logic_error for text before the first name, a name
  // outside its file's area, a name given twice or a block without SQL.
  QueryRegistry(const std::map<std::string, std::string_view>& files, std::string_view dialect);
  // The SQLite dialect from the embedded files, parsed on first use.
  static const QueryRegistry& sqlite();
  static const QueryRegistry& postgres();
  // The statement named `name`. Asking for a name no block has is a
  // programming error: std::logic_error at once, before anything runs.
  const std::string& sql(std::string_view name) const;
  // The stored name equal to `name` (its bytes live as long as the registry).
  std::string_view key(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::string, std::less<>> sql_;
};

}  // namespace sc::storage::detail
