#include "queries.h"

#include <stdexcept>

#include "sc/assets/embedded.h"

namespace sc::storage::detail {

namespace {

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n;");
  return s.substr(b, e - b + 1);
}

}  // namespace

QueryRegistry::QueryRegistry(const std::map<std::string, std::string_view>& files,
                             std::string_view dialect) {
  const std::string dir = "schema/queries/" + std::string(dialect) + "/";
  constexpr std::string_view kName = "-- name:";
  for (const auto& [path, text] : files) {
    if (path.rfind(dir, 0) != 0 || !path.ends_with(".sql")) continue;
    const std::string area = path.substr(dir.size(), path.size() - dir.size() - 4) + ".";
    std::string name, body;
    auto close = [&] {
      if (name.empty()) {
        if (!trim(body).empty()) throw std::logic_error(path + ": SQL before the first name");
        return;
      }
      const auto sql = trim(body);
      if (sql.empty()) throw std::logic_error(path + ": query " + name + " has no SQL");
      if (!sql_.emplace(name, std::string(sql)).second)
        throw std::logic_error(path + ": query " + name + " is named twice");
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      const auto line = text.substr(pos, end - pos);
      pos = end + 1;
      const auto t = trim(line);
      if (t.starts_with(kName)) {
        close();
        name = std::string(trim(t.substr(kName.size())));
        body.clear();
        if (name.rfind(area, 0) != 0 || name.size() == area.size())
          throw std::logic_error(path + ": query " + name + " is not named " + area + "<verb>");
      } else if (!t.starts_with("--")) {
        // Comments stay in the file; the statement keeps only its SQL.
        body.append(line).push_back('\n');
      }
    }
    close();
  }
}

const QueryRegistry& QueryRegistry::sqlite() {
  static const QueryRegistry registry(embedded::files(), "sqlite");
  return registry;
}

const QueryRegistry& QueryRegistry::postgres() {
  static const QueryRegistry registry(embedded::files(), "postgres");
  return registry;
}

const std::string& QueryRegistry::sql(std::string_view name) const {
  const auto it = sql_.find(name);
  if (it == sql_.end())
    throw std::logic_error("no query named " + std::string(name) + " in schema/queries");
  return it->second;
}

std::string_view QueryRegistry::key(std::string_view name) const {
  const auto it = sql_.find(name);
  if (it == sql_.end())
    throw std::logic_error("no query named " + std::string(name) + " in schema/queries");
  return it->first;
}

std::vector<std::string> QueryRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, sql] : sql_) out.push_back(name);
  return out;
}

}  // namespace sc::storage::detail
