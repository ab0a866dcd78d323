-- PostgreSQL dialect of schema/queries/sqlite/broadcasts.sql: broadcasts and
-- their recipients' ledger (outbox rows with broadcast_id <> 0). A broadcast
-- row is read by read_broadcast (src/storage/broadcast_store.cpp) in this
-- column order. "broadcast_id <> 0" stays in every per-broadcast query: the
-- ledger's indexes are partial, and PostgreSQL too uses a partial index only
-- when the query implies its condition.
--
-- Differs from SQLite:
-- - parameters are $N (the same order as ?N), cast where the context alone
--   does not fix the type;
-- - broadcasts.by_id and broadcasts.by_idempotency_key take FOR UPDATE:
--   the writer reads a broadcast and then changes it (an action's
--   transition, the runner's snapshot chunk, completion); the row lock keeps
--   another instance's change from being lost in between, and runs a
--   broadcast's snapshot chunks and completion one instance at a time (the
--   second waits, then reads the cursor the first moved). NOTE: the read
--   pool also reads broadcasts.by_id (ReadPool::broadcast); it must not lock,
--   so that read needs a statement of its own;
-- - broadcasts.skip_queued picks its rows with FOR UPDATE SKIP LOCKED (rows
--   another instance is claiming are left to the next pass; a cancelled
--   broadcast stays active while it has queued rows), gathered as an array
--   so the UPDATE reaches them by primary key;
-- - json_each(?) -> jsonb_array_elements_text($::jsonb); json_object(...) ->
--   the same compact text SQLite writes ({"to":…,"first_name":…}, values
--   quoted by to_json);
-- - INSERT OR IGNORE -> ON CONFLICT DO NOTHING (unique conflicts only: a
--   NOT NULL or CHECK violation fails here, SQLite's IGNORE skips the row;
--   the snapshot's rows satisfy both);
-- - scalar MAX(a, b) -> GREATEST(a, b); a subquery in FROM has an alias.

-- name: broadcasts.insert
INSERT INTO broadcasts (channel, subject, text, html, topics, status, send_at, idem_key,
                        created_by, created_at, updated_at, idem_body_digest)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, 'draft', $6::bigint,
        NULLIF($7::text, ''), $8::text, $9::bigint, $9::bigint, $10::text)
RETURNING id;

-- Locks the row: the writer reads a broadcast before it changes it.
-- name: broadcasts.by_id
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE id = $1::bigint
   FOR UPDATE;

-- name: broadcasts.by_idempotency_key
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE created_by = $1::text AND idem_key = $2::text
   FOR UPDATE;

-- name: broadcasts.update_content
UPDATE broadcasts SET channel = $1::text, subject = $2::text, text = $3::text, html = $4::text,
                      topics = $5::text, send_at = $6::bigint, updated_at = $7::bigint
 WHERE id = $8::bigint AND status = 'draft';

-- name: broadcasts.set_status
UPDATE broadcasts SET status = $1::text, pause_reason = $2::text, updated_at = $3::bigint,
       started_at = CASE WHEN $1::text = 'sending' AND started_at = 0 THEN $3::bigint
                         ELSE started_at END,
       finished_at = CASE WHEN $1::text IN ('completed', 'cancelled') THEN $3::bigint ELSE 0 END
 WHERE id = $4::bigint;

-- The snapshot's own condition (snapshot_*), from the first channel. $2: the
-- topics as a JSON array.
-- name: broadcasts.has_audience_in_topics
SELECT 1 FROM channels c WHERE c.kind = $1::text AND c.state = 'confirmed'
   AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                  AND t.topic IN (SELECT jsonb_array_elements_text($2::jsonb)))
 LIMIT 1;

-- name: broadcasts.has_audience
SELECT 1 FROM channels c WHERE c.kind = $1::text AND c.state = 'confirmed' LIMIT 1;

-- A cancelled broadcast matters only while it has queued rows left. Not
-- locked: the runner takes only the ids and reads each with by_id.
-- name: broadcasts.active
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE status IN ('scheduled', 'sending')
    OR (status = 'cancelled' AND EXISTS
        (SELECT 1 FROM outbox o WHERE o.broadcast_id = broadcasts.id AND o.broadcast_id <> 0
            AND o.state = 'queued'))
 ORDER BY id;

-- Where a snapshot chunk ends: the $4-th qualifying channel after the cursor
-- $2 ($3: the topics as a JSON array).
-- name: broadcasts.snapshot_end_in_topics
SELECT MAX(id), COUNT(*) FROM (
  SELECT c.id FROM channels c WHERE c.kind = $1::text AND c.state = 'confirmed' AND c.id > $2::bigint
     AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                    AND t.topic IN (SELECT jsonb_array_elements_text($3::jsonb)))
   ORDER BY c.id LIMIT $4::bigint) AS chunk;

-- name: broadcasts.snapshot_end
SELECT MAX(id), COUNT(*) FROM (
  SELECT c.id FROM channels c WHERE c.kind = $1::text AND c.state = 'confirmed' AND c.id > $2::bigint
   ORDER BY c.id LIMIT $3::bigint) AS chunk;

