-- Erasure (sc/core/erasure.h) on the writer: what names a person goes, and
-- what proves their consent stays under a pseudonym (0016's triggers allow
-- exactly this change of the consent log and the audit log).

-- name: erasure.outbox_ids
SELECT id FROM outbox WHERE channel_id = ?1 ORDER BY id;

-- Every body and error goes; a message not sent yet is skipped (code
-- 'erased'), so a broadcast's counts still add up.
-- name: erasure.outbox
UPDATE outbox
   SET payload = '', last_error = NULL,
       last_code = CASE WHEN state = 'queued' THEN 'erased' ELSE last_code END,
       finished_at = CASE WHEN state = 'queued' THEN ?2 ELSE finished_at END,
       wait_reason = CASE WHEN state = 'queued' THEN NULL ELSE wait_reason END,
       state = CASE WHEN state = 'queued' THEN 'skipped' ELSE state END
 WHERE channel_id = ?1;

-- ?1 subscriber, ?2 channel, ?3 address, ?4 pseudonym.
-- name: erasure.consent_log
UPDATE consent_log
   SET address = ?4, ip = '', user_agent = '', text_received = NULL,
       detail = CASE WHEN instr(lower(detail), lower(?3)) > 0 THEN '' ELSE detail END
 WHERE subscriber_id = ?1 AND channel_id = ?2;

-- Texts from the number before it was anyone's (STOP, HELP), kept under
-- subscriber 0 (consent_log_unknown_number). ?1 kind, ?2 number, ?3 pseudonym.
-- name: erasure.consent_log_unknown
UPDATE consent_log
   SET address = ?3, ip = '', user_agent = '', text_received = NULL,
       detail = CASE WHEN instr(lower(detail), lower(?2)) > 0 THEN '' ELSE detail END
 WHERE subscriber_id = 0 AND channel = ?1 AND address = ?2;

-- A lookup's target is the address; a detail may quote it. ?1 address, ?2 pseudonym.
-- name: erasure.audit_log
UPDATE audit_log
   SET target = CASE WHEN lower(target) = lower(?1) THEN ?2 ELSE target END,
       detail = CASE WHEN instr(lower(detail), lower(?1)) > 0 THEN '' ELSE detail END
 WHERE lower(target) = lower(?1) OR instr(lower(detail), lower(?1)) > 0;

-- ?1 number, ?2 pseudonym.
-- name: erasure.inbound_texts
UPDATE inbound_texts SET from_number = ?2, body = '' WHERE from_number = ?1;

-- name: erasure.sms_confirm_sends
DELETE FROM sms_confirm_sends WHERE number = ?1;

-- name: erasure.topic_requests
DELETE FROM topic_requests WHERE channel_id = ?1;

-- name: erasure.channel
DELETE FROM channels WHERE id = ?1;

-- name: erasure.subscriber_topics
DELETE FROM subscriber_topics WHERE subscriber_id = ?1;

-- name: erasure.subscriber
DELETE FROM subscribers WHERE id = ?1;

-- After an erasure: the WAL's older frames still hold what was erased; a
-- checkpoint copies the last versions (zeroed by secure_delete) into the
-- database file and truncates the WAL.
-- name: erasure.checkpoint
PRAGMA wal_checkpoint(TRUNCATE);
