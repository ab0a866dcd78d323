-- PostgreSQL dialect of schema/migrations/sqlite/0015_operators_list.sql:
-- the indexes the operators' list searches and filters are driven by.
-- The name search compares lower(first_name COLLATE "C") (ASCII
-- case-insensitive, as SQLite's NOCASE), like the address's unique index.
CREATE INDEX subscribers_first_name ON subscribers (lower(first_name COLLATE "C"));
CREATE INDEX subscribers_created ON subscribers (created_at);
CREATE INDEX channels_state_subscriber ON channels (kind, state, subscriber_id);
CREATE INDEX consent_log_action_at ON consent_log (action, at);
CREATE INDEX outbox_direct_channel ON outbox (channel_id) WHERE broadcast_id = 0;
