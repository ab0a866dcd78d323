-- Events a provider has reported and we have applied, by the provider's own
-- event id (SendGrid's sg_event_id): the same event posted again (a retry,
-- a replay inside the signature's 10-minute window) changes nothing more.
-- Rows older than a week are pruned as new ones arrive; SendGrid retries a
-- failed post for at most 24 hours.
CREATE TABLE provider_events (
  provider    TEXT    NOT NULL,
  event_id    TEXT    NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (provider, event_id)
) WITHOUT ROWID;
CREATE INDEX provider_events_received ON provider_events (received_at);
