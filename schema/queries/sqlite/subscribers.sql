-- Subscribers and their channels, on the writer.
-- A channel row is read by read_channel (src/storage/sqlite_stores.cpp) in
-- this column order.

-- name: subscribers.channel_by_address
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE kind = ?1 AND address = ?2;

-- name: subscribers.channel_by_id
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE id = ?1;

-- name: subscribers.by_id
SELECT id, first_name, postal_code, created_at FROM subscribers WHERE id = ?1;

-- name: subscribers.insert
INSERT INTO subscribers (first_name, postal_code, created_at) VALUES (?1, ?2, ?3) RETURNING id;

-- name: subscribers.insert_channel
INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at,
                      confirm_sent_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id;

-- Every state change counts, also two in the same second (confirm links carry the count).
-- name: subscribers.set_channel_state
UPDATE channels SET state = ?1, updated_at = ?2, state_version = state_version + 1
 WHERE id = ?3;

-- name: subscribers.mark_confirm_sent
UPDATE channels SET confirm_sent_at = ?1 WHERE id = ?2;

-- name: subscribers.channels_of
SELECT id, subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at,
       state_version
  FROM channels WHERE subscriber_id = ?1 ORDER BY kind, id;

-- name: subscribers.update_profile
UPDATE subscribers SET first_name = ?1, postal_code = ?2 WHERE id = ?3;
