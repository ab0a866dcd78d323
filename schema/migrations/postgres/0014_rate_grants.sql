-- PostgreSQL dialect of schema/migrations/sqlite/0014_rate_grants.sql.
-- Per-provider rate limits held across instances (sc/core/rate_grants.h):
-- one row per provider with the 100 ms slot of the database clock it last
-- granted from and how many of that slot's tokens are granted.
CREATE TABLE rate_grants (
  provider   text    PRIMARY KEY,
  slot       bigint  NOT NULL,  -- unix ms / 100
  granted    integer NOT NULL,  -- tokens of `slot` granted so far
  last_grant integer NOT NULL,  -- what the last grant gave (read back by it)
  asked_ms   bigint  NOT NULL   -- the database time of the last grant, unix ms
);
