-- pgbench script: the raw baseline for durable sign-ups on PostgreSQL
-- (bench/run_pg_bench.sh). One transaction per sign-up with the rows and
-- statements the service's sign-up writes (schema/queries/postgres:
-- subscribers.channel_by_address, subscribers.insert, insert_channel,
-- consent.append, outbox.enqueue with a payload of the same size), each a
-- round trip of its own, as the service's are; no HTTP, no rendering.
\set n random(1, 2000000000)
BEGIN;
SELECT id FROM channels WHERE kind = 'email' AND lower(address COLLATE "C") = lower(('pgb' || :n || '-' || :client_id || '@example.org') COLLATE "C") FOR UPDATE;
INSERT INTO subscribers (first_name, postal_code, created_at) VALUES ('Bench', '', extract(epoch from now())::bigint) RETURNING id AS sid \gset
INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at, confirm_sent_at) VALUES (:sid, 'email', 'pgb' || :n || '-' || :client_id || '@example.org', 'pending', extract(epoch from now())::bigint, extract(epoch from now())::bigint, extract(epoch from now())::bigint) RETURNING id AS cid \gset
INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, detail, ip, user_agent, consent_text_sha256, consent_text_version, message_sid, text_received, opt_out_type) VALUES (extract(epoch from now())::bigint, :sid, :cid, 'email', 'pgb' || :n || '-' || :client_id || '@example.org', 'grant', 'form', '', '127.0.0.1', 'wrk', :sha, :version, NULL, NULL, NULL);
INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, lane, next_attempt_at, created_at) VALUES ('email', :cid, 0, 'confirm', repeat('x', 760), 0, 0, extract(epoch from now())::bigint) RETURNING id;
COMMIT;
