#!/usr/bin/env bash
# Runs the *Prism* tests of test_providers against a Prism mock of SendGrid's
# published Mail Send spec (locally patched: custom_args is an object, as the
# real API and official libraries send it).
#   tests/prism/run_prism_tests.sh BUILD_DIR
# Installs @stoplight/prism-cli into tests/prism/node_modules when missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run_prism_tests.sh BUILD_DIR}" && pwd)
bin=""
for candidate in "$build/tests/test_providers" "$build/test_providers"; do
  if [ -x "$candidate" ]; then bin=$candidate; break; fi
done
[ -n "$bin" ] || { echo "test_providers not found under $build" >&2; exit 2; }

cd "$here"
if [ ! -x node_modules/.bin/prism ]; then
  npm install --no-audit --no-fund
fi

# A port the kernel just handed out; Prism cannot report one it picked itself.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
node_modules/.bin/prism mock -h 127.0.0.1 -p "$port" sendgrid_tsg_mail_v3.patched.json >"$log" 2>&1 &
prism_pid=$!
cleanup() {
  kill "$prism_pid" 2>/dev/null || true
  wait "$prism_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

# Ready when it answers anything at all; bounded (60 s), stops early if Prism dies.
ready=0
for _ in $(seq 1 300); do
  if ! kill -0 "$prism_pid" 2>/dev/null; then
    echo "prism exited:" >&2; cat "$log" >&2; exit 1
  fi
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v3/mail/send" || true)
  if [ "$code" != "000" ]; then ready=1; break; fi
  sleep 0.2
done
[ "$ready" = 1 ] || { echo "prism did not start within 60 s:" >&2; cat "$log" >&2; exit 1; }

SC_PRISM_URL="http://127.0.0.1:$port" SC_REQUIRE_PRISM=1 "$bin" --gtest_filter='*Prism*'
