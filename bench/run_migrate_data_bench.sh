#!/usr/bin/env bash
# Times `stayconnected migrate-data` on a SQLite installation of N subscribers
# (default 100,000): each with a confirmed email channel, the grant and
# confirm rows of the consent log (bench/prefill.sql) and a sent
# confirmation in the outbox whose payload is the size of a rendered one
# (about 2 KB), into a durable throwaway PostgreSQL 15 cluster
# (scripts/pg-cluster.sh --durable: fsync on) on the same host.
#
#   bench/run_migrate_data_bench.sh BINARY [N]     (as root, or as a user that can run the cluster)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:?usage: bench/run_migrate_data_bench.sh BINARY [N]}")
n=${2:-100000}
work=$(mktemp -d /tmp/sc-migrate-bench.XXXXXX)
chmod 755 "$work"  # the cluster runs as postgres when root
pg=$work/pg
cleanup() {
  "$root/scripts/pg-cluster.sh" stop "$pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

db=$work/data/sc.db
mkdir -m 700 "$work/data"
SC_DB=$db "$bin" migrate >/dev/null
sqlite3 "$db" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=OFF" ".param set :n $n" \
  ".read $root/bench/prefill.sql" >/dev/null
sqlite3 "$db" "UPDATE outbox SET payload = json_object('to', 'reader@example.org', 'subject',
  'Please confirm your subscription', 'text', hex(randomblob(500)), 'html', hex(randomblob(450)))" \
  >/dev/null
echo "# migrate-data, $n subscribers, $(nproc) cores, $(date -u +%F); source $(du -h "$db" | cut -f1)"
for t in subscribers channels consent_log outbox; do
  echo "  $t: $(sqlite3 "$db" "SELECT count(*) FROM $t") rows"
done
"$root/scripts/pg-cluster.sh" start "$pg" --durable >/dev/null
url=$("$root/scripts/pg-cluster.sh" createdb "$pg" sc_bench)
t0=$(date +%s.%N)
"$bin" migrate-data --from "$db" --to "$url" | sed 's/^/  /'
t1=$(date +%s.%N)
echo "migrate-data took $(echo "$t1 - $t0" | bc) s (wall clock, the target's migrations included)"
