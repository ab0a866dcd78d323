#!/usr/bin/env bash
# PostgreSQL sign-up benchmark (issue 16): durable sign-ups/s through one
# instance and through two, against a raw baseline in the same run: pgbench
# running the same statements and rows per sign-up (bench/pg_signup_baseline.sql)
# at the same concurrency, on the same cluster with the same durability
# (fsync on, full_page_writes on, synchronous_commit on).
#   bench/run_pg_bench.sh [BUILD_DIR]
#   SC_BENCH_BIN=path/to/stayconnected ...  runs that binary instead (no build)
#   DURATION=10 (seconds per run), CONNECTIONS=64 (wrk connections and pgbench clients)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PG_BIN=${SC_PG_BIN:-/usr/lib/postgresql/15/bin}
for tool in wrk psql cmake; do
  command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh installs it)" >&2; exit 2; }
done
PGBENCH=$(command -v pgbench || echo "$PG_BIN/pgbench")
if [ -z "${SC_BENCH_BIN:-}" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSC_BUILD_TESTS=ON >/dev/null
  cmake --build "$BUILD" --target stayconnected -j2 >/dev/null
fi
BIN=${SC_BENCH_BIN:-$BUILD/stayconnected}
WORK=$(mktemp -d /tmp/sc-pgbench.XXXXXX)
chmod 755 "$WORK"  # the cluster in it runs as the user postgres
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

scripts/pg-cluster.sh start "$WORK/pg" --durable >/dev/null
URL=$(scripts/pg-cluster.sh createdb "$WORK/pg" sc_bench)
export SC_DB=$URL SC_SIGNUP_LIMITS=off SC_LISTEN=127.0.0.1:0 \
  SC_SECRET=bench-secret-0123456789abcdef SC_HTTP_MAX_CONNECTIONS_PER_IP=16384
"$BIN" migrate >/dev/null

start() {  # name: starts an instance; sets PORT_<name>
  mkdir -p "$WORK/$1"
  SC_EMAIL_OUTBOX_DIR=$WORK/$1/outbox SC_SMS_LOG_FILE=$WORK/$1/sms.log \
    "$BIN" serve >"$WORK/$1/out.log" 2>"$WORK/$1/err.log" &
  PIDS+=($!)
  local port=""
  for _ in $(seq 400); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/$1/out.log")
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    port=""
    sleep 0.05
  done
  [ -n "$port" ] || { echo "instance $1 did not start: $(cat "$WORK/$1/err.log")" >&2; exit 1; }
  eval "PORT_$1=$port"
}
stop_all() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}
wrk_run() {  # port connections seconds -> "rps p99 errors acked"
  local out
  out=$(wrk -t1 -c"$2" -d"$3"s --latency -s bench/signup.lua "http://127.0.0.1:$1/" -- "p$1")
  echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') $(echo "$out" | awk '$1=="99%"{print $2}')" \
    "$(echo "$out" | sed -n 's/^non-2xx-or-3xx: \([0-9]*\),.*/\1/p')" \
    "$(echo "$out" | awk '/requests in/{print $1}')"
}
count() { psql -Atq "$URL" -c "SELECT count(*) FROM channels WHERE address LIKE '$1%'"; }

echo "# stayconnected on PostgreSQL 15, $(nproc) cores, $(date -u +%F), ${DURATION} s runs, $CONNECTIONS connections"

# One instance.
start a
wrk -t1 -c"$CONNECTIONS" -d2s -s bench/signup.lua "http://127.0.0.1:$PORT_a/" >/dev/null 2>&1  # warm-up
read -r rps p99 errs acked <<<"$(wrk_run "$PORT_a" "$CONNECTIONS" "$DURATION")"
printf '%-40s %10s sign-ups/s  p99 %-8s non-2xx %s\n' "one instance" "$rps" "$p99" "$errs"
ONE=$rps

# Two instances on the same database, the same connections split between them.
start b
half=$((CONNECTIONS / 2))
wrk_run "$PORT_a" "$half" "$DURATION" >"$WORK/a.txt" &
w1=$!
wrk_run "$PORT_b" "$half" "$DURATION" >"$WORK/b.txt" &
w2=$!
wait $w1 $w2
read -r r1 p1 e1 _ <"$WORK/a.txt"
read -r r2 p2 e2 _ <"$WORK/b.txt"
TWO=$(awk -v a="$r1" -v b="$r2" 'BEGIN{printf "%.0f", a + b}')
printf '%-40s %10s sign-ups/s  p99 %s / %s  non-2xx %s / %s\n' "two instances (sum)" "$TWO" "$p1" "$p2" "$e1" "$e2"
stop_all

# The raw baseline: the same statements and rows, straight into PostgreSQL.
sha=$(psql -Atq "$URL" -c "SELECT sha256 FROM consent_texts WHERE channel = 'email' LIMIT 1")
version=$(psql -Atq "$URL" -c "SELECT version FROM consent_texts WHERE channel = 'email' LIMIT 1")
base=$("$PGBENCH" -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -f bench/pg_signup_baseline.sql \
  -D sha="$sha" -D version="$version" "$URL" 2>&1 | awk '/^tps/{print $3; exit}')
printf '%-40s %10s transactions/s\n' "raw baseline (pgbench, same rows)" "$base"
awk -v one="$ONE" -v two="$TWO" -v b="$base" \
  'BEGIN{printf "one instance = %.2f x baseline; two instances = %.2f x baseline\n", one / b, two / b}'
echo "durability check: $(psql -Atq "$URL" -c "SELECT count(*) FROM channels WHERE address LIKE 'b%@example.org'") service sign-ups in the database"
