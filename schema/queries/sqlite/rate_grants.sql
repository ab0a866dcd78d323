-- Rate grants (sc/core/rate_grants.h): one statement takes up to ?3 tokens
-- of the current 100 ms slot of provider ?1 for a limit of ?2 per second,
-- on the database's clock. A slot's budget is core's rate_slot_budget:
-- ?2 (j+1)/10 - ?2 j/10 for the j-th slot of its second. A row left by an
-- older slot starts afresh; one of a newer slot (a grant that read the
-- clock before another's landed) gives nothing. Returns what was granted
-- how long it stays valid (the rest of the slot, in ms) and the slot.

-- name: rate_grants.grant
WITH s AS (
  SELECT ms, ms / 100 AS slot, (ms / 100) % 10 AS j
  FROM (SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS ms)
)
INSERT INTO rate_grants AS g (provider, slot, granted, last_grant, asked_ms)
SELECT ?1, s.slot, min(?3, ?2 * (s.j + 1) / 10 - ?2 * s.j / 10),
       min(?3, ?2 * (s.j + 1) / 10 - ?2 * s.j / 10), s.ms
FROM s WHERE true
ON CONFLICT (provider) DO UPDATE SET
  last_grant = CASE
    WHEN g.slot > excluded.slot THEN 0
    WHEN g.slot = excluded.slot THEN max(0, min(?3,
      ?2 * (excluded.slot % 10 + 1) / 10 - ?2 * (excluded.slot % 10) / 10 - g.granted))
    ELSE excluded.last_grant END,
  granted = CASE
    WHEN g.slot > excluded.slot THEN g.granted
    WHEN g.slot = excluded.slot THEN g.granted + max(0, min(?3,
      ?2 * (excluded.slot % 10 + 1) / 10 - ?2 * (excluded.slot % 10) / 10 - g.granted))
    ELSE excluded.granted END,
  slot = max(g.slot, excluded.slot),
  asked_ms = excluded.asked_ms
RETURNING last_grant, 100 - asked_ms % 100, asked_ms / 100;
