-- PostgreSQL dialect of schema/migrations/sqlite/0017_imports.sql: imports,
-- their stored parts and refused rows, and consent_log.source + 'import'.
CREATE TABLE imports (
  id             bigserial PRIMARY KEY,
  mode           text      NOT NULL CHECK (mode IN ('confirmed', 'pending')),
  dry_run        bigint    NOT NULL,
  status         text      NOT NULL
                 CHECK (status IN ('receiving', 'running', 'completed', 'failed')),
  key_name       text      NOT NULL,
  header         text      NOT NULL,
  created_at     bigint    NOT NULL,
  finished_at    bigint    NOT NULL DEFAULT 0,
  parts          bigint    NOT NULL DEFAULT 0,
  next_part      bigint    NOT NULL DEFAULT 0,
  rows           bigint    NOT NULL DEFAULT 0,
  added          bigint    NOT NULL DEFAULT 0,
  updated        bigint    NOT NULL DEFAULT 0,
  unchanged      bigint    NOT NULL DEFAULT 0,
  refused        bigint    NOT NULL DEFAULT 0,
  confirms_email bigint    NOT NULL DEFAULT 0,
  confirms_sms   bigint    NOT NULL DEFAULT 0,
  error          text      NOT NULL DEFAULT '',
  lease_owner    text,
  lease_until    bigint    NOT NULL DEFAULT 0
);
CREATE INDEX imports_open ON imports (status, lease_until)
  WHERE status IN ('receiving', 'running');

CREATE TABLE import_parts (
  import_id  bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  seq        bigint NOT NULL,
  first_line bigint NOT NULL,
  data       text   NOT NULL,
  PRIMARY KEY (import_id, seq)
);

CREATE TABLE import_rows (
  import_id bigint NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line      bigint NOT NULL,
  verdict   text   NOT NULL,
  reason    text   NOT NULL,
  PRIMARY KEY (import_id, line)
);

ALTER TABLE consent_log
  DROP CONSTRAINT consent_log_source_check,
  ADD CONSTRAINT consent_log_source_check
  CHECK (source IN ('form', 'link', 'one-click', 'keyword', 'admin', 'complaint', 'provider',
                    'import'));
