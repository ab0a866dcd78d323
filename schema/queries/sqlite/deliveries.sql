-- Delivery reports of sent messages, and provider events seen (webhook
-- idempotency).

-- outbox_provider_message (0005) finds the row.
-- name: deliveries.sent_message
SELECT id, channel_id, broadcast_id, COALESCE(delivery_state, '') FROM outbox
 WHERE provider_message_id = ?1 AND provider = ?2 ORDER BY id LIMIT 1;

-- name: deliveries.set
UPDATE outbox SET delivery_state = ?1, delivery_code = ?2, delivery_at = ?3 WHERE id = ?4;

-- name: deliveries.email_by_id
SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox
 WHERE id = ?1 AND kind = 'email';

-- outbox_provider_message (0005) serves this.
-- name: deliveries.email_by_provider_id
SELECT id, channel_id, broadcast_id, delivery_state, delivery_at FROM outbox
 WHERE provider_message_id = ?1 AND kind = 'email' ORDER BY id DESC LIMIT 1;

-- name: deliveries.forget_events
DELETE FROM provider_events WHERE received_at < ?1;

-- name: deliveries.first_event
INSERT INTO provider_events (provider, event_id, received_at) VALUES (?1, ?2, ?3)
    ON CONFLICT DO NOTHING;
