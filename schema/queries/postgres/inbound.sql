-- PostgreSQL dialect of schema/queries/sqlite/inbound.sql: inbound texts
-- (Twilio webhooks) and their review.
--
-- Differs from SQLite:
-- - $N parameters;
-- - inbound.by_id takes FOR UPDATE: a review reads the text and then marks
--   it (inbound.mark_reviewed); the lock keeps two operators on two
--   instances from both acting on the same unreviewed text.
-- - inbound.seen cannot lock a row that is not there yet: two instances
--   taking the same MessageSid at once both find none, and the second
--   inbound.insert fails on the UNIQUE message_sid (SQLSTATE 23505), which
--   the caller must take as "seen".

-- name: inbound.seen
SELECT 1 FROM inbound_texts WHERE message_sid = $1::text;

-- name: inbound.insert
INSERT INTO inbound_texts (message_sid, from_number, body, keyword, opt_out_type, outcome,
                           received_at)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint) RETURNING id;

-- name: inbound.by_id
SELECT id, message_sid, from_number, body, keyword, opt_out_type, outcome, received_at,
       COALESCE(reviewed_at, 0), COALESCE(reviewed_by, ''), COALESCE(review_action, '')
  FROM inbound_texts WHERE id = $1::bigint
   FOR UPDATE;

-- name: inbound.mark_reviewed
UPDATE inbound_texts SET reviewed_at = $1::bigint, reviewed_by = $2::text, review_action = $3::text
 WHERE id = $4::bigint;
