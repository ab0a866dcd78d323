-- PostgreSQL dialect of schema/queries/sqlite/sms_confirms.sql: the ledger
-- of SMS confirmations sent, for the sign-up limits. One count per scope,
-- each an index range (sms_confirm_sends_*).
--
-- Differs from SQLite: $N parameters only. count(*) is bigint.
-- Under READ COMMITTED two instances' sign-ups could count at the same
-- time and both pass a limit that only one of them should; SQLite's single
-- writer serialises them. So each count is preceded by sms_confirms.lock:
-- an advisory lock on the scope and key, held to the end of the
-- transaction, so another instance's count of the same key waits for this
-- one's record to commit and then sees it.

-- name: sms_confirms.lock
SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1::text))) AS locked;

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
