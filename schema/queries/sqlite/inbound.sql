-- Inbound texts (Twilio webhooks) and their review.

-- name: inbound.seen
SELECT 1 FROM inbound_texts WHERE message_sid = ?1;

-- name: inbound.insert
INSERT INTO inbound_texts (message_sid, from_number, body, keyword, opt_out_type, outcome,
                           received_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id;

-- name: inbound.by_id
SELECT id, message_sid, from_number, body, keyword, opt_out_type, outcome, received_at,
       COALESCE(reviewed_at, 0), COALESCE(reviewed_by, ''), COALESCE(review_action, '')
  FROM inbound_texts WHERE id = ?1;

-- name: inbound.mark_reviewed
UPDATE inbound_texts SET reviewed_at = ?1, reviewed_by = ?2, review_action = ?3 WHERE id = ?4;
