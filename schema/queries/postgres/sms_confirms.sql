-- PostgreSQL dialect of schema/queries/sqlite/sms_confirms.sql: the ledger
-- of SMS confirmations sent, for the sign-up limits. One count per scope,
-- each an index range (sms_confirm_sends_*).
--
-- Differs from SQLite: $N parameters only. count(*) is bigint.
-- Under READ COMMITTED two instances' sign-ups may count at the same time
-- and both pass a limit that only one of them should; SQLite's single
-- writer serialised them. Holding a limit exactly across instances needs a
-- lock taken before the first count (not a statement of this file).

-- name: sms_confirms.count_all
SELECT count(*) FROM sms_confirm_sends WHERE at > $1::bigint;

-- name: sms_confirms.count_client
SELECT count(*) FROM sms_confirm_sends WHERE client = $1::text AND at > $2::bigint;

-- name: sms_confirms.count_number
SELECT count(*) FROM sms_confirm_sends WHERE number = $1::text AND at > $2::bigint;

-- name: sms_confirms.count_prefix
SELECT count(*) FROM sms_confirm_sends WHERE prefix = $1::text AND at > $2::bigint;

-- name: sms_confirms.forget
DELETE FROM sms_confirm_sends WHERE at < $1::bigint;

-- name: sms_confirms.record
INSERT INTO sms_confirm_sends (at, client, number, prefix)
VALUES ($1::bigint, $2::text, $3::text, $4::text);
