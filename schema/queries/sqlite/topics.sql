-- A subscriber's topics, and topics asked for until a channel confirms.

-- name: topics.add
INSERT OR IGNORE INTO subscriber_topics (subscriber_id, topic) VALUES (?1, ?2);

-- name: topics.of_subscriber
SELECT topic FROM subscriber_topics WHERE subscriber_id = ?1 ORDER BY topic;

-- name: topics.request
INSERT INTO topic_requests (channel_id, topic, requested_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (channel_id, topic) DO UPDATE SET requested_at = excluded.requested_at;

-- name: topics.take_requests
DELETE FROM topic_requests WHERE channel_id = ?1 AND requested_at <= ?2 RETURNING topic;

-- name: topics.requests_of
SELECT topic FROM topic_requests WHERE channel_id = ?1 ORDER BY topic;

-- name: topics.known
SELECT 1 FROM subscriber_topics WHERE topic = ?1 LIMIT 1;

-- name: topics.clear
DELETE FROM subscriber_topics WHERE subscriber_id = ?1;
