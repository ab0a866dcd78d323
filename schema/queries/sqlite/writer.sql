-- The single writer's group commit (src/storage/write_queue.cpp): one
-- transaction per batch, one savepoint per job.

-- name: writer.begin
BEGIN IMMEDIATE;

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

-- The settings as SQLite reports them after open (logged at start).
-- name: writer.journal_mode
PRAGMA journal_mode;

-- name: writer.synchronous
SELECT CASE synchronous WHEN 0 THEN 'OFF' WHEN 1 THEN 'NORMAL' WHEN 2 THEN 'FULL'
                        WHEN 3 THEN 'EXTRA' ELSE CAST(synchronous AS TEXT) END
  FROM pragma_synchronous;

-- name: writer.foreign_keys
PRAGMA foreign_keys;
