-- The operators' list (sc/core/subscriber_list.h), on the read pool's
-- connections (src/storage/directory.cpp). Every list statement answers
-- subscribers newest first (id, first_name, postal_code, created_at) and
-- takes the filters in the same places:
--   ?1 channel kind ('' any), ?2 channel state ('' any): some channel of the
--      subscriber matches both;
--   ?3 topic ('' any); ?4 created at or after; ?5 created before;
--   ?6 ids below (the next page); ?7 the page size;
-- and is driven by one index (0015_operators_list.sql), the others being
-- checked row by row. created_at is compared with a unary plus so that it
-- never drives (a range over every subscriber, then a sort).

-- No search, topic or state: the primary key, newest first.
-- name: directory.page
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE s.id < ?6 AND +s.created_at >= ?4 AND +s.created_at < ?5
   AND (?1 = '' AND ?2 = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND (?1 = '' OR f.kind = ?1) AND (?2 = '' OR f.state = ?2)))
   AND (?3 = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                              WHERE t.subscriber_id = s.id AND t.topic = ?3))
 ORDER BY s.id DESC LIMIT ?7;

-- A topic: subscriber_topics_topic, newest first.
-- name: directory.by_topic
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM subscriber_topics d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.topic = ?3 AND d.subscriber_id < ?6 AND s.id < ?6 AND +s.created_at >= ?4 AND +s.created_at < ?5
   AND (?1 = '' AND ?2 = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND (?1 = '' OR f.kind = ?1) AND (?2 = '' OR f.state = ?2)))
 ORDER BY d.subscriber_id DESC LIMIT ?7;

-- A state, on channels of kind ?8: channels_state_subscriber, newest first
-- (one channel of a kind per subscriber). A state of any channel is this
-- for each kind, merged by the caller.
-- name: directory.by_state
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = ?8 AND d.state = ?2 AND d.subscriber_id < ?6 AND s.id < ?6
   AND +s.created_at >= ?4 AND +s.created_at < ?5
   AND (?1 = '' OR ?1 = ?8)
   AND (?3 = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                              WHERE t.subscriber_id = s.id AND t.topic = ?3))
 ORDER BY d.subscriber_id DESC LIMIT ?7;

-- Addresses of kind ?8 from ?9 (a lower-case prefix) up to ?10 (the prefix
-- and U+10FFFF): the unique (kind, address) index, NOCASE as the column.
-- name: directory.by_address
SELECT s.id, s.first_name, s.postal_code, s.created_at
  FROM channels d JOIN subscribers s ON s.id = d.subscriber_id
 WHERE d.kind = ?8 AND d.address >= ?9 AND d.address < ?10 AND d.subscriber_id < ?6 AND s.id < ?6
   AND +s.created_at >= ?4 AND +s.created_at < ?5
   AND (?1 = '' AND ?2 = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND (?1 = '' OR f.kind = ?1) AND (?2 = '' OR f.state = ?2)))
   AND (?3 = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                              WHERE t.subscriber_id = s.id AND t.topic = ?3))
 ORDER BY d.subscriber_id DESC LIMIT ?7;

-- First names from ?8 up to ?9, as directory.by_address: subscribers_first_name.
-- name: directory.by_name
SELECT s.id, s.first_name, s.postal_code, s.created_at FROM subscribers s
 WHERE s.first_name COLLATE NOCASE >= ?8 AND s.first_name COLLATE NOCASE < ?9 AND s.id < ?6
   AND +s.created_at >= ?4 AND +s.created_at < ?5
   AND (?1 = '' AND ?2 = ''
        OR EXISTS (SELECT 1 FROM channels f WHERE f.subscriber_id = s.id
                      AND (?1 = '' OR f.kind = ?1) AND (?2 = '' OR f.state = ?2)))
   AND (?3 = '' OR EXISTS (SELECT 1 FROM subscriber_topics t
                              WHERE t.subscriber_id = s.id AND t.topic = ?3))
 ORDER BY s.id DESC LIMIT ?7;

