-- Bookkeeping of schema/migrations/ (src/storage/migrations.cpp).

-- name: migrations.create_table
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);

-- name: migrations.applied
SELECT 1 FROM schema_migrations WHERE version = ?1;

-- name: migrations.record
INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3);

-- name: migrations.schema_version
PRAGMA schema_version;

-- A migration that edits the schema text in place (only ever to widen a
-- CHECK) moves schema_version so other connections reload it. A pragma takes
-- no parameter: {version} is replaced by the number.
-- name: migrations.set_schema_version
PRAGMA schema_version = {version};
