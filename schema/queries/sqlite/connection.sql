-- Pragmas every connection is opened with (src/storage/connection.cpp).

-- name: connection.journal_wal
PRAGMA journal_mode=WAL;

-- FULL syncs the WAL on every commit: an acknowledged sign-up survives
-- power loss, not just a crash of the process.
-- name: connection.synchronous_full
PRAGMA synchronous=FULL;

-- name: connection.synchronous_normal
PRAGMA synchronous=NORMAL;

-- name: connection.foreign_keys_on
PRAGMA foreign_keys=ON;

-- name: connection.temp_store_memory
PRAGMA temp_store=MEMORY;

-- The writer zeroes what it deletes or overwrites (an erasure leaves nothing
-- of a person in free space of the file; sc/core/erasure.h).
-- name: connection.secure_delete_on
PRAGMA secure_delete=ON;
