// Who may do what on the admin API: scoped keys and the audit log's entries.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sc {

// Each scope includes the ones before it: send can read, admin can do all.
enum class Scope { kRead = 0, kSend = 1, kAdmin = 2 };
const char* to_string(Scope s);
std::optional<Scope> scope_from(std::string_view s);
inline bool allows(Scope held, Scope needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

// The names the audit log gives to callers that are no stored key: the
// bootstrap key (SC_ADMIN_API_KEY) and the host's CLI (`keys create`,
// `keys revoke`). No stored key may carry one, so an entry under either
// name is never an API key's.
inline constexpr std::string_view kBootstrapKeyName = "SC_ADMIN_API_KEY";
inline constexpr std::string_view kCliActorName = "cli";
inline bool reserved_key_name(std::string_view name) {
  return name == kBootstrapKeyName || name == kCliActorName;
}

// The caller of an admin request, once its key is accepted.
struct AdminIdentity {
  std::string key_name;  // "SC_ADMIN_API_KEY" for the bootstrap key
  Scope scope = Scope::kRead;
};

// A stored key as `keys list` shows it: never the key, only its prefix.
struct AdminKey {
  std::string name;
  Scope scope = Scope::kRead;
  std::string prefix;           // the key's first characters, for telling keys apart
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t revoked_at = 0;  // 0 while valid
};

// One entry of the append-only audit log.
struct AuditEntry {
  std::int64_t id = 0;  // given by the log
  std::int64_t at = 0;  // unix seconds
  std::string key_name;
  std::string action;  // "subscriber.lookup", "broadcast.send", …
  std::string target;  // what it acted on ("a@example.org", "broadcast 12")
  std::string ip;      // the client's address
  std::string detail;
};

// A page of the audit log, newest first; `next` is the `before` cursor of
// the following page, 0 when this page is the last.
struct AuditPage {
  std::vector<AuditEntry> entries;
  std::int64_t next = 0;
};

// Port: appends to the audit log inside a write transaction.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual void append(const AuditEntry& e) = 0;
};

// Port: what the admin API needs to know who calls it and to record what
// they do (storage implements it: only keys' hashes are stored).
class AdminStore {
 public:
  virtual ~AdminStore() = default;
  // Whose key this is, when it is a stored key that is not revoked.
  virtual std::optional<AdminIdentity> identify(std::string_view key) = 0;
  // Appends one entry (its id is ignored); throws when it cannot be stored,
  // so an action that cannot be audited does not happen.
  virtual void append_audit(const AuditEntry& e) = 0;
  // Entries with id < before (0: from the newest), newest first, at most limit.
  virtual AuditPage audit_page(std::int64_t before, int limit) = 0;
};

}  // namespace sc
