-- Reads on the read pool's connections (src/storage/read_pool.cpp,
-- src/storage/broadcast_store.cpp); WAL readers never block the writer.

-- name: reads.subscriber_of_channel
SELECT subscriber_id FROM channels WHERE kind = ?1 AND address = ?2;

-- name: reads.channels_of_subscriber
SELECT kind, address, state, created_at, updated_at, id FROM channels
 WHERE subscriber_id = ?1 ORDER BY id;

-- A consent log row is read by read_log_row (src/storage/read_pool.cpp) in
-- this column order.
-- name: reads.consent_log_of_subscriber
SELECT at, channel, address, action, source, detail, ip, user_agent,
       COALESCE(consent_text_version, ''), COALESCE(message_sid, ''),
       COALESCE(text_received, ''), COALESCE(opt_out_type, '')
  FROM consent_log
 WHERE subscriber_id = ?1 ORDER BY id;

-- consent_log_unknown_number (0007): rows of numbers no subscriber holds.
-- name: reads.unknown_number_log
SELECT at, channel, address, action, source, detail, ip, user_agent,
       COALESCE(consent_text_version, ''), COALESCE(message_sid, ''),
       COALESCE(text_received, ''), COALESCE(opt_out_type, '')
  FROM consent_log
 WHERE subscriber_id = 0 AND channel = 'sms' AND address = ?1 ORDER BY id;

-- name: reads.inbound_for_review
SELECT id, message_sid, from_number, body, keyword, opt_out_type, outcome, received_at,
       COALESCE(reviewed_at, 0), COALESCE(reviewed_by, ''), COALESCE(review_action, '')
  FROM inbound_texts WHERE keyword = 'none' AND id < ?1 ORDER BY id DESC LIMIT ?2;

-- Over the partial indexes of unfinished rows only.
-- name: reads.outbox_depth
SELECT lane, 'queued', COUNT(*) FROM outbox WHERE state = 'queued' GROUP BY lane
UNION ALL
SELECT lane, 'sending', COUNT(*) FROM outbox WHERE state = 'sending' GROUP BY lane;

-- The first entry of the due index per lane and kind: one seek each.
-- name: reads.outbox_first_due
SELECT next_attempt_at, created_at FROM outbox WHERE state = 'queued' AND lane = ?1 AND kind = ?2
 ORDER BY next_attempt_at, id LIMIT 1;

-- name: reads.broadcasts_before
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE id < ?1 ORDER BY id DESC LIMIT ?2;

-- name: reads.broadcast_status_counts
SELECT status, COUNT(*) FROM broadcasts GROUP BY status;

-- name: reads.broadcasts_in_progress
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE status IN ('sending', 'paused', 'scheduled')
    OR (status IN ('completed', 'cancelled') AND finished_at >= ?1)
 ORDER BY id DESC LIMIT ?2;

-- One pass over the (broadcast_id, state, id) index.
-- name: reads.broadcast_states
SELECT state, COUNT(*) FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 GROUP BY state;

-- name: reads.broadcast_deliveries
SELECT delivery_state, COUNT(*) FROM outbox
 WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'sent' AND delivery_state IS NOT NULL
 GROUP BY delivery_state;

-- Held recipients not yet due, from the partial index alone
-- (outbox_broadcast_waiting, 0012): only held rows are in it. Named, because
-- the planner would walk every queued row of the broadcast in
-- (broadcast_id, state, id) instead.
-- name: reads.broadcast_waiting
SELECT COUNT(*), COALESCE(MIN(next_attempt_at), 0) FROM outbox INDEXED BY outbox_broadcast_waiting
 WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'queued'
   AND wait_reason IS NOT NULL AND next_attempt_at > ?2;

