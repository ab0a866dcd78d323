#!/usr/bin/env bash
# The newcomer's one command: installs what is missing, builds a Release
# binary, and runs `stayconnected serve` on the embedded defaults: SQLite in
# ./data, confirmation emails written as .eml files to ./data/outbox, texts
# appended to ./data/sms.log. Ctrl-C stops it cleanly.
#
#   scripts/run.sh              serve on http://127.0.0.1:8080/
#   scripts/run.sh COMMAND...   any other subcommand (see --help)
#
# Any SC_* variable (deploy/stayconnected.env) set in the environment is used,
# e.g. SC_LISTEN=127.0.0.1:9000 SC_PUBLIC_URL=http://127.0.0.1:9000 scripts/run.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${SC_RUN_BUILD_DIR:-build-release}

"$root/scripts/install-deps.sh"

export CCACHE_NOHASHDIR=1
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSC_SANITIZE=OFF -DSC_BUILD_TESTS=OFF >/dev/null
ninja -C "$build_dir" -j "${SC_JOBS:-2}" stayconnected

mkdir -p data
if [ $# -eq 0 ]; then
  url=${SC_PUBLIC_URL:-http://${SC_LISTEN:-127.0.0.1:8080}}
  echo
  echo "Sign-up page:        ${url%/}/"
  echo "Confirmation emails: ${SC_EMAIL_OUTBOX_DIR:-./data/outbox}/*.eml (open the link inside to confirm)"
  echo "Texts:               ${SC_SMS_LOG_FILE:-./data/sms.log}"
  echo "Stop with Ctrl-C."
  echo
  set -- serve
fi
exec "$root/$build_dir/stayconnected" "$@"
