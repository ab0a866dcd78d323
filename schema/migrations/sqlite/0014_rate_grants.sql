-- Per-provider rate limits held across instances (sc/core/rate_grants.h):
-- one row per provider with the 100 ms slot of the database clock it last
-- granted from and how many of that slot's tokens are granted. A grant in a
-- newer slot starts it afresh, so the table never grows past one row per
-- provider.
CREATE TABLE rate_grants (
  provider   TEXT    PRIMARY KEY,
  slot       INTEGER NOT NULL,  -- unix ms / 100
  granted    INTEGER NOT NULL,  -- tokens of `slot` granted so far
  last_grant INTEGER NOT NULL,  -- what the last grant gave (read back by it)
  asked_ms   INTEGER NOT NULL   -- the database time of the last grant, unix ms
) WITHOUT ROWID;
