#!/usr/bin/env bash
# Runs the unit and integration tests N times in a row and stops at the first
# failure: the check that the suite does not flake.
#
#   scripts/soak.sh N [BUILD_DIR]     (BUILD_DIR defaults to build; e.g. build-asan)
#
# Each run is `ctest -j2 --test-dir BUILD_DIR`; its time is printed, and at the
# end "N/N green" (or how many passed before the failure). Build first.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/soak.sh N [BUILD_DIR]" >&2
  exit 2
fi
n=$1
dir=${2:-build}
if [ ! -f "$dir/CTestTestfile.cmake" ]; then
  echo "soak.sh: $dir is not a configured build directory" >&2
  exit 2
fi
export CTEST_OUTPUT_ON_FAILURE=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
green=0
for i in $(seq 1 "$n"); do
  start=$SECONDS
  if ctest -j2 --test-dir "$dir" >"$log" 2>&1; then
    green=$((green + 1))
    echo "run $i/$n: green in $((SECONDS - start)) s ($(grep -Eo '[0-9]+ tests passed[^,]*|[0-9]+% tests passed[^\n]*' "$log" | head -1))"
  else
    echo "run $i/$n: FAILED after $((SECONDS - start)) s"
    grep -E 'tests failed|\(Failed\)|\(Timeout\)|\(Subprocess' "$log" || tail -40 "$log"
    echo "soak.sh: output of the failed run kept in soak-failed.log"
    cp "$log" soak-failed.log
    echo "$green/$n green"
    exit 1
  fi
done
echo "$green/$n green"
