-- Broadcasts and their recipients' ledger (outbox rows with broadcast_id <> 0).
-- A broadcast row is read by read_broadcast (src/storage/broadcast_store.cpp)
-- in this column order.
--
-- "broadcast_id <> 0" in every per-broadcast query: the ledger's indexes are
-- partial (WHERE broadcast_id <> 0) and SQLite uses one only when the query
-- implies that condition, which "broadcast_id = ?" alone does not; without it
-- each of these scanned the whole outbox (288 ms at 1,000,000 rows, on every
-- runner poll for has_unfinished, holding the writer).

-- name: broadcasts.insert
INSERT INTO broadcasts (channel, subject, text, html, topics, status, send_at, idem_key,
                        created_by, created_at, updated_at, idem_body_digest)
VALUES (?1, ?2, ?3, ?4, ?5, 'draft', ?6, NULLIF(?7, ''), ?8, ?9, ?9, ?10) RETURNING id;

-- name: broadcasts.by_id
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE id = ?1;

-- name: broadcasts.by_idempotency_key
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE created_by = ?1 AND idem_key = ?2;

-- name: broadcasts.update_content
UPDATE broadcasts SET channel = ?1, subject = ?2, text = ?3, html = ?4, topics = ?5,
                      send_at = ?6, updated_at = ?7
 WHERE id = ?8 AND status = 'draft';

-- name: broadcasts.set_status
UPDATE broadcasts SET status = ?1, pause_reason = ?2, updated_at = ?3,
       started_at = CASE WHEN ?1 = 'sending' AND started_at = 0 THEN ?3 ELSE started_at END,
       finished_at = CASE WHEN ?1 IN ('completed', 'cancelled') THEN ?3 ELSE 0 END
 WHERE id = ?4;

-- The snapshot's own condition (snapshot_*), from the first channel. ?2: the
-- topics as a JSON array.
-- name: broadcasts.has_audience_in_topics
SELECT 1 FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed'
   AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                  AND t.topic IN (SELECT value FROM json_each(?2)))
 LIMIT 1;

-- name: broadcasts.has_audience
SELECT 1 FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed' LIMIT 1;

-- A cancelled broadcast matters only while it has queued rows left.
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

-- Where a snapshot chunk ends: the ?4-th qualifying channel after the cursor
-- ?2 (?3: the topics as a JSON array).
-- name: broadcasts.snapshot_end_in_topics
SELECT MAX(id), COUNT(*) FROM (
  SELECT c.id FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2
     AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                    AND t.topic IN (SELECT value FROM json_each(?3)))
   ORDER BY c.id LIMIT ?4);

-- name: broadcasts.snapshot_end
SELECT MAX(id), COUNT(*) FROM (
  SELECT c.id FROM channels c WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2
   ORDER BY c.id LIMIT ?3);

-- Queues the chunk's recipients (channels after ?2 up to ?4) for broadcast ?5 at ?6,
-- while it is sending (a chunk written ahead runs without its row lock).
-- name: broadcasts.snapshot_in_topics
INSERT OR IGNORE INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,
                              next_attempt_at, created_at, lane)
SELECT c.kind, c.id, ?5, 'broadcast', json_object('to', c.address, 'first_name', s.first_name),
       'queued', ?6, ?6, 1
  FROM channels c JOIN subscribers s ON s.id = c.subscriber_id
 WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2 AND c.id <= ?4
   AND EXISTS (SELECT 1 FROM subscriber_topics t WHERE t.subscriber_id = c.subscriber_id
                  AND t.topic IN (SELECT value FROM json_each(?3)))
   AND EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = ?5 AND b.status = 'sending');

-- Queues the chunk's recipients (channels after ?2 up to ?3) for broadcast ?4 at ?5,
-- while it is sending.
-- name: broadcasts.snapshot
INSERT OR IGNORE INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,
                              next_attempt_at, created_at, lane)
SELECT c.kind, c.id, ?4, 'broadcast', json_object('to', c.address, 'first_name', s.first_name),
       'queued', ?5, ?5, 1
  FROM channels c JOIN subscribers s ON s.id = c.subscriber_id
 WHERE c.kind = ?1 AND c.state = 'confirmed' AND c.id > ?2 AND c.id <= ?3
   AND EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = ?4 AND b.status = 'sending');

-- The planner's statistics of the ledger, after a snapshot's first and
-- last chunk: nothing to do here, SQLite plans without them (no ANALYZE,
-- no sqlite_stat1; the PostgreSQL dialect refreshes them).
-- name: broadcasts.refresh_statistics
UPDATE broadcasts SET id = id WHERE 0;

-- name: broadcasts.advance_snapshot
UPDATE broadcasts SET snapshot_cursor = MAX(snapshot_cursor, ?1), snapshot_done = ?2,
                      updated_at = ?3
 WHERE id = ?4;

-- name: broadcasts.skip_queued
UPDATE outbox SET state = 'skipped', finished_at = ?1, last_error = 'broadcast cancelled'
 WHERE id IN (SELECT id FROM outbox WHERE broadcast_id = ?2 AND broadcast_id <> 0
                 AND state = 'queued' LIMIT ?3);

-- name: broadcasts.has_unfinished
SELECT 1 FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0
   AND state IN ('queued', 'sending')
 LIMIT 1;

-- name: broadcasts.requeue
UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?1, lease_until = 0,
                  finished_at = NULL
 WHERE broadcast_id = ?2 AND broadcast_id <> 0 AND state = ?3;

-- The runner's lease on broadcast ?1 (one instance at a time advances a
-- broadcast: its snapshot chunks and its completion), read without a lock:
-- a lease another instance holds is passed by without waiting for that
-- instance's transaction. The holder and until when.
-- name: broadcasts.lease_holder
SELECT owner, lease_until FROM broadcast_leases WHERE broadcast_id = ?1;

-- Takes or renews broadcast ?1's lease for instance ?2 until ?4 when it is
-- free, this instance's already, or ran out before ?3; the term grows when
-- the holder changes. No row: another instance holds it. The row stays
-- locked until the transaction ends, so what the same transaction writes
-- next (a snapshot chunk, the completion) is the term holder's alone.
-- name: broadcasts.take_lease
INSERT INTO broadcast_leases (broadcast_id, owner, term, lease_until)
VALUES (?1, ?2, 1, ?4)
ON CONFLICT (broadcast_id) DO UPDATE
   SET term = CASE WHEN broadcast_leases.owner = excluded.owner THEN broadcast_leases.term
                   ELSE broadcast_leases.term + 1 END,
       owner = excluded.owner, lease_until = excluded.lease_until
 WHERE broadcast_leases.owner = excluded.owner OR broadcast_leases.lease_until < ?3
RETURNING term;
