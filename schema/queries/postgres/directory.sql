-- PostgreSQL dialect of schema/queries/sqlite/directory.sql: the operators'
-- list. The same parameters in the same places.
--
-- Differs from SQLite:
-- - $N parameters, cast where the context alone does not fix the type;
-- - addresses and first names compare as lower(x COLLATE "C") (SQLite's
--   NOCASE: ASCII letters folded, bytes in order), the expressions of
--   channels_kind_address (0001) and subscribers_first_name (0015);
-- - no unary plus: the planner weighs the created_at range with the
--   values of each execution (custom plans), and picks the driving index;
-- - the channel and topic conditions are a subquery with LIMIT 1, not
--   EXISTS: under the OR, PostgreSQL may run an EXISTS as one hashed
--   subplan over every row of the topic (200,000 for one of 1,000,000,
--   125 ms) where a probe of the row's own entries takes microseconds;
-- - the page's bound is on both sides of a join (d.subscriber_id and s.id):
--   with it on one side only, a merge join read the subscribers' primary
--   key from the newest down to the page (500,000 rows for a page deep in
--   a topic of 1,000,000).

-- name: directory.page
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE s.id < $6::bigint AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR COALESCE((SELECT true FROM channels f WHERE f.subscriber_id = s.id
                               AND ($1::text = '' OR f.kind = $1::text)
                               AND ($2::text = '' OR f.state = $2::text) LIMIT 1), false))
   AND ($3::text = '' OR COALESCE((SELECT true FROM subscriber_topics t
                                         WHERE t.subscriber_id = s.id AND t.topic = $3::text
                                         LIMIT 1), false))
 ORDER BY s.id DESC LIMIT $7::bigint;

-- name: directory.by_topic
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM subscriber_topics d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.topic = $3::text AND d.subscriber_id < $6::bigint AND s.id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR COALESCE((SELECT true FROM channels f WHERE f.subscriber_id = s.id
                               AND ($1::text = '' OR f.kind = $1::text)
                               AND ($2::text = '' OR f.state = $2::text) LIMIT 1), false))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_state
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = $8::text AND d.state = $2::text AND d.subscriber_id < $6::bigint AND s.id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' OR $1::text = $8::text)
   AND ($3::text = '' OR COALESCE((SELECT true FROM subscriber_topics t
                                         WHERE t.subscriber_id = s.id AND t.topic = $3::text
                                         LIMIT 1), false))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_address
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = $8::text AND lower(d.address COLLATE "C") >= $9::text
   AND lower(d.address COLLATE "C") < $10::text AND d.subscriber_id < $6::bigint AND s.id < $6::bigint
   AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR COALESCE((SELECT true FROM channels f WHERE f.subscriber_id = s.id
                               AND ($1::text = '' OR f.kind = $1::text)
                               AND ($2::text = '' OR f.state = $2::text) LIMIT 1), false))
   AND ($3::text = '' OR COALESCE((SELECT true FROM subscriber_topics t
                                         WHERE t.subscriber_id = s.id AND t.topic = $3::text
                                         LIMIT 1), false))
 ORDER BY d.subscriber_id DESC LIMIT $7::bigint;

-- name: directory.by_name
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE lower(s.first_name COLLATE "C") >= $8::text AND lower(s.first_name COLLATE "C") < $9::text
   AND s.id < $6::bigint AND s.created_at >= $4::bigint AND s.created_at < $5::bigint
   AND ($1::text = '' AND $2::text = ''
        OR COALESCE((SELECT true FROM channels f WHERE f.subscriber_id = s.id
                               AND ($1::text = '' OR f.kind = $1::text)
                               AND ($2::text = '' OR f.state = $2::text) LIMIT 1), false))
   AND ($3::text = '' OR COALESCE((SELECT true FROM subscriber_topics t
                                         WHERE t.subscriber_id = s.id AND t.topic = $3::text
                                         LIMIT 1), false))
 ORDER BY s.id DESC LIMIT $7::bigint;

-- name: directory.messages
SELECT * FROM (
  SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
         COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
    FROM outbox o
   WHERE o.broadcast_id = 0
     AND o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = $1::bigint)
  UNION ALL
  SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
         COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
    FROM broadcasts b JOIN outbox o ON o.broadcast_id = b.id AND o.broadcast_id <> 0
   WHERE o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = $1::bigint)) AS m
 ORDER BY 1 DESC LIMIT $2::bigint;

-- name: directory.channel_counts
SELECT kind, state, count(*) FROM channels GROUP BY kind, state;

-- name: directory.subscriber_count
SELECT count(*) FROM subscribers;

-- name: directory.topic_counts
SELECT topic, count(*) FROM subscriber_topics GROUP BY topic ORDER BY topic;

-- name: directory.signups_by_day
SELECT (created_at - $1::bigint) / 86400, count(*) FROM subscribers
 WHERE created_at >= $1::bigint GROUP BY 1;

-- name: directory.consent_by_day
SELECT action, (at - $1::bigint) / 86400, count(*) FROM consent_log
 WHERE action IN ('confirm', 'withdraw') AND at >= $1::bigint
 GROUP BY action, 2;

-- The export, a page at a time (see the SQLite file). Kinds and topics are
-- ordered COLLATE "C" (byte order, SQLite's BINARY).
-- name: directory.export_page
SELECT id, first_name, postal_code, created_at FROM subscribers
 WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint;

-- name: directory.export_channels
SELECT subscriber_id, kind, address, state, created_at, updated_at, id FROM channels
 WHERE subscriber_id > $1::bigint AND subscriber_id <= $2::bigint
 ORDER BY subscriber_id, kind COLLATE "C";

-- name: directory.export_topics
SELECT subscriber_id, topic FROM subscriber_topics
 WHERE subscriber_id > $1::bigint AND subscriber_id <= $2::bigint
 ORDER BY subscriber_id, topic COLLATE "C";

-- name: directory.export_evidence
SELECT channel_id, action, at, source, ip, COALESCE(consent_text_version, '') FROM consent_log
 WHERE subscriber_id > $1::bigint AND subscriber_id <= $2::bigint
   AND action IN ('grant', 'confirm', 'withdraw')
 ORDER BY id;

-- An erased person (sc/core/erasure.h): their suppression entry, and the
-- consent-log rows left under their pseudonym (the partial index
-- consent_log_erased, 0016; the LIKE term is its condition).
-- name: directory.suppression
SELECT reason, created_at FROM suppressions WHERE kind = $1::text AND key = $2::text;

-- name: directory.erased_consent
SELECT at, channel, address, action, source, detail, ip, user_agent,
       COALESCE(consent_text_version, ''), COALESCE(message_sid, ''),
       COALESCE(text_received, ''), COALESCE(opt_out_type, '')
  FROM consent_log
 WHERE address = $1::text AND address LIKE 'erased:%'
 ORDER BY id;

-- A preferences link names a channel (sc/core/tokens.h).
-- name: directory.subscriber_of_channel
SELECT subscriber_id FROM channels WHERE id = $1::bigint;
