// Admin keys and the audit log in SQLite: the CLI's key commands and the
// AdminStore port the admin API uses. Only a key's SHA-256 is stored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/admin.h"
#include "sc/storage/storage.h"

namespace sc::storage {

// The hex SHA-256 of a key: what admin_keys stores and is searched by.
std::string admin_key_hash(std::string_view key);
// How many of a key's first characters `keys list` shows.
inline constexpr std::size_t kAdminKeyPrefixChars = 11;

enum class KeyChange { kDone, kNameTaken, kUnknownName, kAlreadyRevoked };

// Stores a new key under `name` (its hash and prefix only) and audits it as
// "key.create" by `by`, in one transaction on a connection of its own (the
// service may be running). Throws StorageError on a database failure.
KeyChange create_admin_key(const std::string& path, const std::string& name, Scope scope,
                           std::string_view key, const std::string& by, std::int64_t now);
// Every stored key, oldest first, revoked ones included.
std::vector<AdminKey> list_admin_keys(const std::string& path);
// Revokes the key called `name` (from the next request on, it gets 401) and
// audits it as "key.revoke".
KeyChange revoke_admin_key(const std::string& path, const std::string& name, const std::string& by,
                           std::int64_t now);

// The AdminStore port: key lookups and audit pages through the read pool,
// audit appends through the single writer as request writes.
class SqliteAdminStore final : public AdminStore {
 public:
  SqliteAdminStore(WriteQueue& writer, ReadPool& reads) : writer_(writer), reads_(reads) {}
  std::optional<AdminIdentity> identify(std::string_view key) override;
  void append_audit(const AuditEntry& e) override;
  AuditPage audit_page(std::int64_t before, int limit) override;

 private:
  WriteQueue& writer_;
  ReadPool& reads_;
};

}  // namespace sc::storage
