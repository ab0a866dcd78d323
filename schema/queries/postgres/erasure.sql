-- PostgreSQL dialect of schema/queries/sqlite/erasure.sql: erasure, the same
-- parameters in the same places.
--
-- Differs from SQLite: $N parameters; instr -> strpos;
-- no WAL checkpoint (dead row versions go when
-- VACUUM or autovacuum reclaims them: docs/deployment.md).
-- sqlite-only: erasure.checkpoint

-- name: erasure.outbox_ids
SELECT id FROM outbox WHERE channel_id = $1::bigint ORDER BY id;

-- name: erasure.outbox
UPDATE outbox
   SET payload = '', last_error = NULL,
       last_code = CASE WHEN state = 'queued' THEN 'erased' ELSE last_code END,
       finished_at = CASE WHEN state = 'queued' THEN $2::bigint ELSE finished_at END,
       wait_reason = CASE WHEN state = 'queued' THEN NULL ELSE wait_reason END,
       state = CASE WHEN state = 'queued' THEN 'skipped' ELSE state END
 WHERE channel_id = $1::bigint;

-- name: erasure.consent_log
UPDATE consent_log
   SET address = $4::text, ip = '', user_agent = '', text_received = NULL,
       detail = CASE WHEN strpos(lower(detail), lower($3::text)) > 0 THEN '' ELSE detail END
 WHERE subscriber_id = $1::bigint AND channel_id = $2::bigint;

-- name: erasure.consent_log_unknown
UPDATE consent_log
   SET address = $3::text, ip = '', user_agent = '', text_received = NULL,
       detail = CASE WHEN strpos(lower(detail), lower($2::text)) > 0 THEN '' ELSE detail END
 WHERE subscriber_id = 0 AND channel = $1::text AND address = $2::text;

-- name: erasure.audit_log
UPDATE audit_log
   SET target = CASE WHEN lower(target) = lower($1::text) THEN $2::text ELSE target END,
       detail = CASE WHEN strpos(lower(detail), lower($1::text)) > 0 THEN '' ELSE detail END
 WHERE lower(target) = lower($1::text) OR strpos(lower(detail), lower($1::text)) > 0;

-- name: erasure.inbound_texts
UPDATE inbound_texts SET from_number = $2::text, body = '' WHERE from_number = $1::text;

-- name: erasure.sms_confirm_sends
DELETE FROM sms_confirm_sends WHERE number = $1::text;

-- name: erasure.topic_requests
DELETE FROM topic_requests WHERE channel_id = $1::bigint;

-- name: erasure.channel
DELETE FROM channels WHERE id = $1::bigint;

-- name: erasure.subscriber_topics
DELETE FROM subscriber_topics WHERE subscriber_id = $1::bigint;

-- name: erasure.subscriber
DELETE FROM subscribers WHERE id = $1::bigint;
