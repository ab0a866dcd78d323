// Who may do what on the admin API: scoped keys and the audit log's entries.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sc {

// Each scope includes the ones before it: send can read, admin can do all.
enum class Scope { kRead = 0, kSend = 1, kAdmin = 2 };
const char* to_string(Scope s);
std::optional<Scope> scope_from(std::string_view s);
inline bool allows(Scope held, Scope needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

// The caller of an admin request, once its key is accepted.
struct AdminIdentity {
  std::string key_name;  // "SC_ADMIN_API_KEY" for the bootstrap key
  Scope scope = Scope::kRead;
};

}  // namespace sc
