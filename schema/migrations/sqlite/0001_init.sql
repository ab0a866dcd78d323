-- Identity, per-channel consent state and the consent log are kept apart:
-- a subscriber is who someone is, a channel is how we may reach them and
-- whether we may, the consent log is the evidence of how that came to be.

CREATE TABLE subscribers (
  id          INTEGER PRIMARY KEY,
  first_name  TEXT    NOT NULL DEFAULT '',
  postal_code TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);

CREATE TABLE channels (
  id              INTEGER PRIMARY KEY,
  subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id),
  kind            TEXT    NOT NULL CHECK (kind IN ('email', 'sms')),
  -- NOCASE: Reader@example.org and reader@example.org are one person to
  -- every mailbox provider that matters; the address is sent as first given.
  address         TEXT    NOT NULL COLLATE NOCASE,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'confirmed', 'unsubscribed')),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  confirm_sent_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE (kind, address)
);
CREATE INDEX channels_subscriber ON channels (subscriber_id);

CREATE TABLE subscriber_topics (
  subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
  topic         TEXT    NOT NULL,
  PRIMARY KEY (subscriber_id, topic)
) WITHOUT ROWID;

-- The exact wording a person agreed to, stored once and referenced by hash.
CREATE TABLE consent_texts (
  sha256     TEXT PRIMARY KEY,
  channel    TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
  version    TEXT NOT NULL,
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Append-only: the triggers refuse every UPDATE and DELETE.
CREATE TABLE consent_log (
  id                   INTEGER PRIMARY KEY,
  at                   INTEGER NOT NULL,
  subscriber_id        INTEGER NOT NULL,
  channel_id           INTEGER NOT NULL,
  channel              TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
  address              TEXT    NOT NULL,
  action               TEXT    NOT NULL CHECK (action IN ('grant', 'confirm', 'withdraw')),
  source               TEXT    NOT NULL CHECK (source IN ('form', 'link', 'one-click', 'keyword', 'admin')),
  detail               TEXT    NOT NULL DEFAULT '',
  ip                   TEXT    NOT NULL DEFAULT '',
  user_agent           TEXT    NOT NULL DEFAULT '',
  consent_text_sha256  TEXT    REFERENCES consent_texts(sha256),
  consent_text_version TEXT
);
-- Audits read a person's whole history (admin lookup).
CREATE INDEX consent_log_subscriber ON consent_log (subscriber_id);
CREATE TRIGGER consent_log_no_update BEFORE UPDATE ON consent_log
BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END;
CREATE TRIGGER consent_log_no_delete BEFORE DELETE ON consent_log
BEGIN SELECT RAISE(ABORT, 'consent_log is append-only'); END;

-- The transactional outbox: a row is written in the same transaction as the
-- state change that caused it and holds the fully rendered message.
CREATE TABLE outbox (
  id                  INTEGER PRIMARY KEY,
  kind                TEXT    NOT NULL CHECK (kind IN ('email', 'sms')),
  channel_id          INTEGER NOT NULL,
  broadcast_id        INTEGER NOT NULL DEFAULT 0,
  purpose             TEXT    NOT NULL,
  payload             TEXT    NOT NULL,
  state               TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
  attempts            INTEGER NOT NULL DEFAULT 0,
  next_attempt_at     INTEGER NOT NULL,
  lease_until         INTEGER NOT NULL DEFAULT 0,
  created_at          INTEGER NOT NULL,
  finished_at         INTEGER,
  provider            TEXT,
  provider_message_id TEXT,
  last_code           TEXT,
  last_error          TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'sending';
