-- Imports (POST /api/v1/admin/imports, `stayconnected import`; see
-- include/sc/core/import.h).
--
-- An upload is stored whole, in parts that end on a record boundary, before
-- anything is applied; the runner applies one part per transaction and moves
-- next_part in the same transaction, so a restart resumes where it stopped.
-- status 'receiving': the upload is still arriving (an instance that dies
-- mid-upload leaves it to be dropped once its lease has run out).
-- lease_owner/lease_until (milliseconds, the database's clock): the instance
-- applying it; another takes it over once the lease has run out.
CREATE TABLE imports (
  id             INTEGER PRIMARY KEY,
  mode           TEXT    NOT NULL CHECK (mode IN ('confirmed', 'pending')),
  dry_run        INTEGER NOT NULL,
  status         TEXT    NOT NULL
                 CHECK (status IN ('receiving', 'running', 'completed', 'failed')),
  key_name       TEXT    NOT NULL,
  header         TEXT    NOT NULL,
  created_at     INTEGER NOT NULL,
  finished_at    INTEGER NOT NULL DEFAULT 0,
  parts          INTEGER NOT NULL DEFAULT 0,
  next_part      INTEGER NOT NULL DEFAULT 0,
  rows           INTEGER NOT NULL DEFAULT 0,
  added          INTEGER NOT NULL DEFAULT 0,
  updated        INTEGER NOT NULL DEFAULT 0,
  unchanged      INTEGER NOT NULL DEFAULT 0,
  refused        INTEGER NOT NULL DEFAULT 0,
  confirms_email INTEGER NOT NULL DEFAULT 0,
  confirms_sms   INTEGER NOT NULL DEFAULT 0,
  error          TEXT    NOT NULL DEFAULT '',
  lease_owner    TEXT,
  lease_until    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX imports_open ON imports (status, lease_until)
  WHERE status IN ('receiving', 'running');

-- The upload, until the import has finished (then it goes).
CREATE TABLE import_parts (
  import_id  INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  first_line INTEGER NOT NULL,
  data       TEXT    NOT NULL,
  PRIMARY KEY (import_id, seq)
) WITHOUT ROWID;

-- The refused rows (every row's verdict for a dry run): line and reason,
-- never what the row held, so an erasure has nothing to find here.
CREATE TABLE import_rows (
  import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line      INTEGER NOT NULL,
  verdict   TEXT    NOT NULL,
  reason    TEXT    NOT NULL,
  PRIMARY KEY (import_id, line)
) WITHOUT ROWID;

-- consent_log.source + 'import'. Only widens a CHECK constraint: the schema
-- text is edited in place, as in 0005_feedback_states.sql, and last.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''complaint'', ''provider'')', '''complaint'', ''provider'', ''import'')')
 WHERE type = 'table' AND name = 'consent_log';
PRAGMA writable_schema = OFF;
