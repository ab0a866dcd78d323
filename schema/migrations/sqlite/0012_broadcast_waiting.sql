-- Why a queued message waits past the time it was first due, so that reads
-- can tell "waiting" from "queued": 'quiet-hours' while a broadcast text is
-- held outside SC_SMS_SEND_WINDOW where its recipient is (next_attempt_at is
-- then when their window opens); NULL otherwise. A claim clears it.
ALTER TABLE outbox ADD COLUMN wait_reason TEXT;
-- Held recipients of a broadcast in id order (pages of ?status=waiting),
-- with their due time (the count and the earliest time, from the index alone).
CREATE INDEX outbox_broadcast_waiting ON outbox (broadcast_id, id, next_attempt_at)
  WHERE state = 'queued' AND wait_reason IS NOT NULL AND broadcast_id <> 0;
