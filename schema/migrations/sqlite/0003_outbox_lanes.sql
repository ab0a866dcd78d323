-- Two lanes: transactional messages (confirmations, welcome, test sends) are
-- claimed ahead of bulk ones (anything of a broadcast), so a backlog of a
-- million broadcast messages never holds a confirmation. 0 = transactional,
-- 1 = bulk (an integer keeps the index small at millions of rows).
ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0 CHECK (lane IN (0, 1));
UPDATE outbox SET lane = 1 WHERE broadcast_id <> 0;
-- A claim asks for one lane and one kind (a paused or rate-limited provider
-- gets none) at a time: equality on both, then the oldest due first, all
-- from the index.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (lane, kind, next_attempt_at, id) WHERE state = 'queued';
