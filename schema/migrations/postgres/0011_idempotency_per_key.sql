-- PostgreSQL dialect of schema/migrations/sqlite/0011_idempotency_per_key.sql.
-- Idempotency-Key per admin key, with the request it came with (issue 14).
-- created_by is the key's name, and names are never reused, so
-- (created_by, idem_key) names one request. The old column keeps its UNIQUE
-- (as in SQLite, where dropping it would rebuild the table); it is emptied
-- here and no longer written.
ALTER TABLE broadcasts ADD COLUMN idem_key text;
ALTER TABLE broadcasts ADD COLUMN idem_body_digest text NOT NULL DEFAULT '';
UPDATE broadcasts SET idem_key = idempotency_key, idempotency_key = NULL
  WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX broadcasts_idem_key ON broadcasts (created_by, idem_key)
  WHERE idem_key IS NOT NULL;
