#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for shell scripts (end-to-end tests,
# benchmarks, manual use), set up like the one the C++ tests start
# (tests/support/pg_cluster.h): data, log and unix socket in DIR, no TCP port,
# trust authentication, user postgres. As root the server runs as the
# unprivileged user postgres (runuser); otherwise as the current user.
#
#   scripts/pg-cluster.sh start DIR [--durable]  initdb (if DIR holds no cluster yet) and start;
#                                                prints the URL of the database postgres
#   scripts/pg-cluster.sh stop DIR               stop (fast); DIR and its data stay
#   scripts/pg-cluster.sh restart DIR            stop (fast) and start again, data kept
#   scripts/pg-cluster.sh url DIR [DBNAME]       prints the URL of DBNAME (default postgres)
#   scripts/pg-cluster.sh createdb DIR NAME      creates the database NAME; prints its URL
#
# Without --durable, fsync and full_page_writes are off (fast, for tests; a
# crash of the machine may lose the cluster). --durable keeps both on, for
# benchmarks of durable writes. synchronous_commit is on either way.
# SC_PG_BIN names the server binaries' directory (default /usr/lib/postgresql/15/bin).
#
#   dir=$(mktemp -d); url=$(scripts/pg-cluster.sh start "$dir")
#   SC_DB=$(scripts/pg-cluster.sh createdb "$dir" sc_e2e) ...
#   scripts/pg-cluster.sh stop "$dir"; rm -rf "$dir"
set -euo pipefail

bin=${SC_PG_BIN:-/usr/lib/postgresql/15/bin}
port=5432  # names the socket file only

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "pg-cluster: $*" >&2
  exit 1
}

# Runs a server binary as postgres when root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

urlencode() {
  local LC_ALL=C s=$1 out='' c h i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v h '%%%02X' "'$c"; out+=$h ;;
    esac
  done
  printf '%s' "$out"
}

url_of() {  # DIR DBNAME
  printf 'postgresql:///%s?host=%s&port=%s&user=postgres\n' "$(urlencode "$2")" "$(urlencode "$1")" "$port"
}

log_tail() {
  [ -f "$1/server.log" ] && { echo "--- $1/server.log (tail) ---"; tail -n 30 "$1/server.log"; } >&2
  return 0
}

cmd=${1:-}
[ -n "$cmd" ] && [ -n "${2:-}" ] || usage
dir=$(realpath -m -- "$2")
shift 2

case $cmd in
  start)
    durable=off
    for a in "$@"; do
      case $a in
        --durable) durable=on ;;
        *) usage ;;
      esac
    done
    [ -x "$bin/initdb" ] || die "no PostgreSQL server binaries in $bin (scripts/install-deps.sh installs postgresql)"
    [ ${#dir} -lt 90 ] || die "$dir is too long for a unix socket path; use a shorter directory"
    case $dir in *[\',]*) die "$dir: a quote or comma cannot go into unix_socket_directories" ;; esac
    mkdir -p -- "$dir"
    chmod 755 -- "$dir"  # the socket is for any local user (trust authentication)
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres: -- "$dir"
      runuser -u postgres -- test -w "$dir" -a -x "$dir" ||
        die "the user postgres cannot reach $dir (is a parent directory closed to others?)"
    fi
    cd "$dir"  # a directory the user postgres may enter
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" --auth=trust -U postgres --no-sync -E UTF8 \
        --locale=C.UTF-8 >>"$dir/ctl.log" 2>&1 || { tail -n 20 "$dir/ctl.log" >&2; die "initdb failed in $dir"; }
      printf "\n# scripts/pg-cluster.sh\ninclude_if_exists = 'sc-cluster.conf'\n" >>"$dir/data/postgresql.conf"
    fi
    # Rewritten at every start, so --durable can change between starts.
    as_pg tee "$dir/data/sc-cluster.conf" >/dev/null <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = $durable
full_page_writes = $durable
synchronous_commit = on
max_connections = 200
shared_buffers = 16MB
logging_collector = off
EOF
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >>"$dir/ctl.log" 2>&1 ||
      { log_tail "$dir"; die "pg_ctl start failed in $dir"; }
    url_of "$dir" postgres
    ;;
  stop | restart)
    [ $# -eq 0 ] || usage
    [ -f "$dir/data/PG_VERSION" ] || die "no cluster in $dir"
    cd "$dir"
    if [ "$cmd" = stop ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >>"$dir/ctl.log" 2>&1 ||
        { log_tail "$dir"; die "pg_ctl stop failed in $dir"; }
    else
      as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart \
        >>"$dir/ctl.log" 2>&1 || { log_tail "$dir"; die "pg_ctl restart failed in $dir"; }
    fi
    ;;
  url)
    [ $# -le 1 ] || usage
    url_of "$dir" "${1:-postgres}"
    ;;
  createdb)
    [ $# -eq 1 ] || usage
    [[ $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "database name must match [a-z_][a-z0-9_]*: $1"
    "$bin/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url_of "$dir" postgres)" \
      -c "CREATE DATABASE $1" >/dev/null || die "CREATE DATABASE $1 failed in $dir"
    url_of "$dir" "$1"
    ;;
  *) usage ;;
esac
