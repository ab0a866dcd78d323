-- PostgreSQL dialect of schema/queries/sqlite/suppressions.sql.
-- Differs from SQLite: $N parameters; INSERT OR IGNORE -> ON CONFLICT DO NOTHING.

-- name: suppressions.add
INSERT INTO suppressions (kind, key, reason, created_at)
VALUES ($1::text, $2::text, $3::text, $4::bigint) ON CONFLICT DO NOTHING;

-- name: suppressions.has
SELECT 1 FROM suppressions WHERE kind = $1::text AND key = $2::text;