-- A page of a broadcast's recipients (?1: broadcast, ?2: now, ?3: after
-- this outbox id, ?4: page size) is an index range per state
-- ((broadcast_id, state, id)), merged: never a sort of the whole broadcast,
-- which a CSV export of a million recipients would repeat for every page.
-- A queued row that is held and not yet due reads as waiting. A recipient
-- row is read in this column order.
-- name: reads.recipients
SELECT o.id, o.channel_id, COALESCE(c.address, ''),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN 'waiting' ELSE o.state END,
       o.attempts, COALESCE(o.provider, ''), COALESCE(o.provider_message_id, ''),
       COALESCE(o.last_code, ''), COALESCE(o.last_error, ''), COALESCE(o.delivery_state, ''),
       COALESCE(o.finished_at, 0),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN o.next_attempt_at ELSE 0 END
  FROM (
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'queued' AND id > ?3 ORDER BY id LIMIT ?4)
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'sending' AND id > ?3 ORDER BY id LIMIT ?4)
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'sent' AND id > ?3 ORDER BY id LIMIT ?4)
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'failed' AND id > ?3 ORDER BY id LIMIT ?4)
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'skipped' AND id > ?3 ORDER BY id LIMIT ?4)
  UNION ALL
  SELECT id FROM (SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'unknown' AND id > ?3 ORDER BY id LIMIT ?4)
  ) AS page JOIN outbox o ON o.id = page.id LEFT JOIN channels c ON c.id = o.channel_id
 ORDER BY o.id LIMIT ?4;

-- Recipients in one state ?5 other than queued (sending, sent, failed, skipped, unknown).
-- name: reads.recipients_in_state
SELECT o.id, o.channel_id, COALESCE(c.address, ''),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN 'waiting' ELSE o.state END,
       o.attempts, COALESCE(o.provider, ''), COALESCE(o.provider_message_id, ''),
       COALESCE(o.last_code, ''), COALESCE(o.last_error, ''), COALESCE(o.delivery_state, ''),
       COALESCE(o.finished_at, 0),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN o.next_attempt_at ELSE 0 END
  FROM (
  SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = ?5 AND id > ?3
   ORDER BY id LIMIT ?4
  ) AS page JOIN outbox o ON o.id = page.id LEFT JOIN channels c ON c.id = o.channel_id
 ORDER BY o.id LIMIT ?4;

-- Queued and not held.
-- name: reads.recipients_queued
SELECT o.id, o.channel_id, COALESCE(c.address, ''),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN 'waiting' ELSE o.state END,
       o.attempts, COALESCE(o.provider, ''), COALESCE(o.provider_message_id, ''),
       COALESCE(o.last_code, ''), COALESCE(o.last_error, ''), COALESCE(o.delivery_state, ''),
       COALESCE(o.finished_at, 0),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN o.next_attempt_at ELSE 0 END
  FROM (
  SELECT id FROM outbox WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'queued'
     AND NOT (wait_reason IS NOT NULL AND next_attempt_at > ?2) AND id > ?3
   ORDER BY id LIMIT ?4
  ) AS page JOIN outbox o ON o.id = page.id LEFT JOIN channels c ON c.id = o.channel_id
 ORDER BY o.id LIMIT ?4;

-- Held and not yet due: the partial index of held rows (outbox_broadcast_waiting).
-- name: reads.recipients_waiting
SELECT o.id, o.channel_id, COALESCE(c.address, ''),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN 'waiting' ELSE o.state END,
       o.attempts, COALESCE(o.provider, ''), COALESCE(o.provider_message_id, ''),
       COALESCE(o.last_code, ''), COALESCE(o.last_error, ''), COALESCE(o.delivery_state, ''),
       COALESCE(o.finished_at, 0),
       CASE WHEN o.state = 'queued' AND o.wait_reason IS NOT NULL AND o.next_attempt_at > ?2
            THEN o.next_attempt_at ELSE 0 END
  FROM (
  SELECT id FROM outbox INDEXED BY outbox_broadcast_waiting
   WHERE broadcast_id = ?1 AND broadcast_id <> 0 AND state = 'queued'
     AND wait_reason IS NOT NULL AND next_attempt_at > ?2 AND id > ?3
   ORDER BY id LIMIT ?4
  ) AS page JOIN outbox o ON o.id = page.id LEFT JOIN channels c ON c.id = o.channel_id
 ORDER BY o.id LIMIT ?4;

-- name: reads.healthy
SELECT 1 FROM schema_migrations LIMIT 1;

-- One broadcast as the read side shows it (broadcasts.by_id without the
-- write path's row lock).
-- name: reads.broadcast_by_id
SELECT id, channel, subject, text, html, topics, status, send_at, COALESCE(idem_key, ''),
       created_by, created_at, updated_at, started_at, finished_at, pause_reason, snapshot_cursor,
       snapshot_done, idem_body_digest
  FROM broadcasts
 WHERE id = ?1;

-- The database's clock in Unix milliseconds: the clock leases are kept on
-- (docs/architecture.md). SQLite's is the host's own.
-- name: reads.now_ms
SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER);
