-- Admin keys and the audit log (src/storage/admin_keys.cpp), on the writer,
-- the read pool and the key commands' own connection. A key row is read by
-- key_from_row in this column order.

-- name: admin.append_audit
INSERT INTO audit_log (at, key_name, action, target, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: admin.key_by_hash
SELECT name, scope, prefix, created_at, revoked_at FROM admin_keys WHERE key_sha256 = ?1;

-- name: admin.keys
SELECT name, scope, prefix, created_at, revoked_at FROM admin_keys ORDER BY id;

-- One more than asked tells whether another page follows.
-- name: admin.audit_page
SELECT id, at, key_name, action, target, ip, detail FROM audit_log
 WHERE id < ?1 ORDER BY id DESC LIMIT ?2;

-- name: admin.key_name_taken
SELECT 1 FROM admin_keys WHERE name = ?1;

-- name: admin.insert_key
INSERT INTO admin_keys (name, scope, key_sha256, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5);

-- name: admin.key_revoked_at
SELECT revoked_at FROM admin_keys WHERE name = ?1;

-- name: admin.revoke_key
UPDATE admin_keys SET revoked_at = ?1 WHERE name = ?2;
