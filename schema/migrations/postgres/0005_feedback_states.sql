-- PostgreSQL dialect of schema/migrations/sqlite/0005_feedback_states.sql.
-- States that what comes back from providers and people needs, and the
-- "unknown" outcome of a broadcast message:
--   channels.state      + 'undeliverable' (hard bounce, invalid number)
--   consent_log.action  + 'undeliverable', 'help', 'received'
--   consent_log.source  + 'complaint', 'provider'
--   outbox.state        + 'unknown' (the provider's answer never came)
-- SQLite edits the schema text in place (writable_schema); here each CHECK
-- is dropped and added again, wider (adding it checks the rows there are,
-- which all satisfy the narrower one).
-- Delivery as the provider reports it afterwards (Twilio status callback,
-- SendGrid events): 'delivered', 'undelivered', 'deferred', 'bounced' …;
-- it only moves forward (see the webhook handlers).
ALTER TABLE outbox ADD COLUMN delivery_state text;
ALTER TABLE outbox ADD COLUMN delivery_code text;
ALTER TABLE outbox ADD COLUMN delivery_at bigint;
-- Status callbacks and events name the message by the provider's id.
CREATE INDEX outbox_provider_message ON outbox (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

ALTER TABLE channels DROP CONSTRAINT channels_state_check,
  ADD CONSTRAINT channels_state_check
  CHECK (state IN ('pending', 'confirmed', 'unsubscribed', 'undeliverable'));
ALTER TABLE consent_log DROP CONSTRAINT consent_log_action_check,
  ADD CONSTRAINT consent_log_action_check
  CHECK (action IN ('grant', 'confirm', 'withdraw', 'undeliverable', 'help', 'received')),
  DROP CONSTRAINT consent_log_source_check,
  ADD CONSTRAINT consent_log_source_check
  CHECK (source IN ('form', 'link', 'one-click', 'keyword', 'admin', 'complaint', 'provider'));
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check,
  ADD CONSTRAINT outbox_state_check
  CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'unknown'));
