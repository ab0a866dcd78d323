-- PostgreSQL dialect of schema/queries/sqlite/deliveries.sql: delivery
-- reports of sent messages, and provider events seen (webhook idempotency).
--
-- Differs from SQLite:
-- - $N parameters;
-- - the lookups a webhook reads before deliveries.set (sent_message,
--   email_by_id, email_by_provider_id) take FOR UPDATE: a delivery state only
--   moves forward, and two instances taking two reports of one message at
--   once must not both judge against the old state;
-- - deliveries.first_event is unchanged (ON CONFLICT DO NOTHING; 1 row
--   changed = first seen, on every instance: the second insert of a
--   concurrent pair waits for the first and then does nothing).

-- outbox_provider_message (0005) finds the row.
-- name: deliveries.sent_message
SELECT id, channel_id, broadcast_id, COALESCE(delivery_state, '') FROM outbox
 WHERE provider_message_id = $1::text AND provider = $2::text ORDER BY id LIMIT 1
   FOR UPDATE;

-- name: deliveries.set
UPDATE outbox SET delivery_state = $1::text, delivery_code = $2::text, delivery_at = $3::bigint
 WHERE id = $4::bigint;

-- name: deliveries.email_by_id
SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox
 WHERE id = $1::bigint AND kind = 'email'
   FOR UPDATE;

-- outbox_provider_message (0005) serves this.
-- name: deliveries.email_by_provider_id
SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox
 WHERE provider_message_id = $1::text AND kind = 'email' ORDER BY id DESC LIMIT 1
   FOR UPDATE;

-- name: deliveries.forget_events
DELETE FROM provider_events WHERE received_at < $1::bigint;

-- name: deliveries.first_event
INSERT INTO provider_events (provider, event_id, received_at) VALUES ($1::text, $2::text, $3::bigint)
    ON CONFLICT DO NOTHING;
