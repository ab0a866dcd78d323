#include "sc/core/admin.h"

namespace sc {

const char* to_string(Scope s) {
  switch (s) {
    case Scope::kRead:
      return "read";
    case Scope::kSend:
      return "send";
    case Scope::kAdmin:
      return "admin";
  }
  return "read";
}

std::optional<Scope> scope_from(std::string_view s) {
  if (s == "read") return Scope::kRead;
  if (s == "send") return Scope::kSend;
  if (s == "admin") return Scope::kAdmin;
  return std::nullopt;
}

}  // namespace sc
