-- `stayconnected migrate-data` (src/storage/copy.cpp): the target side of a
-- copy of a SQLite installation into PostgreSQL, all in one transaction
-- (writer.begin ... writer.commit): a failure leaves every table empty. The
-- tables are a fixed list in copy.cpp; {table}, {tables}, {columns} and
-- {column} are filled in from that list and from the column names both
-- databases report (equal, in order, and plain identifiers, or the copy
-- stops before it starts).
--
-- Dialect-only names (scripts/pg-check-sql.sh reads the two lines below):
-- postgres-only: copy.lock copy.write copy.identities copy.restart_identity
-- sqlite-only: copy.snapshot_begin copy.snapshot_end copy.read
--
-- The append-only triggers of consent_log and audit_log (and admin_keys')
-- fire on UPDATE, DELETE and TRUNCATE only: COPY inserts, so they stay as
-- they are, enabled, and nothing here touches them.

-- The service's tables (schema_migrations included, as in SQLite).
-- name: copy.tables
SELECT table_name::text FROM information_schema.tables
 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
 ORDER BY table_name;

-- A table's columns in their order.
-- name: copy.columns
SELECT column_name::text FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name = $1::text
 ORDER BY ordinal_position;

-- The migrations applied, in order.
-- name: copy.versions
SELECT version FROM schema_migrations ORDER BY version;

-- A template: {table}.
-- name: copy.count
SELECT count(*) FROM {table};

-- A template: {tables}, comma-separated. Taken first in the copy's
-- transaction: no other session writes a row between the check that every
-- table is empty and the commit (reads go on).
-- name: copy.lock
LOCK TABLE {tables} IN EXCLUSIVE MODE;

-- A template: {columns} of {table}, the rows in COPY's text format.
-- name: copy.write
COPY {table} ({columns}) FROM STDIN;

-- The identity columns (every table's id but the keyless ones).
-- name: copy.identities
SELECT table_name::text, column_name::text FROM information_schema.columns
 WHERE table_schema = current_schema() AND is_identity = 'YES'
 ORDER BY table_name;

-- A template: the identity {column} of {table} hands out the largest id
-- copied + 1 next (1 for an empty table). setval is not rolled back with
-- the transaction: run last, just before the commit (a failed commit leaves
-- the tables empty and the next ids higher, which is harmless).
-- name: copy.restart_identity
SELECT setval(pg_get_serial_sequence('{table}', '{column}'), coalesce(max({column}), 0) + 1, false)
  FROM {table};
