-- PostgreSQL dialect of schema/migrations/sqlite/0003_outbox_lanes.sql.
-- Two lanes: transactional messages (confirmations, welcome, test sends) are
-- claimed ahead of bulk ones (anything of a broadcast), so a backlog of a
-- million broadcast messages never holds a confirmation. 0 = transactional,
-- 1 = bulk.
ALTER TABLE outbox ADD COLUMN lane bigint NOT NULL DEFAULT 0
  CONSTRAINT outbox_lane_check CHECK (lane IN (0, 1));
UPDATE outbox SET lane = 1 WHERE broadcast_id <> 0;
-- A claim asks for one lane and one kind at a time: equality on both, then
-- the oldest due first, all from the index.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (lane, kind, next_attempt_at, id) WHERE state = 'queued';