-- Queues the chunk's recipients (channels after $2 up to $4) for broadcast $5 at $6,
-- while it is sending (a chunk written ahead runs without its row lock).
-- The first name is a lookup per channel, not a join: with a join the
-- planner hashed the whole subscribers table for each chunk (a scan of every
-- subscriber, 200 times for 1,000,000 recipients).
-- name: broadcasts.snapshot_in_topics
INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,
                    next_attempt_at, created_at, lane)
SELECT c.kind, c.id, $5::bigint, 'broadcast',
       '{"to":' || to_json(c.address)::text || ',"first_name":' ||
       to_json((SELECT s.first_name FROM subscribers s WHERE s.id = c.subscriber_id))::text || '}',
       'queued', $6::bigint, $6::bigint, 1
  FROM channels c
 WHERE c.kind = $1::text AND c.state = 'confirmed' AND c.id > $2::bigint AND c.id <= $4::bigint
   AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                  AND t.topic IN (SELECT jsonb_array_elements_text($3::jsonb)))
   AND EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = $5::bigint AND b.status = 'sending')
ON CONFLICT DO NOTHING;

-- Queues the chunk's recipients (channels after $2 up to $3) for broadcast $4 at $5,
-- while it is sending.
-- name: broadcasts.snapshot
INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,
                    next_attempt_at, created_at, lane)
SELECT c.kind, c.id, $4::bigint, 'broadcast',
       '{"to":' || to_json(c.address)::text || ',"first_name":' ||
       to_json((SELECT s.first_name FROM subscribers s WHERE s.id = c.subscriber_id))::text || '}',
       'queued', $5::bigint, $5::bigint, 1
  FROM channels c
 WHERE c.kind = $1::text AND c.state = 'confirmed' AND c.id > $2::bigint AND c.id <= $3::bigint
   AND EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = $4::bigint AND b.status = 'sending')
ON CONFLICT DO NOTHING;

-- The planner's statistics of the ledger, after a snapshot's first and
-- last chunk. A snapshot can multiply the outbox in seconds, and autovacuum
-- analyzes a minute or more later: until then PostgreSQL planned the
-- dispatcher's hand-over marks as if the outbox were as small as when it
-- last looked (a bitmap over every leased row: 1 to 2 ms a mark instead of
-- a few index probes) and counted a broadcast with a sort. ANALYZE reads a
-- fixed sample (30,000 rows at the default statistics target) and takes no
-- lock that writes wait for.
-- name: broadcasts.refresh_statistics
ANALYZE outbox;

-- name: broadcasts.advance_snapshot
UPDATE broadcasts SET snapshot_cursor = GREATEST(snapshot_cursor, $1::bigint),
                      snapshot_done = $2::bigint, updated_at = $3::bigint
 WHERE id = $4::bigint;

-- name: broadcasts.skip_queued
UPDATE outbox SET state = 'skipped', finished_at = $1::bigint, last_error = 'broadcast cancelled'
 WHERE id = ANY (ARRAY(SELECT id FROM outbox WHERE broadcast_id = $2::bigint AND broadcast_id <> 0
                          AND state = 'queued' LIMIT $3::bigint FOR UPDATE SKIP LOCKED));

-- name: broadcasts.has_unfinished
SELECT 1 FROM outbox WHERE broadcast_id = $1::bigint AND broadcast_id <> 0
   AND state IN ('queued', 'sending')
 LIMIT 1;

-- name: broadcasts.requeue
UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = $1::bigint, lease_until = 0,
                  finished_at = NULL
 WHERE broadcast_id = $2::bigint AND broadcast_id <> 0 AND state = $3::text;

-- The runner's lease on broadcast $1::bigint (one instance at a time advances a
-- broadcast: its snapshot chunks and its completion), read without a lock:
-- a lease another instance holds is passed by without waiting for that
-- instance's transaction. The holder and until when.
-- name: broadcasts.lease_holder
SELECT owner, lease_until FROM broadcast_leases WHERE broadcast_id = $1::bigint;

-- Takes or renews broadcast $1::bigint's lease for instance $2::text until $4::bigint when it is
-- free, this instance's already, or ran out before $3::bigint; the term grows when
-- the holder changes. No row: another instance holds it. The row stays
-- locked until the transaction ends, so what the same transaction writes
-- next (a snapshot chunk, the completion) is the term holder's alone.
-- name: broadcasts.take_lease
INSERT INTO broadcast_leases (broadcast_id, owner, term, lease_until)
VALUES ($1::bigint, $2::text, 1, $4::bigint)
ON CONFLICT (broadcast_id) DO UPDATE
   SET term = CASE WHEN broadcast_leases.owner = excluded.owner THEN broadcast_leases.term
                   ELSE broadcast_leases.term + 1 END,
       owner = excluded.owner, lease_until = excluded.lease_until
 WHERE broadcast_leases.owner = excluded.owner OR broadcast_leases.lease_until < $3::bigint
RETURNING term;
