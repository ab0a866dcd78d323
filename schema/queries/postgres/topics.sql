-- PostgreSQL dialect of schema/queries/sqlite/topics.sql: a subscriber's
-- topics, and topics asked for until a channel confirms.
--
-- Differs from SQLite: $N parameters; INSERT OR IGNORE -> ON CONFLICT DO
-- NOTHING; topics are ordered COLLATE "C" (byte order, SQLite's BINARY),
-- whatever the database's own collation.

-- name: topics.add
INSERT INTO subscriber_topics (subscriber_id, topic) VALUES ($1::bigint, $2::text)
    ON CONFLICT DO NOTHING;

-- name: topics.of_subscriber
SELECT topic FROM subscriber_topics WHERE subscriber_id = $1::bigint ORDER BY topic COLLATE "C";

-- name: topics.request
INSERT INTO topic_requests (channel_id, topic, requested_at) VALUES ($1::bigint, $2::text, $3::bigint)
    ON CONFLICT (channel_id, topic) DO UPDATE SET requested_at = excluded.requested_at;

-- name: topics.take_requests
DELETE FROM topic_requests WHERE channel_id = $1::bigint AND requested_at <= $2::bigint
RETURNING topic;

-- name: topics.requests_of
SELECT topic FROM topic_requests WHERE channel_id = $1::bigint ORDER BY topic COLLATE "C";

-- name: topics.known
SELECT 1 FROM subscriber_topics WHERE topic = $1::text LIMIT 1;

-- name: topics.clear
DELETE FROM subscriber_topics WHERE subscriber_id = $1::bigint;
