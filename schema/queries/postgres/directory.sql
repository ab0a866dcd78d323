-- PostgreSQL dialect of schema/queries/sqlite/directory.sql: the operators'
-- list. The same parameters in the same places.
--
-- Differs from SQLite:
-- - $N parameters, cast where the context alone does not fix the type;
-- - addresses and first names compare as lower(x COLLATE "C") (SQLite's
--   NOCASE: ASCII letters folded, bytes in order), the expressions of
--   channels_kind_address (0001) and subscribers_first_name (0015);
-- - no unary plus: the planner weighs the created_at range with the
--   values of each execution (custom plans), and picks the driving index.

-- name: directory.page
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE s.id < $6::bigint AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND ($1::text = '' OR f.kind = $1::text)
                      AND ($2::text = '' OR f.state = $2::text)))
   AND ($3::text = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                                    WHERE t.subscriber_id = s.id AND t.topic = $3::text))
 ORDER BY s.id DESC LIMIT $7::bigint;

-- name: directory.by_topic
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM subscriber_topics d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.topic = $3::text AND d.subscriber_id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND ($1::text = '' OR f.kind = $1::text)
                      AND ($2::text = '' OR f.state = $2::text)))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_state
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = $8::text AND d.state = $2::text AND d.subscriber_id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' OR $1::text = $8::text)
   AND ($3::text = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                                    WHERE t.subscriber_id = s.id AND t.topic = $3::text))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_address
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = $8::text AND lower(d.address COLLATE "C") >= $9::text
   AND lower(d.address COLLATE "C") < $10::text AND d.subscriber_id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND ($1::text = '' OR f.kind = $1::text)
                      AND ($2::text = '' OR f.state = $2::text)))
   AND ($3::text = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                                    WHERE t.subscriber_id = s.id AND t.topic = $3::text))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_name
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE lower(s.first_name COLLATE "C") >= $8::text AND lower(s.first_name COLLATE "C") < $9::text
   AND s.id < $6::bigint AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND ($1::text = '' OR f.kind = $1::text)
                      AND ($2::text = '' OR f.state = $2::text)))
   AND ($3::text = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                                    WHERE t.subscriber_id = s.id AND t.topic = $3::text))
 ORDER BY s.id DESC LIMIT $7::bigint;

-- name: directory.messages
(SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
        COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
   FROM outbox o
  WHERE o.broadcast_id = 0
    AND o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = $1::bigint))
UNION ALL
(SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
        COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
   FROM broadcasts b JOIN outbox o ON o.broadcast_id = b.id AND o.broadcast_id <> 0
  WHERE o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = $1::bigint))
 ORDER BY 1 DESC LIMIT $2::bigint;
