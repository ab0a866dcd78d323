-- PostgreSQL dialect of schema/queries/sqlite/imports.sql.
-- Differs from SQLite: $N parameters with casts; the clock is
-- clock_timestamp(); a claim skips rows another instance is claiming.

-- name: imports.by_id
SELECT id, mode, dry_run, status, key_name, header, created_at, finished_at, parts, next_part,
       rows, added, updated, unchanged, refused, confirms_email, confirms_sms, error
  FROM imports WHERE id = $1::bigint;

-- name: imports.create
INSERT INTO imports (mode, dry_run, status, key_name, header, created_at, lease_owner, lease_until)
VALUES ($1::text, $2::bigint, 'receiving', $3::text, $4::text, $5::bigint, $6::text,
        (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $7::bigint)
RETURNING id;

-- name: imports.add_part
INSERT INTO import_parts (import_id, seq, first_line, data)
VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text);

-- name: imports.renew
UPDATE imports
   SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $3::bigint
 WHERE id = $1::bigint AND lease_owner = $2::text
RETURNING id;

-- name: imports.start
UPDATE imports SET status = 'running', parts = $2::bigint, lease_owner = NULL, lease_until = 0
 WHERE id = $1::bigint AND status = 'receiving'
RETURNING id;

-- name: imports.drop_parts
DELETE FROM import_parts WHERE import_id = $1::bigint;

-- name: imports.drop_rows
DELETE FROM import_rows WHERE import_id = $1::bigint;

-- name: imports.drop
DELETE FROM imports WHERE id = $1::bigint;

-- name: imports.stale_uploads
SELECT id FROM imports
 WHERE status = 'receiving'
   AND lease_until < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
 ORDER BY id LIMIT 100;

-- name: imports.claim
UPDATE imports SET lease_owner = $1::text,
       lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2::bigint
 WHERE id = (SELECT id FROM imports
              WHERE status = 'running'
                AND lease_until < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
              ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
   AND status = 'running'
   AND lease_until < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
RETURNING id, mode, dry_run, status, key_name, header, created_at, finished_at, parts, next_part,
          rows, added, updated, unchanged, refused, confirms_email, confirms_sms, error;

-- name: imports.part
SELECT seq, first_line, data FROM import_parts WHERE import_id = $1::bigint AND seq = $2::bigint;

-- name: imports.progress
UPDATE imports SET next_part = next_part + 1, rows = rows + $4::bigint, added = added + $5::bigint,
       updated = updated + $6::bigint, unchanged = unchanged + $7::bigint,
       refused = refused + $8::bigint, confirms_email = confirms_email + $9::bigint,
       confirms_sms = confirms_sms + $10::bigint,
       lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $11::bigint
 WHERE id = $1::bigint AND lease_owner = $2::text AND next_part = $3::bigint
   AND status = 'running'
RETURNING id;

-- name: imports.add_row
INSERT INTO import_rows (import_id, line, verdict, reason)
VALUES ($1::bigint, $2::bigint, $3::text, $4::text)
ON CONFLICT DO NOTHING;

-- name: imports.finish
UPDATE imports SET status = $2::text, finished_at = $3::bigint, error = $4::text,
       lease_owner = NULL, lease_until = 0
 WHERE id = $1::bigint AND lease_owner = $5::text AND status = 'running'
RETURNING id;

-- name: imports.rows
SELECT line, verdict, reason FROM import_rows
 WHERE import_id = $1::bigint AND line > $2::bigint ORDER BY line LIMIT $3::bigint;

-- At start: what the earlier runs of this instance's name ($1::text) held,
-- and what instances no longer registered held (the dispatcher's start
-- forgets this name's earlier runs: see outbox.forget_instances).
-- name: imports.release_own
UPDATE imports SET lease_until = 0, lease_owner = NULL
 WHERE status IN ('receiving', 'running')
   AND (lease_owner IN (SELECT id FROM instances WHERE name = $1::text)
        OR lease_owner NOT IN (SELECT id FROM instances));
