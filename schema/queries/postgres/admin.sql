-- PostgreSQL dialect of schema/queries/sqlite/admin.sql: admin keys and the
-- audit log (src/storage/admin_keys.cpp), on the writer, the read pool and
-- the key commands' own connection. A key row is read by key_from_row in
-- this column order.
--
-- Differs from SQLite:
-- - parameters are $N (the same order as ?N) with a cast where the context
--   alone does not fix the type;
-- - admin.key_revoked_at takes FOR UPDATE: `keys revoke` reads it and then
--   revokes; the lock holds another instance's revoke off in between (a
--   second revoke would be refused by admin_keys_revoke_only anyway).

-- name: admin.append_audit
INSERT INTO audit_log (at, key_name, action, target, ip, detail)
VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text);

-- name: admin.key_by_hash
SELECT name, scope, prefix, created_at, revoked_at FROM admin_keys WHERE key_sha256 = $1::text;

-- name: admin.keys
SELECT name, scope, prefix, created_at, revoked_at FROM admin_keys ORDER BY id;

-- One more than asked tells whether another page follows.
-- name: admin.audit_page
SELECT id, at, key_name, action, target, ip, detail FROM audit_log
 WHERE id < $1::bigint ORDER BY id DESC LIMIT $2::bigint;

-- name: admin.key_name_taken
SELECT 1 FROM admin_keys WHERE name = $1::text;

-- name: admin.insert_key
INSERT INTO admin_keys (name, scope, key_sha256, prefix, created_at)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint);

-- name: admin.key_revoked_at
SELECT revoked_at FROM admin_keys WHERE name = $1::text FOR UPDATE;

-- name: admin.revoke_key
UPDATE admin_keys SET revoked_at = $1::bigint WHERE name = $2::text;
