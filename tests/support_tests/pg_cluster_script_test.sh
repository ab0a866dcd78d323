#!/usr/bin/env bash
# scripts/pg-cluster.sh against the real PostgreSQL 15: start, createdb, url,
# restart, stop, start --durable, and its failures.
#   bash pg_cluster_script_test.sh SCRIPT   (SCRIPT: scripts/pg-cluster.sh)
set -euo pipefail
script=$1
bin=${SC_PG_BIN:-/usr/lib/postgresql/15/bin}
psql=("$bin/psql" -X -q -At -v ON_ERROR_STOP=1)
dir=$(mktemp -d "${TMPDIR:-/tmp}/sc-pgsh-XXXXXX")
cleanup() {
  "$script" stop "$dir" >/dev/null 2>&1 || true
  rm -rf -- "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
expect_eq() {  # what got want
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

url=$("$script" start "$dir")
enc_dir=$(printf '%s' "$dir" | sed 's|/|%2F|g')
expect_eq "start prints the URL of postgres" "$url" \
  "postgresql:///postgres?host=$enc_dir&port=5432&user=postgres"
[ -S "$dir/.s.PGSQL.5432" ] || fail "no socket in $dir"
expect_eq "database" "$("${psql[@]}" -d "$url" -c 'SELECT current_database()')" postgres
expect_eq "no TCP listener" "$("${psql[@]}" -d "$url" -c 'SHOW listen_addresses')" ""
expect_eq "fsync off by default" "$("${psql[@]}" -d "$url" -c 'SHOW fsync')" off
expect_eq "synchronous_commit" "$("${psql[@]}" -d "$url" -c 'SHOW synchronous_commit')" on
pid=$(head -n 1 "$dir/data/postmaster.pid")
if [ "$(id -u)" -eq 0 ]; then
  expect_eq "the server's user" "$(ps -o user= -p "$pid")" postgres
fi

db_url=$("$script" createdb "$dir" sc_script_test)
expect_eq "createdb prints the URL" "$db_url" "$("$script" url "$dir" sc_script_test)"
expect_eq "new database" "$("${psql[@]}" -d "$db_url" -c 'SELECT current_database()')" sc_script_test
if "$script" createdb "$dir" 'bad name' 2>/dev/null; then fail "createdb took a bad name"; fi
if "$script" createdb "$dir" sc_script_test 2>/dev/null; then fail "createdb made a database twice"; fi
"${psql[@]}" -d "$db_url" -c 'CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)'

"$script" restart "$dir"
new_pid=$(head -n 1 "$dir/data/postmaster.pid")
[ "$new_pid" != "$pid" ] || fail "restart kept the postmaster $pid"
expect_eq "data after restart" "$("${psql[@]}" -d "$db_url" -c 'SELECT x FROM kept')" 7

"$script" stop "$dir"
[ ! -e "$dir/data/postmaster.pid" ] || fail "postmaster.pid left after stop"
if "${psql[@]}" -d "$db_url" -c 'SELECT 1' 2>/dev/null; then fail "connected to a stopped cluster"; fi

"$script" start "$dir" --durable >/dev/null
expect_eq "fsync with --durable" "$("${psql[@]}" -d "$db_url" -c 'SHOW fsync')" on
expect_eq "full_page_writes with --durable" "$("${psql[@]}" -d "$db_url" -c 'SHOW full_page_writes')" on
expect_eq "data after stop and start" "$("${psql[@]}" -d "$db_url" -c 'SELECT x FROM kept')" 7
"$script" stop "$dir"

# Failures: a clear line and a non-zero exit.
if out=$(SC_PG_BIN=/nonexistent "$script" start "$dir/other" 2>&1); then fail "started without binaries"; fi
[[ $out == *"no PostgreSQL server binaries in /nonexistent"* ]] || fail "message: $out"
if "$script" frobnicate "$dir" 2>/dev/null; then fail "took an unknown command"; fi
echo "pg-cluster.sh: ok"
