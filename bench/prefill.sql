-- Fills a migrated stayconnected database with :n confirmed subscribers, as
-- an import would leave them: identity, a confirmed email channel, the grant
-- and confirm rows of the consent log, and a sent confirmation in the outbox.
-- Addresses are random (hex), so the unique index grows the way real
-- addresses make it grow. Usage (see run_signup_bench.sh):
--   sqlite3 DB "PRAGMA synchronous=OFF" ".param set :n 1000000" ".read bench/prefill.sql"
BEGIN;
CREATE TEMP TABLE seq AS
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) SELECT i FROM s;
INSERT INTO subscribers (id, first_name, postal_code, created_at)
  SELECT (SELECT COALESCE(MAX(id), 0) FROM subscribers) + i, 'Pre', '', strftime('%s','now') FROM seq;
CREATE TEMP TABLE fresh AS
  SELECT id FROM subscribers WHERE id > (SELECT COALESCE(MAX(subscriber_id), 0) FROM channels);
INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at)
  SELECT id, 'email', lower(hex(randomblob(8))) || '@prefill.example.org', 'confirmed',
         strftime('%s','now'), strftime('%s','now'), strftime('%s','now') FROM fresh;
INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, ip, user_agent)
  SELECT c.created_at, c.subscriber_id, c.id, 'email', c.address, a.action, a.source, '192.0.2.1', 'prefill'
  FROM channels c JOIN fresh f ON f.id = c.subscriber_id
  CROSS JOIN (SELECT 'grant' AS action, 'form' AS source UNION ALL SELECT 'confirm', 'link') a;
INSERT INTO outbox (kind, channel_id, purpose, payload, state, attempts, next_attempt_at, created_at, finished_at, provider)
  SELECT 'email', c.id, 'confirm', '{}', 'sent', 1, 0, c.created_at, c.created_at, 'prefill'
  FROM channels c JOIN fresh f ON f.id = c.subscriber_id;
COMMIT;
