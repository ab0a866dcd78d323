-- The suppression list (sc/core/erasure.h): keyed hashes of erased
-- addresses and numbers.

-- name: suppressions.add
INSERT OR IGNORE INTO suppressions (kind, key, reason, created_at) VALUES (?1, ?2, ?3, ?4);

-- name: suppressions.has
SELECT 1 FROM suppressions WHERE kind = ?1 AND key = ?2;
