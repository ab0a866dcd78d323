// Internal to storage: the admin_keys and audit_log queries, shared by the
// writer's context, the read pool and the key commands.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "sc/core/admin.h"
#include "sql.h"

namespace sc::storage::detail {

void append_audit(Statements& st, const AuditEntry& e);

// The AuditLog port over the writer's connection.
class SqliteAuditLog final : public AuditLog {
 public:
  explicit SqliteAuditLog(Statements& st) : st_(st) {}
  void append(const AuditEntry& e) override { append_audit(st_, e); }

 private:
  Statements& st_;
};

// The key stored with this hash, revoked or not.
std::optional<AdminKey> admin_key_by_hash(Statements& st, const std::string& sha256_hex);
AuditPage audit_page(Statements& st, std::int64_t before, int limit);
std::vector<AdminKey> list_keys(Statements& st);

}  // namespace sc::storage::detail
