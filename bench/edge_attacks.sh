#!/usr/bin/env bash
# Edge attacks (issue 7 point 5): runs bench/edge_attacks.py against a fresh
# service and prints, per attack, the answer and RSS at start and peak, then
# the slow-client flood (2,000 connections from one IP) with the slowest
# GET /healthz of a new client. Exits 1 when a target is missed.
#   bench/edge_attacks.sh [BUILD_DIR]        (default build-bench, Release)
#   SC_BENCH_BIN=path/to/stayconnected bench/edge_attacks.sh   (no build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
if [ -z "${SC_BENCH_BIN:-}" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSC_BUILD_TESTS=ON >/dev/null
  cmake --build "$BUILD" --target stayconnected -j2 >/dev/null
fi
BIN=${SC_BENCH_BIN:-$BUILD/stayconnected}
WORK=$(mktemp -d /tmp/sc-edge.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
# 2,000 attacking sockets plus the service's own: both sides need the fds.
ulimit -n 8192
export SC_DB=$WORK/sc.db SC_EMAIL_OUTBOX_DIR=$WORK/outbox SC_SMS_LOG_FILE=$WORK/sms.log \
  SC_LISTEN=127.0.0.1:0 SC_SECRET=bench-secret-0123456789abcdef
"$BIN" serve >"$WORK/out.log" 2>"$WORK/err.log" &
PID=$!
for _ in $(seq 200); do
  PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/out.log")
  [ -n "$PORT" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.05
done
[ -n "$PORT" ] || { echo "service did not start: $(cat "$WORK/err.log")" >&2; exit 1; }
echo "# $(nproc) cores; $BIN"
python3 bench/edge_attacks.py 127.0.0.1 "$PORT" "$PID"
