-- Counts each channel's state changes. A confirm link carries the version it
-- was sent at and confirms only while the channel is still at that version,
-- so a link from before an unsubscribe (and a form that set the address back
-- to pending) confirms nothing, even when both happened in the same second.
-- Existing channels start at 0; links sent before this migration carry no
-- version and are judged by their issue time against updated_at (the latest
-- state change). Numbered 0004: 0003 is taken by the outbox lanes.
ALTER TABLE channels ADD COLUMN state_version INTEGER NOT NULL DEFAULT 0;
