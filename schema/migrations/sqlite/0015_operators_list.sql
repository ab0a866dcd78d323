-- The operators' list (GET /api/v1/admin/subscribers, /stats): the indexes
-- each search and filter is driven by, so that none scans the list.
-- - the name search: a prefix of first_name, ASCII case-insensitive (as the
--   address's NOCASE); the email and phone searches use channels' unique
--   (kind, address) index;
-- - a channel state (with or without a channel): its subscribers newest
--   first, without a sort (channels_kind_state orders by channel id, for
--   the broadcast snapshot);
-- - created_after / created_before, and the sign-ups of each day;
-- - confirmations and unsubscribes of each day (the consent log);
-- - the messages sent to one person: their own (confirmations: broadcast 0)
--   by channel; a broadcast's are found through outbox_broadcast_recipient.
CREATE INDEX subscribers_first_name ON subscribers (first_name COLLATE NOCASE);
CREATE INDEX subscribers_created ON subscribers (created_at);
CREATE INDEX channels_state_subscriber ON channels (kind, state, subscriber_id);
CREATE INDEX consent_log_action_at ON consent_log (action, at);
CREATE INDEX outbox_direct_channel ON outbox (channel_id) WHERE broadcast_id = 0;
