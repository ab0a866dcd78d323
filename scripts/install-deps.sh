#!/usr/bin/env bash
# Installs, from Debian 12's packages, everything needed to build, run and test
# stayconnected. Idempotent: it installs only what is missing, and runs
# `apt-get update` only then. Uses sudo when not root.
#
#   scripts/install-deps.sh           install what is missing
#   scripts/install-deps.sh --check   list what is missing; exit 1 if anything is
#
# SC_SKIP_INSTALL_DEPS=1 makes it a no-op (for machines set up by other means).
set -euo pipefail

if [ "${SC_SKIP_INSTALL_DEPS:-0}" = 1 ]; then
  echo "install-deps: skipped (SC_SKIP_INSTALL_DEPS=1)"
  exit 0
fi

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  # libraries (headers and the shared libraries they pull in)
  libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev libkainjow-mustache-dev libphonenumber-dev
  # ICU: time zones for quiet hours (core); test_core checks the name-character table
  libicu-dev
  # PostgreSQL, the second storage backend: libpq (libpq-dev), PostgreSQL's own C
  # client, not libpqxx: storage has its own typed executor, and libpq gives
  # connect_timeout, pipeline mode and SQLSTATE codes directly. The server
  # (postgresql, 15 on Debian 12) runs the tests' throwaway clusters
  # (tests/support/pg_cluster.h, scripts/pg-cluster.sh).
  libpq-dev postgresql
  # unit and integration tests; the fake SMTP server
  libgtest-dev libgmock-dev googletest python3 python3-aiosmtpd
  # the integration test that runs the service behind a real reverse proxy
  nginx
  # promtool validates /metrics; clang-format checks the formatting
  prometheus clang-format
  # benchmarks, manual checks
  wrk curl sqlite3 openssl ca-certificates
  # browser end-to-end test (playwright-core drives Debian's chromium; never its own)
  chromium chromium-driver fonts-dejavu-core
)

# Node.js and npm may come from outside Debian's archive (e.g. a NodeSource
# nodejs that bundles npm, or /usr/local). Installing Debian's npm next to
# such a nodejs would replace it, so ask apt only for a command that is absent.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ "${status:0:2}" = ii ] || missing+=("$p")
done

if [ "${1:-}" = --check ]; then
  if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: nothing missing"; exit 0; fi
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Check again: a package that apt could not install must fail here, not later.
still=()
for p in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ "${status:0:2}" = ii ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
  echo "install-deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
command -v node >/dev/null && command -v npm >/dev/null || { echo "install-deps: node or npm still not on PATH" >&2; exit 1; }
echo "install-deps: done"
