#include "sc/storage/admin_keys.h"

#include <openssl/evp.h>

#include <array>

#include "admin_sql.h"
#include "connection.h"

namespace sc::storage {

std::string admin_key_hash(std::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  if (EVP_Digest(key.data(), key.size(), md.data(), &n, EVP_sha256(), nullptr) != 1 || n != 32)
    throw StorageError("SHA-256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

namespace detail {

void bind_audit(SQLite::Statement& q, const AuditEntry& e) {
  q.bind(1, static_cast<int64_t>(e.at));
  q.bind(2, e.key_name);
  q.bind(3, e.action);
  q.bind(4, e.target);
  q.bind(5, e.ip);
  q.bind(6, e.detail);
}

void SqliteAuditLog::append(const AuditEntry& e) {
  auto& q = st_.get(kInsertAudit);
  bind_audit(q, e);
  q.exec();
}

namespace {
AdminKey key_from_row(SQLite::Statement& q) {
  AdminKey k;
  k.name = q.getColumn(0).getString();
  k.scope = scope_from(q.getColumn(1).getString()).value_or(Scope::kRead);
  k.prefix = q.getColumn(2).getString();
  k.created_at = q.getColumn(3).getInt64();
  k.revoked_at = q.getColumn(4).isNull() ? 0 : q.getColumn(4).getInt64();
  return k;
}
constexpr const char* kKeyColumns =
    "SELECT name, scope, prefix, created_at, revoked_at FROM admin_keys";
}  // namespace

std::optional<AdminKey> admin_key_by_hash(SQLite::Database& db, const std::string& sha256_hex) {
  SQLite::Statement q(db, std::string(kKeyColumns) + " WHERE key_sha256 = ?");
  q.bind(1, sha256_hex);
  if (!q.executeStep()) return std::nullopt;
  return key_from_row(q);
}

AuditPage audit_page(SQLite::Database& db, std::int64_t before, int limit) {
  // One more than asked tells whether another page follows.
  SQLite::Statement q(db,
                      "SELECT id, at, key_name, action, target, ip, detail FROM audit_log"
                      " WHERE id < ? ORDER BY id DESC LIMIT ?");
  q.bind(1, static_cast<int64_t>(before > 0 ? before : INT64_MAX));
  q.bind(2, limit + 1);
  AuditPage page;
  while (q.executeStep()) {
    if (static_cast<int>(page.entries.size()) == limit) {
      page.next = page.entries.back().id;
      break;
    }
    AuditEntry e;
    e.id = q.getColumn(0).getInt64();
    e.at = q.getColumn(1).getInt64();
    e.key_name = q.getColumn(2).getString();
    e.action = q.getColumn(3).getString();
    e.target = q.getColumn(4).getString();
    e.ip = q.getColumn(5).getString();
    e.detail = q.getColumn(6).getString();
    page.entries.push_back(std::move(e));
  }
  return page;
}

std::vector<AdminKey> list_keys(SQLite::Database& db) {
  SQLite::Statement q(db, std::string(kKeyColumns) + " ORDER BY id");
  std::vector<AdminKey> out;
  while (q.executeStep()) out.push_back(key_from_row(q));
  return out;
}

}  // namespace detail

namespace {

void append_audit(SQLite::Database& db, const AuditEntry& e) {
  SQLite::Statement q(db, detail::kInsertAudit);
  detail::bind_audit(q, e);
  q.exec();
}

template <class F>
auto guarded(const std::string& path, const char* what, F&& f) {
  try {
    return f();
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception& e) {
    throw StorageError(std::string("cannot ") + what + " in " + path + ": " + e.what());
  }
}

}  // namespace

KeyChange create_admin_key(const std::string& path, const std::string& name, Scope scope,
                           std::string_view key, const std::string& by, std::int64_t now) {
  // The audit log's names for the bootstrap key and the CLI are taken for good.
  if (reserved_key_name(name)) return KeyChange::kNameTaken;
  auto db = detail::open(path, detail::Mode::kWriter);
  return guarded(path, "store the key", [&] {
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement taken(*db, "SELECT 1 FROM admin_keys WHERE name = ?");
    taken.bind(1, name);
    if (taken.executeStep()) return KeyChange::kNameTaken;
    SQLite::Statement q(*db,
                        "INSERT INTO admin_keys (name, scope, key_sha256, prefix, created_at)"
                        " VALUES (?, ?, ?, ?, ?)");
    q.bind(1, name);
    q.bind(2, to_string(scope));
    q.bind(3, admin_key_hash(key));
    q.bind(4, std::string(key.substr(0, kAdminKeyPrefixChars)));
    q.bind(5, static_cast<int64_t>(now));
    q.exec();
    append_audit(*db, AuditEntry{0, now, by, "key.create", name, "",
                                 std::string("scope ") + to_string(scope)});
    tx.commit();
    return KeyChange::kDone;
  });
}

std::vector<AdminKey> list_admin_keys(const std::string& path) {
  auto db = detail::open(path, detail::Mode::kReader);
  return guarded(path, "list the keys", [&] { return detail::list_keys(*db); });
}

KeyChange revoke_admin_key(const std::string& path, const std::string& name, const std::string& by,
                           std::int64_t now) {
  auto db = detail::open(path, detail::Mode::kWriter);
  return guarded(path, "revoke the key", [&] {
    SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement q(*db, "SELECT revoked_at FROM admin_keys WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return KeyChange::kUnknownName;
    if (!q.getColumn(0).isNull()) return KeyChange::kAlreadyRevoked;
    q.reset();
    SQLite::Statement u(*db, "UPDATE admin_keys SET revoked_at = ? WHERE name = ?");
    u.bind(1, static_cast<int64_t>(now));
    u.bind(2, name);
    u.exec();
    append_audit(*db, AuditEntry{0, now, by, "key.revoke", name, "", ""});
    tx.commit();
    return KeyChange::kDone;
  });
}

std::optional<AdminIdentity> SqliteAdminStore::identify(std::string_view key) {
  auto k = reads_.admin_key_by_hash(admin_key_hash(key));
  if (!k || k->revoked_at != 0) return std::nullopt;
  return AdminIdentity{k->name, k->scope};
}

void SqliteAdminStore::append_audit(const AuditEntry& e) {
  writer_.run([&](WriteContext& c) { c.audit_log().append(e); });
}

AuditPage SqliteAdminStore::audit_page(std::int64_t before, int limit) {
  return reads_.audit_page(before, limit);
}

}  // namespace sc::storage
