// Internal to storage: the admin_keys and audit_log statements, shared by
// the writer's context, the read pool and the key commands.
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <optional>
#include <string>
#include <vector>

#include "sc/core/admin.h"
#include "sqlite_stores.h"

namespace sc::storage::detail {

inline constexpr const char* kInsertAudit =
    "INSERT INTO audit_log (at, key_name, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)";

void bind_audit(SQLite::Statement& q, const AuditEntry& e);

// The AuditLog port over the writer's connection.
class SqliteAuditLog final : public AuditLog {
 public:
  explicit SqliteAuditLog(Statements& st) : st_(st) {}
  void append(const AuditEntry& e) override;

 private:
  Statements& st_;
};

// The key stored with this hash, revoked or not.
std::optional<AdminKey> admin_key_by_hash(SQLite::Database& db, const std::string& sha256_hex);
AuditPage audit_page(SQLite::Database& db, std::int64_t before, int limit);
std::vector<AdminKey> list_keys(SQLite::Database& db);

}  // namespace sc::storage::detail
