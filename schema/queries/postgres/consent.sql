-- PostgreSQL dialect of schema/queries/sqlite/consent.sql: the consent log
-- (append-only: 0001's triggers refuse UPDATE, DELETE and TRUNCATE) and the
-- consent texts it cites.
--
-- Differs from SQLite: $N parameters; INSERT OR IGNORE -> ON CONFLICT DO
-- NOTHING (unique conflicts only: a CHECK or NOT NULL violation fails
-- here, where SQLite's IGNORE would skip the row silently).

-- name: consent.append
INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, detail,
                         ip, user_agent, consent_text_sha256, consent_text_version, message_sid,
                         text_received, opt_out_type)
VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text, $5::text, $6::text, $7::text, $8::text,
        $9::text, $10::text, $11::text, $12::text, $13::text, $14::text, $15::text);

-- name: consent.register_text
INSERT INTO consent_texts (sha256, channel, version, text, created_at)
VALUES ($1::text, $2::text, $3::text, $4::text, $5::bigint)
ON CONFLICT DO NOTHING;