-- What was sent to subscriber ?1, newest first, at most ?2: their own
-- messages (outbox_direct_channel) and their rows in broadcasts' ledgers
-- (outbox_broadcast_recipient, one probe a broadcast).
-- name: directory.messages
SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
       COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
  FROM outbox o
 WHERE o.broadcast_id = 0 AND o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = ?1)
UNION ALL
SELECT o.id, o.kind, o.purpose, o.broadcast_id, o.state, COALESCE(o.delivery_state, ''),
       COALESCE(o.provider, ''), o.created_at, COALESCE(o.finished_at, 0)
  FROM broadcasts b JOIN outbox o ON o.broadcast_id = b.id AND o.broadcast_id <> 0
 WHERE o.channel_id IN (SELECT id FROM channels WHERE subscriber_id = ?1)
 ORDER BY 1 DESC LIMIT ?2;

-- GET /api/v1/admin/stats and /metrics. Channels by kind and state: the
-- channels_state_subscriber index alone (no table read).
-- name: directory.channel_counts
SELECT kind, state, count(*) FROM channels GROUP BY kind, state;

-- name: directory.subscriber_count
SELECT count(*) FROM subscribers;

-- name: directory.topic_counts
SELECT topic, count(*) FROM subscriber_topics GROUP BY topic ORDER BY topic;

-- Per day from ?1 (a UTC midnight): 0 is that day.
-- name: directory.signups_by_day
SELECT (created_at - ?1) / 86400, count(*) FROM subscribers WHERE created_at >= ?1 GROUP BY 1;

-- name: directory.consent_by_day
SELECT action, (at - ?1) / 86400, count(*) FROM consent_log
 WHERE action IN ('confirm', 'withdraw') AND at >= ?1
 GROUP BY action, 2;

-- The export (GET /api/v1/admin/subscribers/export), a page at a time: the
-- subscribers with ids in (?1, …] oldest first, then the channels, topics and
-- consent evidence of the page's id range (?1, ?2].
-- name: directory.export_page
SELECT id, first_name, postal_code, created_at FROM subscribers
 WHERE id > ?1 ORDER BY id LIMIT ?2;

-- name: directory.export_channels
SELECT subscriber_id, kind, address, state, created_at, updated_at, id FROM channels
 WHERE subscriber_id > ?1 AND subscriber_id <= ?2 ORDER BY subscriber_id, kind;

-- name: directory.export_topics
SELECT subscriber_id, topic FROM subscriber_topics
 WHERE subscriber_id > ?1 AND subscriber_id <= ?2 ORDER BY subscriber_id, topic;

-- Oldest first, so that the latest of each action wins (add_evidence). The
-- unary plus keeps SQLite on the page's subscriber range
-- (consent_log_subscriber): by consent_log_action_at it read every grant,
-- confirmation and withdrawal of the whole log for each page (a 1,000,000
-- export had not finished after 25 minutes).
-- name: directory.export_evidence
SELECT channel_id, action, at, source, ip, COALESCE(consent_text_version, '') FROM consent_log
 WHERE subscriber_id > ?1 AND subscriber_id <= ?2
   AND +action IN ('grant', 'confirm', 'withdraw')
 ORDER BY id;

-- An erased person (sc/core/erasure.h): their suppression entry, and the
-- consent-log rows left under their pseudonym (the partial index
-- consent_log_erased, 0016; the LIKE term is its condition).
-- name: directory.suppression
SELECT reason, created_at FROM suppressions WHERE kind = ?1 AND key = ?2;

-- name: directory.erased_consent
SELECT at, channel, address, action, source, detail, ip, user_agent,
       COALESCE(consent_text_version, ''), COALESCE(message_sid, ''),
       COALESCE(text_received, ''), COALESCE(opt_out_type, '')
  FROM consent_log
 WHERE address = ?1 AND address LIKE 'erased:%'
 ORDER BY id;

-- A preferences link names a channel (sc/core/tokens.h).
-- name: directory.subscriber_of_channel
SELECT subscriber_id FROM channels WHERE id = ?1;
