-- Broadcasts. The recipients' ledger is the outbox itself: one row per
-- (broadcast, channel), written set-based in chunks when a broadcast starts
-- (INSERT … SELECT), each holding its own state, attempts and the
-- provider's code and text. The unique index makes "exactly once" a property
-- of the data: a channel cannot enter a broadcast's ledger twice.
CREATE TABLE broadcasts (
  id              INTEGER PRIMARY KEY,
  channel         TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
  subject         TEXT    NOT NULL DEFAULT '',
  text            TEXT    NOT NULL,
  html            TEXT    NOT NULL DEFAULT '',
  topics          TEXT    NOT NULL DEFAULT '[]',  -- JSON array of topic names
  status          TEXT    NOT NULL DEFAULT 'draft'
                  CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'completed',
                                    'cancelled')),
  send_at         INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT    UNIQUE,
  created_by      TEXT    NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  started_at      INTEGER NOT NULL DEFAULT 0,
  finished_at     INTEGER NOT NULL DEFAULT 0,
  pause_reason    TEXT    NOT NULL DEFAULT '',
  snapshot_cursor INTEGER NOT NULL DEFAULT 0,
  snapshot_done   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX broadcasts_active ON broadcasts (status)
  WHERE status IN ('scheduled', 'sending', 'cancelled');
CREATE UNIQUE INDEX outbox_broadcast_recipient ON outbox (broadcast_id, channel_id)
  WHERE broadcast_id <> 0;
CREATE INDEX outbox_broadcast_state ON outbox (broadcast_id, state, id)
  WHERE broadcast_id <> 0;
-- The snapshot walks confirmed channels of one kind in id order.
CREATE INDEX channels_kind_state ON channels (kind, state, id);
CREATE INDEX subscriber_topics_topic ON subscriber_topics (topic, subscriber_id);
