-- Session settings every PostgreSQL connection is opened with (the lead's
-- libpq connection code), the counterpart of SQLite's pragmas.
--
-- Dialect-only names (scripts/pg-check-sql.sh reads the two lines below):
-- postgres-only: connection.synchronous_on connection.utc connection.custom_plans
-- sqlite-only: connection.journal_wal connection.synchronous_full connection.synchronous_normal connection.foreign_keys_on connection.temp_store_memory connection.secure_delete_on
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

-- Every statement is prepared once per connection under its name, and is
-- planned for the table sizes of each execution. By default PostgreSQL
-- settles on one generic plan after five executions and keeps it until the
-- next ANALYZE: a dispatcher that polled an empty outbox kept scanning the
-- whole table for every claim after a broadcast's snapshot queued 100,000
-- rows (28 ms a claim at 30,000 rows, growing with the table; autovacuum
-- analyzes a minute or more later). Planning each time costs tens of
-- microseconds.
-- name: connection.custom_plans
SET plan_cache_mode = force_custom_plan;
