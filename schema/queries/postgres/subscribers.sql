-- PostgreSQL dialect of schema/queries/sqlite/subscribers.sql: subscribers
-- and their channels, on the writer. A channel row is read by read_channel
-- (src/storage/sqlite_stores.cpp) in this column order.
--
-- Differs from SQLite:
-- - $N parameters;
-- - the address compares case-insensitively for ASCII, as SQLite's
--   COLLATE NOCASE column did: lower(address COLLATE "C") on both sides,
--   the expression of the unique index channels_kind_address (0001);
-- - subscribers.channel_by_address, subscribers.channel_by_id and
--   subscribers.channels_of take
--   FOR UPDATE: a transaction reads a channel and then changes it (state,
--   confirm sent, topics); the lock keeps another instance's change of the
--   same channel from being lost in between (the second waits and then
--   reads the first's result). A lock cannot cover an address not there
--   yet: two instances signing up one new address at once both find none,
--   and the second insert_channel fails on channels_kind_address
--   (SQLSTATE 23505); the caller retries its job, which then finds it.

-- name: subscribers.channel_by_address
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE kind = $1::text AND lower(address COLLATE "C") = lower($2::text COLLATE "C")
   FOR UPDATE;

-- name: subscribers.channel_by_id
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE id = $1::bigint
   FOR UPDATE;

-- name: subscribers.by_id
SELECT id, first_name, postal_code, created_at FROM subscribers WHERE id = $1::bigint;

-- name: subscribers.insert
INSERT INTO subscribers (first_name, postal_code, created_at)
VALUES ($1::text, $2::text, $3::bigint) RETURNING id;

-- name: subscribers.insert_channel
INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at,
                      confirm_sent_at)
VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::bigint) RETURNING id;

-- Every state change counts, also two in the same second (confirm links carry the count).
-- name: subscribers.set_channel_state
UPDATE channels SET state = $1::text, updated_at = $2::bigint, state_version = state_version + 1
 WHERE id = $3::bigint;

-- name: subscribers.mark_confirm_sent
UPDATE channels SET confirm_sent_at = $1::bigint WHERE id = $2::bigint;

-- name: subscribers.channels_of
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE subscriber_id = $1::bigint ORDER BY kind COLLATE "C", id
   FOR UPDATE;

-- name: subscribers.update_profile
UPDATE subscribers SET first_name = $1::text, postal_code = $2::text WHERE id = $3::bigint;
