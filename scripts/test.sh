#!/usr/bin/env bash
# The one test command: installs what is missing, builds, and runs every test.
#
#   scripts/test.sh [--release] [--no-e2e] [--no-tsan] [--no-deps]
#
# Stages (each timed; the first failure stops the run with a non-zero exit):
#   deps     scripts/install-deps.sh (apt-get, only what is missing)
#   format   clang-format --dry-run --Werror over every C++ file in git
#   build    ASan+UBSan Debug build with -Werror in $SC_ASAN_BUILD_DIR (default build-asan)
#   ctest    unit + integration tests (module boundaries, promtool included), ctest -j2
#   install  cmake --install into a temporary root: binary, systemd unit, env sample, nginx site
#   prism    tests/prism/run_prism_tests.sh: SendGrid and Twilio requests against Prism
#   e2e      tests/e2e/run.sh: the sign-up journey in headless chromium
#   tsan     ThreadSanitizer build of the unit tests in $SC_TSAN_BUILD_DIR (default
#            build-tsan): the writer, dispatcher, HTTP pool and HTTP client threads
#   release  (--release) a RelWithDebInfo build in $SC_BUILD_DIR (default build-ci), ctest again
#
# Every test runs on the sanitizer build: it sees more than an optimised one,
# and one full build fewer keeps CI well inside its time limit.
# ccache is shared across build dirs of one checkout (CCACHE_NOHASHDIR).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

run_deps=1 run_e2e=1 run_release=0 run_tsan=1
for arg in "$@"; do
  case "$arg" in
    --no-deps) run_deps=0 ;;
    --no-e2e) run_e2e=0 ;;
    --release) run_release=1 ;;
    --no-tsan) run_tsan=0 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

build_dir=${SC_BUILD_DIR:-build-ci}
asan_dir=${SC_ASAN_BUILD_DIR:-build-asan}
tsan_dir=${SC_TSAN_BUILD_DIR:-build-tsan}
jobs=${SC_JOBS:-2}

# Not CCACHE_BASEDIR: it makes __FILE__ relative, and tests locate their data by it.
export CCACHE_NOHASHDIR=1
export CTEST_OUTPUT_ON_FAILURE=1
# Tests that validate with external tools fail, not skip, when the tool is missing.
export SC_REQUIRE_PROMTOOL=1

timings=()
current=""
started=$SECONDS
summary() {
  local rc=$?
  echo
  echo "== timings =="
  for t in "${timings[@]}"; do echo "  $t"; done
  if [ $rc -ne 0 ] && [ -n "$current" ]; then
    echo "  $current: FAILED after $((SECONDS - stage_start)) s"
    echo "test.sh: FAILED in stage '$current' (exit $rc)"
  fi
  echo "  total: $((SECONDS - started)) s"
  if [ $rc -eq 0 ]; then echo "test.sh: all stages passed"; fi
}
trap summary EXIT

stage() {
  local name=$1
  shift
  current=$name
  stage_start=$SECONDS
  echo
  echo "== $name: $* =="
  "$@"
  timings+=("$name: $((SECONDS - stage_start)) s")
  current=""
}

configure_and_build() {
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja -DSC_WERROR=ON "$@"
  ninja -C "$dir" -j "$jobs" ${SC_TARGETS:-}
}

check_install() {
  local dest
  dest=$(mktemp -d)
  DESTDIR="$dest" cmake --install "$build_dir" --prefix /usr
  local f
  for f in usr/bin/stayconnected usr/lib/systemd/system/stayconnected.service usr/share/doc/stayconnected/stayconnected.env \
    usr/share/doc/stayconnected/nginx/stayconnected.conf usr/share/doc/stayconnected/README.md \
    usr/share/doc/stayconnected/docs/operator-guide.md; do
    [ -e "$dest/$f" ] || { echo "install: $f missing" >&2; rm -rf "$dest"; return 1; }
  done
  "$dest/usr/bin/stayconnected" --version
  rm -rf "$dest"
}

if [ $run_deps = 1 ]; then
  stage deps "$root/scripts/install-deps.sh"
fi
if command -v ccache >/dev/null; then ccache -z >/dev/null; fi

check_format() {
  git -C "$root" ls-files -z '*.cpp' '*.h' | (cd "$root" && xargs -0 clang-format --dry-run --Werror)
}
stage format check_format

# Debug: the sanitizers see more at -O0, and it compiles fastest on 2 cores.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
stage build configure_and_build "$asan_dir" -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON
stage ctest ctest --test-dir "$asan_dir" --output-on-failure -j "$jobs"
build_dir=$asan_dir  # what install, prism and e2e use
stage install check_install

if [ -x "$root/tests/prism/run_prism_tests.sh" ] || [ -f "$root/tests/prism/run_prism_tests.sh" ]; then
  stage prism bash "$root/tests/prism/run_prism_tests.sh" "$asan_dir"
else
  echo; echo "== prism: tests/prism/run_prism_tests.sh not present, skipped =="
fi

if [ $run_e2e = 1 ]; then
  stage e2e bash "$root/tests/e2e/run.sh" "$asan_dir"
fi

if [ $run_tsan = 1 ]; then
  # The unit tests of the threaded modules: the single writer, the dispatcher
  # and its provider clients, the HTTP pool, and the storage contract (the
  # dispatcher's thread over each backend). (The integration tests spawn the
  # binary; its threads are the same code, already covered here.)
  SC_TARGETS="test_storage test_dispatch test_http test_providers test_contract" \
    stage tsan-build configure_and_build "$tsan_dir" -DCMAKE_BUILD_TYPE=Debug -DSC_TSAN=ON
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp"
  # Every test of the binaries built above (the others register as *_NOT_BUILT).
  stage tsan-ctest ctest --test-dir "$tsan_dir" --output-on-failure -j "$jobs" -L unit -E '_NOT_BUILT$'
fi

if [ $run_release = 1 ]; then
  release_dir=${SC_BUILD_DIR:-build-ci}
  stage release-build configure_and_build "$release_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSC_SANITIZE=OFF
  stage release-ctest ctest --test-dir "$release_dir" --output-on-failure -j "$jobs"
fi

if command -v ccache >/dev/null; then
  echo; echo "== ccache =="; ccache -s | grep -E 'Hits|Misses|Cache size' || true
fi
