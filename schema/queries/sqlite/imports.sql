-- Imports (sc/core/import.h; schema/migrations/sqlite/0017_imports.sql).
-- Leases are in milliseconds on the database's clock: each statement reads
-- it itself, so every instance measures them alike.

-- The columns of an ImportJob, in the order storage reads them.
-- name: imports.by_id
SELECT id, mode, dry_run, status, key_name, header, created_at, finished_at, parts, next_part,
       rows, added, updated, unchanged, refused, confirms_email, confirms_sms, error
  FROM imports WHERE id = ?1;

-- An upload begins; ?6: this instance, holding it for ?7 ms.
-- name: imports.create
INSERT INTO imports (mode, dry_run, status, key_name, header, created_at, lease_owner, lease_until)
VALUES (?1, ?2, 'receiving', ?3, ?4, ?5, ?6,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) + ?7)
RETURNING id;

-- name: imports.add_part
INSERT INTO import_parts (import_id, seq, first_line, data) VALUES (?1, ?2, ?3, ?4);

-- Keeps holding an import (?2 the holder) for ?3 ms more; nothing when
-- another has taken it over.
-- name: imports.renew
UPDATE imports SET lease_until = CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) + ?3
 WHERE id = ?1 AND lease_owner = ?2
RETURNING id;

-- The upload is stored whole: it runs, for whichever instance claims it.
-- name: imports.start
UPDATE imports SET status = 'running', parts = ?2, lease_owner = NULL, lease_until = 0
 WHERE id = ?1 AND status = 'receiving'
RETURNING id;

-- name: imports.drop_parts
DELETE FROM import_parts WHERE import_id = ?1;

-- name: imports.drop_rows
DELETE FROM import_rows WHERE import_id = ?1;

-- name: imports.drop
DELETE FROM imports WHERE id = ?1;

-- Uploads whose instance stopped holding them (it died mid-upload).
-- name: imports.stale_uploads
SELECT id FROM imports
 WHERE status = 'receiving'
   AND lease_until < CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
 ORDER BY id LIMIT 100;

-- Takes the oldest running import nobody holds (or whose holder's lease ran
-- out) for ?1, for ?2 ms; returns it as imports.by_id does.
-- name: imports.claim
UPDATE imports SET lease_owner = ?1,
       lease_until = CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) + ?2
 WHERE id = (SELECT id FROM imports
              WHERE status = 'running'
                AND lease_until < CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
              ORDER BY id LIMIT 1)
RETURNING id, mode, dry_run, status, key_name, header, created_at, finished_at, parts, next_part,
          rows, added, updated, unchanged, refused, confirms_email, confirms_sms, error;

-- name: imports.part
SELECT seq, first_line, data FROM import_parts WHERE import_id = ?1 AND seq = ?2;

-- Part ?3 is applied: its counts are added, the lease renewed for ?11 ms;
-- only while ?2 holds the import and the part is the next one (fenced).
-- name: imports.progress
UPDATE imports SET next_part = next_part + 1, rows = rows + ?4, added = added + ?5,
       updated = updated + ?6, unchanged = unchanged + ?7, refused = refused + ?8,
       confirms_email = confirms_email + ?9, confirms_sms = confirms_sms + ?10,
       lease_until = CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) + ?11
 WHERE id = ?1 AND lease_owner = ?2 AND next_part = ?3 AND status = 'running'
RETURNING id;

-- name: imports.add_row
INSERT INTO import_rows (import_id, line, verdict, reason) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT DO NOTHING;

-- name: imports.finish
UPDATE imports SET status = ?2, finished_at = ?3, error = ?4, lease_owner = NULL, lease_until = 0
 WHERE id = ?1 AND lease_owner = ?5 AND status = 'running'
RETURNING id;

-- Verdicts of an import from line ?2 on, in line order.
-- name: imports.rows
SELECT line, verdict, reason FROM import_rows
 WHERE import_id = ?1 AND line > ?2 ORDER BY line LIMIT ?3;

-- At start: what the earlier runs of this instance's name (?1) held,
-- and what instances no longer registered held (the dispatcher's start
-- forgets this name's earlier runs: see outbox.forget_instances).
-- name: imports.release_own
UPDATE imports SET lease_until = 0, lease_owner = NULL
 WHERE status IN ('receiving', 'running')
   AND (lease_owner IN (SELECT id FROM instances WHERE name = ?1)
        OR lease_owner NOT IN (SELECT id FROM instances));
