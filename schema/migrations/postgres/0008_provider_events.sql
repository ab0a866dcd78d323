-- PostgreSQL dialect of schema/migrations/sqlite/0008_provider_events.sql.
-- Events a provider has reported and we have applied, by the provider's own
-- event id (SendGrid's sg_event_id): the same event posted again changes
-- nothing more. Rows older than a week are pruned as new ones arrive.
CREATE TABLE provider_events (
  provider    text   NOT NULL,
  event_id    text   NOT NULL,
  received_at bigint NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX provider_events_received ON provider_events (received_at);
