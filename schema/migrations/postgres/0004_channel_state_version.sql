-- PostgreSQL dialect of schema/migrations/sqlite/0004_channel_state_version.sql.
-- Counts each channel's state changes. A confirm link carries the version it
-- was sent at and confirms only while the channel is still at that version.
ALTER TABLE channels ADD COLUMN state_version bigint NOT NULL DEFAULT 0;
