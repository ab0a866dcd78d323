#!/usr/bin/env bash
# Sign-up benchmark (issue #2): durable sign-ups/s through POST
# /api/v1/subscriptions with wrk at 64 keep-alive connections, on an empty
# database and again with 1,000,000 subscribers; RSS at 1M; a new client's
# wait behind 200 idle keep-alive connections; outbox drain time.
#   bench/run_signup_bench.sh [BUILD_DIR] [SUBSCRIBERS]
#   SC_BENCH_BIN=path/to/stayconnected ...  runs that binary instead (no build; A/B runs)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
N=${2:-1000000}
DURATION=${DURATION:-10}
for tool in wrk sqlite3 python3 cmake; do
  command -v $tool >/dev/null || { echo "missing $tool (scripts/install-deps.sh installs it)" >&2; exit 2; }
done
if [ -z "${SC_BENCH_BIN:-}" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSC_BUILD_TESTS=ON >/dev/null
  cmake --build "$BUILD" --target stayconnected -j2 >/dev/null
fi
BIN=${SC_BENCH_BIN:-$BUILD/stayconnected}
WORK=$(mktemp -d /tmp/sc-bench.XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

export SC_DB=$WORK/sc.db SC_EMAIL_OUTBOX_DIR=$WORK/outbox SC_SMS_LOG_FILE=$WORK/sms.log \
  SC_SIGNUP_LIMITS=off SC_LISTEN=127.0.0.1:0 SC_SECRET=bench-secret-0123456789abcdef
# Every load generator here connects from 127.0.0.1: lift the per-IP
# connection cap (64) that would otherwise close wrk's and the idle test's
# extra connections.
export SC_HTTP_MAX_CONNECTIONS_PER_IP=16384

start() {
  "$BIN" serve >"$WORK/out.log" 2>"$WORK/err.log" &
  PID=$!
  for _ in $(seq 200); do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/out.log")
    [ -n "$PORT" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
    sleep 0.05
  done
  echo "service did not start: $(cat "$WORK/err.log")" >&2; exit 1
}
stop() { kill -TERM $PID; wait $PID || true; }
rss_kb() { awk '/^VmRSS/{print $2}' /proc/$PID/status; }
hwm_kb() { awk '/^VmHWM/{print $2}' /proc/$PID/status; }

signups() {  # label
  wrk -t2 -c64 -d2s -s bench/signup.lua "http://127.0.0.1:$PORT/" >/dev/null 2>&1  # warm-up
  local out; out=$(wrk -t2 -c64 -d${DURATION}s --latency -s bench/signup.lua "http://127.0.0.1:$PORT/")
  local rps p50 p99 errs
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  errs=$(echo "$out" | sed -n 's/^non-2xx-or-3xx: //p')
  printf '%-34s %10s req/s   p50 %-8s p99 %-8s (%s)\n' "$1" "$rps" "$p50" "$p99" "$errs"
  # Every acknowledged sign-up must be in the database.
  local acked; acked=$(echo "$out" | awk '/requests in/{print $1}')
  echo "$acked" >"$WORK/acked.$2"
}

drain() {  # waits until the outbox has nothing queued; prints the time
  local t0=$SECONDS
  while [ "$(sqlite3 "$SC_DB" "SELECT COUNT(*) FROM outbox WHERE state IN ('queued','sending')")" != 0 ]; do
    sleep 0.5
    [ $((SECONDS - t0)) -gt 600 ] && { echo "outbox did not drain" >&2; exit 1; }
  done
  echo "outbox drained $((SECONDS - t0)) s after the run; $(ls "$SC_EMAIL_OUTBOX_DIR" | wc -l) .eml files"
}

echo "# stayconnected sign-up benchmark, $(nproc) cores, $(date -u +%F)"
"$BIN" migrate >/dev/null
start
signups "empty database" a
echo "idle keep-alive: $(python3 bench/idle_keepalive.py 127.0.0.1 "$PORT" 200)"
drain
stop

echo "prefilling $N subscribers ..."
t0=$SECONDS
sqlite3 "$SC_DB" "PRAGMA journal_mode=WAL" "PRAGMA synchronous=OFF" ".param set :n $N" ".read bench/prefill.sql" >/dev/null
echo "prefill took $((SECONDS - t0)) s; subscribers: $(sqlite3 "$SC_DB" 'SELECT COUNT(*) FROM subscribers')"
start
echo "RSS after start at $(sqlite3 "$SC_DB" 'SELECT COUNT(*) FROM subscribers') subscribers: $(( $(rss_kb) / 1024 )) MB"
signups "$N+ subscribers" b
echo "RSS after the run: $(( $(rss_kb) / 1024 )) MB (peak $(( $(hwm_kb) / 1024 )) MB)"
echo "idle keep-alive: $(python3 bench/idle_keepalive.py 127.0.0.1 "$PORT" 200)"
drain
echo "RSS after draining: $(( $(rss_kb) / 1024 )) MB (peak $(( $(hwm_kb) / 1024 )) MB)"
stop
total=$(sqlite3 "$SC_DB" "SELECT COUNT(*) FROM channels WHERE address LIKE '%@example.org'")
echo "durability check: $total bench sign-ups in the database, $(( $(cat "$WORK/acked.a") + $(cat "$WORK/acked.b") )) acknowledged in the measured runs (warm-ups add more)"
