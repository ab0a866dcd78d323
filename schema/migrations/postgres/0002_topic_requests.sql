-- PostgreSQL dialect of schema/migrations/sqlite/0002_topic_requests.sql.
-- Topics a form asked for on behalf of someone who already exists. An
-- anonymous form proves nothing about who owns an address, so the topics
-- wait on the channel the form named until its owner confirms through it
-- (the confirmation link applies them).
CREATE TABLE topic_requests (
  channel_id   bigint NOT NULL REFERENCES channels(id),
  topic        text   NOT NULL,
  requested_at bigint NOT NULL,
  PRIMARY KEY (channel_id, topic)
);
