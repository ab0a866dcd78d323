-- PostgreSQL dialect of schema/queries/sqlite/writer.sql: each instance's
-- group commit (src/storage/write_queue.cpp): one transaction per batch, one
-- savepoint per job.
--
-- Differs from SQLite:
-- - writer.begin is BEGIN at READ COMMITTED, named, so a server or role
--   default of another level does not apply (SQLite's BEGIN IMMEDIATE took
--   the one write lock; here rows are locked by the statements that need
--   it: FOR UPDATE, FOR UPDATE SKIP LOCKED);
-- - the settings logged at start: writer.journal_mode -> wal_level,
--   writer.synchronous -> synchronous_commit (text, e.g. 'on', where SQLite
--   gives a number), writer.foreign_keys -> 1 (always enforced).

-- name: writer.begin
BEGIN ISOLATION LEVEL READ COMMITTED;

-- name: writer.savepoint
SAVEPOINT job;

-- name: writer.release
RELEASE job;

-- name: writer.rollback_to
ROLLBACK TO job;

-- name: writer.commit
COMMIT;

-- name: writer.rollback
ROLLBACK;

-- The settings as PostgreSQL reports them (logged at start).
-- name: writer.journal_mode
SELECT current_setting('wal_level');

-- name: writer.synchronous
SELECT current_setting('synchronous_commit');

-- name: writer.foreign_keys
SELECT 1;
