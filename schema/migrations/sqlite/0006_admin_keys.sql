-- Admin API keys made with `stayconnected keys create`. Only the SHA-256 of
-- a key is kept (keys are 256 random bits, so a plain hash cannot be
-- guessed back); `prefix` is its first characters, shown in `keys list` so
-- an operator can tell keys apart. A key is revoked, never deleted, so the
-- audit log's key names keep meaning something.
CREATE TABLE admin_keys (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  scope      TEXT    NOT NULL CHECK (scope IN ('read', 'send', 'admin')),
  key_sha256 TEXT    NOT NULL UNIQUE CHECK (length(key_sha256) = 64),
  prefix     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER           -- NULL while the key is valid
);
CREATE TRIGGER admin_keys_no_delete BEFORE DELETE ON admin_keys
BEGIN SELECT RAISE(ABORT, 'admin keys are revoked, never deleted'); END;
-- The one change allowed: revoking a valid key.
CREATE TRIGGER admin_keys_revoke_only BEFORE UPDATE ON admin_keys
WHEN OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL
  OR NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.scope IS NOT OLD.scope
  OR NEW.key_sha256 IS NOT OLD.key_sha256 OR NEW.prefix IS NOT OLD.prefix
  OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'an admin key can only be revoked'); END;

-- Every admin action: who (the key's name), what, on what, when, from where.
-- Append-only: the triggers refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
  id       INTEGER PRIMARY KEY,
  at       INTEGER NOT NULL,
  key_name TEXT    NOT NULL,
  action   TEXT    NOT NULL,
  target   TEXT    NOT NULL DEFAULT '',
  ip       TEXT    NOT NULL DEFAULT '',
  detail   TEXT    NOT NULL DEFAULT ''
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
