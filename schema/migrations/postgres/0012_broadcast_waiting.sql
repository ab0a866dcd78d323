-- PostgreSQL dialect of schema/migrations/sqlite/0012_broadcast_waiting.sql.
-- Why a queued message waits past the time it was first due: 'quiet-hours'
-- while a broadcast text is held outside SC_SMS_SEND_WINDOW where its
-- recipient is (next_attempt_at is then when their window opens); NULL
-- otherwise. A claim clears it.
ALTER TABLE outbox ADD COLUMN wait_reason text;
-- Held recipients of a broadcast in id order (pages of ?status=waiting),
-- with their due time.
CREATE INDEX outbox_broadcast_waiting ON outbox (broadcast_id, id, next_attempt_at)
  WHERE state = 'queued' AND wait_reason IS NOT NULL AND broadcast_id <> 0;
