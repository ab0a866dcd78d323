-- Bookkeeping of schema/migrations/postgres/ (the lead's migration runner).
--
-- Dialect-only names (scripts/pg-check-sql.sh reads the two lines below):
-- postgres-only: migrations.lock migrations.unlock
-- sqlite-only: migrations.schema_version migrations.set_schema_version
--
-- Differs from SQLite: two instances may start at once, so the runner holds
-- a session-level advisory lock (migrations.lock, before create_table)
-- while it checks and applies migrations, and gives it back afterwards
-- (migrations.unlock). The key is fixed: 8319381585647332974 is the bytes
-- of "stayconn" as a bigint. A session-level lock outlives the migrations'
-- own transactions and goes with the connection if the process dies.
-- PostgreSQL edits no schema text, so schema_version has no counterpart.

-- Waits until no other instance migrates; 1 once held.
-- name: migrations.lock
SELECT 1 FROM pg_advisory_lock(8319381585647332974);

-- 1 when the lock was held (0, with a warning, when it was not).
-- name: migrations.unlock
SELECT pg_advisory_unlock(8319381585647332974)::int;

-- name: migrations.create_table
CREATE TABLE IF NOT EXISTS schema_migrations (
  version bigint PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL);

-- name: migrations.applied
SELECT 1 FROM schema_migrations WHERE version = $1::bigint;

-- name: migrations.record
INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1::bigint, $2::text, $3::bigint);
