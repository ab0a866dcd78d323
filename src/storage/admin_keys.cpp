#include "sc/storage/admin_keys.h"

#include <openssl/evp.h>

#include <array>

#include "admin_sql.h"
#include "driver.h"

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

void append_audit(Statements& st, const AuditEntry& e) {
  st("admin.append_audit").bind(e.at, e.key_name, e.action, e.target, e.ip, e.detail).exec();
}

namespace {
// The columns of admin.key_by_hash and admin.keys, in their order.
AdminKey key_from_row(const Row& r) {
  AdminKey k;
  k.name = r.get<std::string>(0);
  k.scope = scope_from(r.get<std::string>(1)).value_or(Scope::kRead);
  k.prefix = r.get<std::string>(2);
  k.created_at = r.get<std::int64_t>(3);
  k.revoked_at = r.get<std::int64_t>(4);  // NULL: not revoked (0)
  return k;
}
}  // namespace

std::optional<AdminKey> admin_key_by_hash(Statements& st, const std::string& sha256_hex) {
  return st("admin.key_by_hash").bind(sha256_hex).one(key_from_row);
}

AuditPage audit_page(Statements& st, std::int64_t before, int limit) {
  // One more than asked tells whether another page follows.
  AuditPage page;
  page.entries =
      st("admin.audit_page").bind(before > 0 ? before : INT64_MAX, limit + 1).all([](const Row& r) {
        AuditEntry e;
        e.id = r.get<std::int64_t>(0);
        e.at = r.get<std::int64_t>(1);
        e.key_name = r.get<std::string>(2);
        e.action = r.get<std::string>(3);
        e.target = r.get<std::string>(4);
        e.ip = r.get<std::string>(5);
        e.detail = r.get<std::string>(6);
        return e;
      });
  if (limit >= 0 && static_cast<int>(page.entries.size()) > limit) {
    page.entries.resize(static_cast<std::size_t>(limit));
    page.next = page.entries.back().id;
  }
  return page;
}

std::vector<AdminKey> list_keys(Statements& st) { return st("admin.keys").all(key_from_row); }

}  // namespace detail

namespace {

template <class F>
auto guarded(const std::string& path, const char* what, F&& f) {
  try {
    return f();
  } catch (const StorageError&) {
    throw;
  } catch (const std::exception& e) {
    throw StorageError(std::string("cannot ") + what + " in " + detail::redact(path) + ": " +
                       e.what());
  }
}

}  // namespace

KeyChange create_admin_key(const std::string& path, const std::string& name, Scope scope,
                           std::string_view key, const std::string& by, std::int64_t now) {
  // The audit log's names for the bootstrap key and the CLI are taken for good.
  if (reserved_key_name(name)) return KeyChange::kNameTaken;
  auto db = detail::connect(path, detail::Mode::kWriter);
  return guarded(path, "store the key", [&] {
    detail::Statements st(*db);
    detail::Transaction tx(st);
    if (st("admin.key_name_taken").bind(name).value<int>()) return KeyChange::kNameTaken;
    st("admin.insert_key")
        .bind(name, to_string(scope), admin_key_hash(key), key.substr(0, kAdminKeyPrefixChars), now)
        .exec();
    detail::append_audit(st, AuditEntry{0, now, by, "key.create", name, "",
                                        std::string("scope ") + to_string(scope)});
    tx.commit();
    return KeyChange::kDone;
  });
}

std::vector<AdminKey> list_admin_keys(const std::string& path) {
  auto db = detail::connect(path, detail::Mode::kReader);
  return guarded(path, "list the keys", [&] {
    detail::Statements st(*db);
    return detail::list_keys(st);
  });
}

KeyChange revoke_admin_key(const std::string& path, const std::string& name, const std::string& by,
                           std::int64_t now) {
  auto db = detail::connect(path, detail::Mode::kWriter);
  return guarded(path, "revoke the key", [&] {
    detail::Statements st(*db);
    detail::Transaction tx(st);
    const auto revoked = st("admin.key_revoked_at").bind(name).value<std::optional<std::int64_t>>();
    if (!revoked) return KeyChange::kUnknownName;
    if (*revoked) return KeyChange::kAlreadyRevoked;
    st("admin.revoke_key").bind(now, name).exec();
    detail::append_audit(st, AuditEntry{0, now, by, "key.revoke", name, "", ""});
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
