#!/usr/bin/env bash
# Runs the *Prism* tests of test_providers against Prism mocks of SendGrid's
# published Mail Send spec (locally patched: custom_args is an object, as the
# real API and official libraries send it) and of Twilio's Create Message
# (locally patched: its "one of From/MessagingServiceSid and Body/MediaUrl"
# rules made required, and a 400 in Twilio's error shape:
# tests/prism/twilio_api_v2010_messages_only.patched.json).
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

logs=()
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "${logs[@]}"
}
trap cleanup EXIT

# Starts Prism on SPEC and waits until it answers PROBE_PATH; prints the port.
start_prism() {
  local spec=$1 probe=$2 port log pid code
  # A port the kernel just handed out; Prism cannot report one it picked itself.
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  node_modules/.bin/prism mock -h 127.0.0.1 -p "$port" "$spec" >"$log" 2>&1 &
  pid=$!
  logs+=("$log")
  pids+=("$pid")
  # Ready when it answers anything at all; bounded (60 s), stops early if Prism dies.
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "prism exited ($spec):" >&2; cat "$log" >&2; return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port$probe" || true)
    if [ "$code" != "000" ]; then PRISM_PORT=$port; return 0; fi
    sleep 0.2
  done
  echo "prism did not start within 60 s ($spec):" >&2; cat "$log" >&2
  return 1
}

start_prism sendgrid_tsg_mail_v3.patched.json /v3/mail/send
sendgrid_port=$PRISM_PORT
start_prism twilio_api_v2010_messages_only.patched.json /2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json
twilio_port=$PRISM_PORT

SC_PRISM_URL="http://127.0.0.1:$sendgrid_port" SC_PRISM_TWILIO_URL="http://127.0.0.1:$twilio_port" SC_REQUIRE_PRISM=1 \
  "$bin" --gtest_filter='*Prism*'

# The broadcasts' requests, as the real binary makes them (test_integration).
for candidate in "$build/tests/test_integration" "$build/test_integration"; do
  if [ -x "$candidate" ]; then
    SC_PRISM_URL="http://127.0.0.1:$sendgrid_port" SC_PRISM_TWILIO_URL="http://127.0.0.1:$twilio_port" SC_REQUIRE_PRISM=1 \
      "$candidate" --gtest_filter='*Prism*'
    break
  fi
done
