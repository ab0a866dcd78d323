-- PostgreSQL dialect of schema/migrations/sqlite/0013_instances.sql.
-- Several instances on one database: who holds each lease. Every process
-- (every writer) takes a random id when it starts (32 hex digits), recorded
-- here with its stable name (SC_INSTANCE_NAME, by default host:port) and a
-- heartbeat. A restart under the same name hands back what its earlier ids
-- left leased, and never touches another name's leases.
CREATE TABLE instances (
  id           text   PRIMARY KEY,
  name         text   NOT NULL,
  started_at   bigint NOT NULL,
  heartbeat_at bigint NOT NULL
);
CREATE INDEX instances_name ON instances (name);
-- The instance holding a leased row (state 'sending'); NULL on any other
-- row, and on rows leased before this migration (handed back at start).
ALTER TABLE outbox ADD COLUMN lease_owner text;
-- A broadcast's runner lease: one instance at a time writes its snapshot and
-- completes it. term grows each time another instance takes the lease.
CREATE TABLE broadcast_leases (
  broadcast_id bigint PRIMARY KEY,
  owner        text   NOT NULL,
  term         bigint NOT NULL,
  lease_until  bigint NOT NULL
);
