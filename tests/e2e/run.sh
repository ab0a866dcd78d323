#!/usr/bin/env bash
# Browser end-to-end test of the sign-up journey in Debian's headless chromium.
#   tests/e2e/run.sh BUILD_DIR
# Installs tests/e2e/node_modules with `npm ci` (from package-lock.json) when
# missing; never downloads a browser (playwright-core drives /usr/bin/chromium).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: tests/e2e/run.sh BUILD_DIR}
build=$(cd "$build" && pwd)
bin="$build/stayconnected"
[ -x "$bin" ] || { echo "e2e: $bin not found; build the stayconnected target first" >&2; exit 2; }
chromium=${SC_E2E_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "e2e: $chromium not found (apt-get install chromium, or scripts/install-deps.sh)" >&2; exit 2; }
command -v node >/dev/null || { echo "e2e: node not found (scripts/install-deps.sh)" >&2; exit 2; }

cd "$here"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/playwright-core/package.json ] || [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  # Playwright must not fetch browsers of its own: there is no network for that.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.lock-hash
fi
exec node signup.e2e.mjs "$bin"
