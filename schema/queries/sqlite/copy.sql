-- `stayconnected migrate-data` (src/storage/copy.cpp): the source side of a
-- copy of a SQLite installation into PostgreSQL. The tables are a fixed list
-- in copy.cpp; {table} and {columns} are filled in from that list and from
-- the column names both databases report (equal, in order, and plain
-- identifiers, or the copy stops before it starts).

-- The service's tables (SQLite's own excluded).
-- name: copy.tables
SELECT name FROM sqlite_master
 WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
 ORDER BY name;

-- A table's columns in their order.
-- name: copy.columns
SELECT name FROM pragma_table_info(?1) ORDER BY cid;

-- The migrations applied, in order.
-- name: copy.versions
SELECT version FROM schema_migrations ORDER BY version;

-- A template: {table}.
-- name: copy.count
SELECT count(*) FROM {table};

-- Every table is read inside one read transaction: one snapshot of the whole
-- installation, even if the service still ran (it should not: what it
-- writes after the snapshot is not copied).
-- name: copy.snapshot_begin
BEGIN;

-- name: copy.snapshot_end
ROLLBACK;

-- A template: {columns} of {table}, every row. Values are read as text (an
-- INTEGER as its decimal digits), NULL as NULL.
-- name: copy.read
SELECT {columns} FROM {table};
