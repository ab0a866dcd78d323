-- The ledger of SMS confirmations sent, for the sign-up limits. One count
-- per scope, each an index range (sms_confirm_sends_*).

-- Nothing to take under SQLite: its single writer already runs one
-- count-then-record after another (the PostgreSQL dialect locks ?1).
-- name: sms_confirms.lock
SELECT 1 WHERE ?1 IS NOT NULL;

-- name: sms_confirms.count_all
SELECT count(*) FROM sms_confirm_sends WHERE at > ?1;

-- name: sms_confirms.count_client
SELECT count(*) FROM sms_confirm_sends WHERE client = ?1 AND at > ?2;

-- name: sms_confirms.count_number
SELECT count(*) FROM sms_confirm_sends WHERE number = ?1 AND at > ?2;

-- name: sms_confirms.count_prefix
SELECT count(*) FROM sms_confirm_sends WHERE prefix = ?1 AND at > ?2;

-- name: sms_confirms.forget
DELETE FROM sms_confirm_sends WHERE at < ?1;

-- name: sms_confirms.record
INSERT INTO sms_confirm_sends (at, client, number, prefix) VALUES (?1, ?2, ?3, ?4);
