-- States that what comes back from providers and people needs, and the
-- "unknown" outcome of a broadcast message:
--   channels.state      + 'undeliverable' (hard bounce, invalid number)
--   consent_log.action  + 'undeliverable', 'help', 'received'
--   consent_log.source  + 'complaint', 'provider'
--   outbox.state        + 'unknown' (the provider's answer never came)
-- Each only widens a CHECK constraint, which changes nothing stored, so the
-- schema text is edited in place: the procedure SQLite documents for such
-- changes (https://www.sqlite.org/lang_altertable.html, "otheralter"). The
-- migration runner bumps schema_version after a migration that does this.
-- The edit comes last: ALTER TABLE in the same transaction would work from
-- the schema text as it was loaded, before the edit.
-- Delivery as the provider reports it afterwards (Twilio status callback,
-- SendGrid events): 'delivered', 'undelivered', 'deferred', 'bounced' …;
-- it only moves forward (see the webhook handlers).
ALTER TABLE outbox ADD COLUMN delivery_state TEXT;
ALTER TABLE outbox ADD COLUMN delivery_code TEXT;
ALTER TABLE outbox ADD COLUMN delivery_at INTEGER;
-- Status callbacks and events name the message by the provider's id.
CREATE INDEX outbox_provider_message ON outbox (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''pending'', ''confirmed'', ''unsubscribed'')',
                          '''pending'', ''confirmed'', ''unsubscribed'', ''undeliverable'')')
 WHERE type = 'table' AND name = 'channels';
UPDATE sqlite_schema
   SET sql = replace(replace(sql,
             '''grant'', ''confirm'', ''withdraw'')',
             '''grant'', ''confirm'', ''withdraw'', ''undeliverable'', ''help'', ''received'')'),
             '''keyword'', ''admin'')',
             '''keyword'', ''admin'', ''complaint'', ''provider'')')
 WHERE type = 'table' AND name = 'consent_log';
UPDATE sqlite_schema
   SET sql = replace(sql, '''failed'', ''skipped'')', '''failed'', ''skipped'', ''unknown'')')
 WHERE type = 'table' AND name = 'outbox';
PRAGMA writable_schema = OFF;
