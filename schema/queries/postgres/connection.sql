-- Session settings every PostgreSQL connection is opened with (the lead's
-- libpq connection code), the counterpart of SQLite's pragmas.
--
-- Dialect-only names (scripts/pg-check-sql.sh reads the two lines below):
-- postgres-only: connection.synchronous_on connection.utc
-- sqlite-only: connection.journal_wal connection.synchronous_full connection.synchronous_normal connection.foreign_keys_on connection.temp_store_memory
--
-- SQLite's pragmas have no PostgreSQL meaning: WAL is always on, foreign
-- keys are always enforced, temporary storage is the server's. What a
-- session needs instead:

-- An acknowledged sign-up survives a crash of the server (the WAL is flushed
-- at commit): the counterpart of synchronous=FULL, whatever the server's or
-- the role's default says.
-- name: connection.synchronous_on
SET synchronous_commit = on;

-- Times are Unix seconds from parameters; the session time zone is fixed
-- anyway, so nothing the server prints or computes depends on its default.
-- name: connection.utc
SET TIME ZONE 'UTC';
