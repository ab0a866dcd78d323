-- PostgreSQL dialect of schema/queries/sqlite/rate_grants.sql: up to $3
-- tokens of the current 100 ms slot of provider $1 for a limit of $2 per
-- second, on the database's clock (clock_timestamp(), not the batch's
-- transaction start). One atomic upsert: a concurrent grant of another
-- instance waits on the row and then computes from the row as that one
-- left it (READ COMMITTED re-checks ON CONFLICT DO UPDATE against the latest
-- version), so two instances never take more than the slot holds.
-- Differs from SQLite: $N parameters, typed; least/greatest for min/max.

-- name: rate_grants.grant
WITH s AS (
  SELECT ms, ms / 100 AS slot, (ms / 100) % 10 AS j
  FROM (SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms) AS n
)
INSERT INTO rate_grants AS g (provider, slot, granted, last_grant, asked_ms)
SELECT $1::text, s.slot, least($3::int, $2::int * (s.j + 1) / 10 - $2::int * s.j / 10),
       least($3::int, $2::int * (s.j + 1) / 10 - $2::int * s.j / 10), s.ms
FROM s
ON CONFLICT (provider) DO UPDATE SET
  last_grant = CASE
    WHEN g.slot > excluded.slot THEN 0
    WHEN g.slot = excluded.slot THEN greatest(0, least($3::int,
      $2::int * (excluded.slot % 10 + 1) / 10 - $2::int * (excluded.slot % 10) / 10 - g.granted))
    ELSE excluded.last_grant END,
  granted = CASE
    WHEN g.slot > excluded.slot THEN g.granted
    WHEN g.slot = excluded.slot THEN g.granted + greatest(0, least($3::int,
      $2::int * (excluded.slot % 10 + 1) / 10 - $2::int * (excluded.slot % 10) / 10 - g.granted))
    ELSE excluded.granted END,
  slot = greatest(g.slot, excluded.slot),
  asked_ms = excluded.asked_ms
RETURNING last_grant, 100 - asked_ms % 100, asked_ms / 100;
