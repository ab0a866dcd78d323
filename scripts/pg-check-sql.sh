#!/usr/bin/env bash
# Checks the PostgreSQL dialect of schema/ against PostgreSQL 15 itself:
#
#   scripts/pg-check-sql.sh            (as root; a few seconds)
#
# 1. The two migration folders list the same file names.
# 2. The two query folders hold the same names, except the dialect-only ones
#    that schema/queries/postgres/*.sql list in their headers
#    ("-- postgres-only: ..." and "-- sqlite-only: ..." lines);
#    every difference is printed. Templates (copy.sql's {table}, {tables},
#    {columns}, {column}) are checked filled in with subscribers and id.
# 3. A throwaway cluster (initdb in a temp dir owned by `postgres`, unix
#    socket only, ICU en-US as the default collation so that nothing passes
#    by relying on byte order) gets migrations.create_table and then
#    schema/migrations/postgres/*.sql in order, each in its own transaction.
# 4. Every named block of schema/queries/postgres/*.sql is PREPAREd with
#    untyped parameters, as libpq sends them (utility statements, which
#    PREPARE does not take, are run inside a transaction that is rolled
#    back). Each must prepare; every result column must be bigint, integer
#    or text (never numeric or boolean); every parameter bigint, integer,
#    text or jsonb; and a statement's parameter and result column counts
#    must equal its SQLite twin's (from sqlite3's EXPLAIN, when sqlite3 is
#    installed).
# 5. The statements that matter run on sample data and their effects are
#    asserted (semantics() below), among them two concurrent
#    outbox.lease_due claims (two sessions over dblink, both inside open
#    transactions) that must get disjoint rows, and the FOR UPDATE of the
#    write-path lookups.
# The cluster is stopped and removed on exit. Exit 0 only when all pass.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
sq=$root/schema/queries
mg=$root/schema/migrations

if [[ $(id -u) -ne 0 ]]; then
  echo "pg-check-sql: run as root (the cluster runs as user postgres)" >&2
  exit 2
fi

tmp=$(mktemp -d /tmp/pg-check-sql.XXXXXX)
chmod 755 "$tmp"
chown postgres: "$tmp"
cleanup() {
  if [[ -f $tmp/data/postmaster.pid ]]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  [[ -n ${PG_CHECK_KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
fail() {
  echo "FAIL: $*" >&2
  failed=1
}

# --- the named blocks, split as src/storage/queries.cpp does ----------------
# Writes $tmp/q/<dialect>/<name>.sql, one file per block.
split_queries() {
  local dialect=$1 out=$tmp/q/$1
  mkdir -p "$out"
  for f in "$sq/$dialect"/*.sql; do
    awk -v out="$out" -v file="$f" -v area="$(basename "$f" .sql)." '
      function trim(s) { sub(/^[ \t\r\n]+/, "", s); sub(/[ \t\r\n;]+$/, "", s); return s }
      function close_block() {
        if (name == "") { if (trim(body) != "") { print file ": SQL before the first name" > "/dev/stderr"; bad = 1 } return }
        if (trim(body) == "") { print file ": " name " has no SQL" > "/dev/stderr"; bad = 1; return }
        if (seen[name]++) { print file ": " name " is named twice" > "/dev/stderr"; bad = 1; return }
        b = trim(body)
        gsub(/[{]tables?[}]/, "subscribers", b); gsub(/[{]columns?[}]/, "id", b)
        printf "%s\n", b > (out "/" name ".sql"); close(out "/" name ".sql")
      }
      {
        t = trim($0)
        if (index(t, "-- name:") == 1) {
          close_block(); name = trim(substr(t, 9)); body = ""
          if (index(name, area) != 1 || length(name) == length(area)) {
            print file ": " name " is not named " area "<verb>" > "/dev/stderr"; bad = 1
          }
        } else if (index(t, "--") != 1) body = body $0 "\n"
      }
      END { close_block(); exit bad }' "$f" || fail "$f does not parse as named queries"
  done
}

# --- 1. migration file lists ---------------------------------------------------
if ! diff <(cd "$mg/sqlite" && ls -- *.sql) <(cd "$mg/postgres" && ls -- *.sql) >"$tmp/mdiff"; then
  fail "schema/migrations/sqlite and schema/migrations/postgres differ (< sqlite, > postgres):"
  cat "$tmp/mdiff" >&2
fi

# --- 2. query names --------------------------------------------------------------
split_queries sqlite
split_queries postgres
names() { (cd "$tmp/q/$1" && ls | sed 's/\.sql$//' | sort); }
only_listed() {
  grep -h "^-- $1-only:" "$sq/postgres/"*.sql |
    sed "s/^-- $1-only://" | tr ' ' '\n' | sed '/^$/d' | sort
}
names sqlite >"$tmp/names.sqlite"
names postgres >"$tmp/names.postgres"
only_listed postgres >"$tmp/only.postgres"
only_listed sqlite >"$tmp/only.sqlite"
comm -13 "$tmp/names.sqlite" "$tmp/names.postgres" >"$tmp/found.postgres"
comm -23 "$tmp/names.sqlite" "$tmp/names.postgres" >"$tmp/found.sqlite"
for d in postgres sqlite; do
  if ! diff "$tmp/only.$d" "$tmp/found.$d" >"$tmp/ndiff"; then
    fail "names only in schema/queries/$d differ from its dialect-only list" \
      "(< listed in the headers of schema/queries/postgres/*.sql; > found):"
    cat "$tmp/ndiff" >&2
  fi
done
comm -12 "$tmp/names.sqlite" "$tmp/names.postgres" >"$tmp/names.common"

# --- 3. the cluster and the migrations ----------------------------------------------
run_pg() { runuser -u postgres -- "$@"; }
run_pg "$pgbin/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
  --locale-provider=icu --icu-locale=en-US --no-sync --no-instructions >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
run_pg "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -s \
  -o "-c listen_addresses='' -k $tmp -c fsync=off -c full_page_writes=off" start ||
  { cat "$tmp/server.log" >&2; exit 1; }
psql_() {
  run_pg "$pgbin/psql" -h "$tmp" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
}

{
  echo '\echo migrations.create_table'
  cat "$tmp/q/postgres/migrations.create_table.sql"
  echo ';'
  for f in "$mg/postgres"/*.sql; do
    echo "\\echo $(basename "$f")"
    echo 'BEGIN;'
    echo "\\i $f"
    echo 'COMMIT;'
  done
} >"$tmp/migrate.sql"
if ! psql_ -f "$tmp/migrate.sql" >"$tmp/migrate.out" 2>&1; then
  fail "a migration failed (the last name printed):"
  cat "$tmp/migrate.out" >&2
  exit 1
fi

# --- 4. every statement prepares, with the types and shape of its SQLite twin -------
# \gdesc describes a statement as libpq's PQprepare + PQdescribePrepared
# see it (untyped parameters): its result columns and their types.
shopt -s nocasematch
{
  echo '\set VERBOSITY terse'
  echo '\pset format unaligned'
  echo '\pset tuples_only on'
  echo '\pset fieldsep '"'\t'"
  echo "\\o $tmp/pg.desc"
  while read -r name; do
    body=$(<"$tmp/q/postgres/$name.sql")
    printf '\\echo %s\n\\qecho @@ %s\n%s\n\\gdesc\n' "$name" "$name" "$body"
    if [[ $body =~ ^[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES)[[:space:]] ]]; then
      printf 'PREPARE "%s" AS\n%s;\n' "$name" "$body"
    elif [[ $body =~ ^[[:space:]]*COPY[[:space:]].*FROM[[:space:]]+STDIN ]]; then
      # COPY ... FROM STDIN reads its rows from this script: none, then \.
      printf 'BEGIN;\n%s;\n\\.\nROLLBACK;\n' "$body"
    else
      # BEGIN, SAVEPOINT, SET, CREATE ...: run, then rolled back.
      printf 'BEGIN;\nSAVEPOINT job;\n%s;\nROLLBACK;\n' "$body"
    fi
  done <"$tmp/names.postgres"
  echo "\\o $tmp/pg.params"
  echo "SELECT name, cardinality(parameter_types), array_to_string(parameter_types, ',')"
  echo '  FROM pg_prepared_statements ORDER BY name;'
  echo '\o'
} >"$tmp/prepare.sql"
shopt -u nocasematch
if ! psql_ -f "$tmp/prepare.sql" >"$tmp/prepare.out" 2>&1; then
  fail "a statement does not prepare (the last name printed):"
  tail -n 5 "$tmp/prepare.out" >&2
  exit 1
fi

# pg.desc: "@@ name", then a "column<TAB>type" line per result column (or
# one line saying there are none). pg.counts: name, parameters, columns.
awk -F'\t' '
  FILENAME ~ /pg.params$/ { np[$1] = $2; pt[$1] = $3; next }
  function done() {
    if (n == "") return
    k = split(pt[n], p, ",")
    for (i = 1; i <= k; i++)
      if (p[i] !~ /^(bigint|integer|text|jsonb)$/) print "FAIL: " n ": parameter of type " p[i] > "/dev/stderr"
    print n "\t" (n in np ? np[n] : 0) "\t" c
  }
  /^@@ / { done(); n = substr($0, 4); c = 0; next }
  NF == 2 {
    c++
    if ($2 !~ /^(bigint|integer|text)$/)
      print "FAIL: " n ": result column " $1 " of type " $2 " (bigint, integer or text only)" > "/dev/stderr"
  }
  END { done() }' "$tmp/pg.params" "$tmp/pg.desc" >"$tmp/pg.counts" 2>"$tmp/pg.types"
if [[ -s $tmp/pg.types ]]; then
  cat "$tmp/pg.types" >&2
  failed=1
fi

if command -v sqlite3 >/dev/null; then
  # The SQLite twin: its schema, then EXPLAIN of each block (ResultRow's p2
  # is the result column count; the highest ?N the parameter count).
  db=$tmp/shape.sqlite
  # One connection per migration: one that edits the schema text in place
  # (0005) is read afresh by the next (the runner bumps schema_version).
  sqlite3 -bail "$db" <"$tmp/q/sqlite/migrations.create_table.sql" >/dev/null
  for f in "$mg/sqlite"/*.sql; do
    { echo 'BEGIN;'; cat "$f"; echo 'COMMIT;'; } | sqlite3 -bail "$db" >/dev/null ||
      fail "$f did not apply to a fresh SQLite file"
  done
  {
    echo '.explain off'
    while read -r name; do
      printf '.print @@ %s\nEXPLAIN %s;\n' "$name" "$(<"$tmp/q/sqlite/$name.sql")"
    done <"$tmp/names.common"
  } | sqlite3 -list "$db" >"$tmp/sqlite.explain" 2>"$tmp/sqlite.err" || true
  [[ -s $tmp/sqlite.err ]] && fail "sqlite3 EXPLAIN: $(head -n 3 "$tmp/sqlite.err")"
  # Columns: the widest ResultRow (p2); parameters: the highest ?N.
  (cd "$tmp/q/sqlite" && awk -F'|' '
    FILENAME == "-" {
      if (/^@@ /) { n = substr($0, 4); cols[n] = 0; next }
      if ($2 == "ResultRow" && $4 + 0 > cols[n]) cols[n] = $4 + 0
      next
    }
    FNR == 1 { name = FILENAME; sub(/\.sql$/, "", name); params[name] = 0 }
    { s = $0; while (match(s, /\?[0-9]+/)) { v = substr(s, RSTART + 1, RLENGTH - 1) + 0
        if (v > params[name]) params[name] = v; s = substr(s, RSTART + RLENGTH) } }
    END { for (n in cols) print n "\t" params[n] "\t" cols[n] }' - *.sql) \
    <"$tmp/sqlite.explain" | sort >"$tmp/sqlite.counts"
  awk -F'\t' 'NR == FNR { pp[$1] = $2; pc[$1] = $3; next }
    pp[$1] != $2 { print "FAIL: " $1 ": " pp[$1] " parameters, SQLite'"'"'s has " $2 }
    pc[$1] != $3 { print "FAIL: " $1 ": " pc[$1] " result columns, SQLite'"'"'s has " $3 }' \
    "$tmp/pg.counts" "$tmp/sqlite.counts" >"$tmp/count.diff"
  if [[ -s $tmp/count.diff ]]; then
    cat "$tmp/count.diff" >&2
    failed=1
  fi
else
  echo "pg-check-sql: sqlite3 not installed, parameter and column counts not compared" >&2
fi

# --- 5. semantics on sample data -------------------------------------------------------
# Every statement is prepared again in this session; the dblink sessions
# (two more connections, for the concurrent cases) prepare theirs from the
# split files (:lease, :by_address, :of_channel, :by_id).
semantics() {
  cat <<EOF
\\set VERBOSITY terse
CREATE EXTENSION dblink;
CREATE SCHEMA chk;
CREATE FUNCTION chk.ok(cond boolean, what text) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
  IF cond IS NOT TRUE THEN RAISE EXCEPTION 'check failed: %', what; END IF;
END \$\$;
-- Runs sql and returns the error message it raised ('' when none).
CREATE FUNCTION chk.error_of(sql text) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
  EXECUTE sql;
  RETURN '';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END \$\$;
\\set lease \`cat $tmp/q/postgres/outbox.lease_due.sql\`
\\set by_address \`cat $tmp/q/postgres/subscribers.channel_by_address.sql\`
\\set of_channel \`cat $tmp/q/postgres/reads.subscriber_of_channel.sql\`
\\set by_id \`cat $tmp/q/postgres/broadcasts.by_id.sql\`
\\set connstr 'host=$tmp dbname=postgres user=postgres'
\\set tmpdir '$tmp'
EOF
  cat <<'EOF'
\set ON_ERROR_STOP 1
\echo subscribers.insert, insert_channel, channel_by_address (ASCII case-insensitive)
EXECUTE "subscribers.insert"('Ada', '1000', '100') \gset s1_
EXECUTE "subscribers.insert_channel"(:'s1_id', 'email', 'Ada@Example.org', 'confirmed', '100', '100', '0') \gset c1_
SELECT chk.ok(:s1_id = 1 AND :c1_id = 1, 'first ids are 1');
EXECUTE "subscribers.channel_by_address"('email', 'ada@example.ORG') \gset a_
SELECT chk.ok(:a_id = :c1_id AND :'a_address' = 'Ada@Example.org' AND :a_state_version = 0,
              'channel_by_address finds the address in another case, as first given');
EXECUTE "reads.subscriber_of_channel"('email', 'ADA@example.org') \gset r_
SELECT chk.ok(:r_subscriber_id = :s1_id, 'reads.subscriber_of_channel ignores ASCII case');
SELECT chk.ok(chk.error_of($$EXECUTE "subscribers.insert_channel"('1', 'email', 'ADA@EXAMPLE.ORG', 'pending', '1', '1', '0')$$)
              LIKE '%channels_kind_address%', 'the same address in another case is refused');
-- NOCASE folds ASCII only: É and é are two addresses, as in SQLite.
EXECUTE "subscribers.insert_channel"(:'s1_id', 'email', 'É@example.org', 'pending', '1', '1', '0');
EXECUTE "subscribers.insert_channel"(:'s1_id', 'email', 'é@example.org', 'pending', '1', '1', '0');
SELECT chk.ok((SELECT count(*) FROM channels) = 3, 'non-ASCII case differs');
-- The same address as sms is another channel.
EXECUTE "subscribers.insert_channel"(:'s1_id', 'sms', '+15550100', 'confirmed', '100', '100', '0');
EXECUTE "subscribers.set_channel_state"('unsubscribed', '200', :'c1_id');
EXECUTE "subscribers.set_channel_state"('confirmed', '200', :'c1_id');
EXECUTE "subscribers.channel_by_id"(:'c1_id') \gset a_
SELECT chk.ok(:a_state_version = 2 AND :a_updated_at = 200, 'every state change counts');
EXECUTE "subscribers.mark_confirm_sent"('9999999999', :'c1_id');
SELECT chk.ok((SELECT confirm_sent_at FROM channels WHERE id = 1) = 9999999999, 'times past 2^31 bind as text');
EXECUTE "subscribers.by_id"(:'s1_id') \gset b_
SELECT chk.ok(:'b_first_name' = 'Ada' AND :b_created_at = 100, 'subscribers.by_id');

\echo topics
EXECUTE "topics.add"(:'s1_id', 'news');
EXECUTE "topics.add"(:'s1_id', 'news');
EXECUTE "topics.add"(:'s1_id', 'Zeta');
EXECUTE "topics.add"(:'s1_id', 'alpha');
SELECT chk.ok((SELECT string_agg(topic, ',' ORDER BY topic COLLATE "C") FROM subscriber_topics) = 'Zeta,alpha,news',
              'topics.add ignores a repeat');
EXECUTE "topics.request"(:'c1_id', 'b', '10');
EXECUTE "topics.request"(:'c1_id', 'b', '20');
EXECUTE "topics.request"(:'c1_id', 'a', '30');
SELECT chk.ok((SELECT requested_at FROM topic_requests WHERE topic = 'b') = 20, 'topics.request keeps the newest time');
EXECUTE "topics.take_requests"(:'c1_id', '25') \gset t_
SELECT chk.ok(:'t_topic' = 'b' AND (SELECT count(*) FROM topic_requests) = 1, 'topics.take_requests');

\echo consent.append and the append-only triggers
EXECUTE "consent.register_text"('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'email', 'email-v1', 'I agree', '1');
EXECUTE "consent.register_text"('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'email', 'email-v2', 'other', '2');
SELECT chk.ok((SELECT version FROM consent_texts) = 'email-v1', 'register_text keeps the first');
EXECUTE "consent.append"('500', :'s1_id', :'c1_id', 'email', 'Ada@Example.org', 'grant', 'form', '', '203.0.113.1', 'UA',
                         '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'email-v1', NULL, NULL, NULL);
EXECUTE "consent.append"('600', :'s1_id', :'c1_id', 'email', 'Ada@Example.org', 'confirm', 'link', '', '', '', NULL, NULL, NULL, NULL, NULL);
SELECT chk.ok(chk.error_of($$EXECUTE "consent.append"('1', '1', '1', 'email', 'a', 'grant', 'form', '', '', '', 'nope', NULL, NULL, NULL, NULL)$$)
              LIKE '%foreign key%', 'an unregistered consent text is refused');
SELECT chk.ok(chk.error_of('UPDATE consent_log SET detail = ''x''') = 'consent_log is append-only', 'consent_log UPDATE refused');
SELECT chk.ok(chk.error_of('DELETE FROM consent_log') = 'consent_log is append-only', 'consent_log DELETE refused');
SELECT chk.ok(chk.error_of('TRUNCATE consent_log') = 'consent_log is append-only', 'consent_log TRUNCATE refused');
SELECT chk.ok((SELECT count(*) FROM consent_log) = 2, 'the log is whole');
EXECUTE "reads.consent_log_of_subscriber"(:'s1_id') \g (format=csv tuples_only=on null=NULL) :tmpdir/log.csv
\set log_csv `cat :tmpdir/log.csv`
SELECT chk.ok(:'log_csv' = E'500,email,Ada@Example.org,grant,form,,203.0.113.1,UA,email-v1,,,\n'
                           '600,email,Ada@Example.org,confirm,link,,,,,,,',
              'the log reads back in order, NULLs as empty text: ' || :'log_csv');

\echo outbox.enqueue and outbox.lease_due, two claimers at once
EXECUTE "outbox.enqueue"('email', :'c1_id', '0', 'confirm', '{"to":"a"}', '0', '100') \gset e_
SELECT chk.ok(:e_id = 1, 'enqueue returns the id');
SELECT chk.ok((SELECT state = 'queued' AND next_attempt_at = 0 AND attempts = 0 AND lane = 0 FROM outbox WHERE id = 1), 'enqueued queued, due at once');
INSERT INTO outbox (kind, channel_id, purpose, payload, lane, next_attempt_at, created_at)
  SELECT 'email', 1, 'confirm', '{}', 0, g, 100 FROM generate_series(2, 8) g;
INSERT INTO outbox (kind, channel_id, purpose, payload, lane, next_attempt_at, created_at)
  VALUES ('sms', 1, 'confirm', '{}', 0, 0, 100), ('email', 1, 'late', '{}', 0, 10000, 100);
SELECT dblink_connect('a', :'connstr'), dblink_connect('b', :'connstr');
SELECT dblink_exec('a', 'PREPARE lease AS ' || :'lease'), dblink_exec('b', 'PREPARE lease AS ' || :'lease');
SELECT dblink_exec('a', 'BEGIN'), dblink_exec('b', 'BEGIN'), dblink_exec('b', 'SET lock_timeout = ''2s''');
CREATE TEMP TABLE got_a AS SELECT * FROM dblink('a', $$EXECUTE lease('3000000000', '0', 'email', '500', '4', '1', 'i1')$$)
  AS t(id bigint, purpose text, broadcast_id bigint, attempts bigint, payload text, channel_state text, channel_id bigint, due bigint);
CREATE TEMP TABLE got_b AS SELECT * FROM dblink('b', $$EXECUTE lease('3000000000', '0', 'email', '500', '4', '1', 'i1')$$)
  AS t(id bigint, purpose text, broadcast_id bigint, attempts bigint, payload text, channel_state text, channel_id bigint, due bigint);
SELECT chk.ok((SELECT count(*) FROM got_a) = 4 AND (SELECT count(*) FROM got_b) = 4, 'each claimer got 4 rows');
SELECT chk.ok(NOT EXISTS (SELECT 1 FROM got_a JOIN got_b USING (id)), 'two open claims took disjoint rows (SKIP LOCKED)');
SELECT chk.ok((SELECT array_agg(id ORDER BY id) FROM got_a) = '{1,2,3,4}', 'the first claim took the oldest due');
SELECT chk.ok((SELECT bool_and(attempts = 1 AND channel_state = 'confirmed' AND due >= 0) FROM got_a), 'returned columns');
SELECT dblink_exec('a', 'COMMIT'), dblink_exec('b', 'COMMIT');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending' AND lease_until = -3000000000) = 8,
              'claimed rows: sending, lease_until negative (claimed) past 2^31');
SELECT chk.ok((SELECT state FROM outbox WHERE kind = 'sms') = 'queued' AND (SELECT state FROM outbox WHERE purpose = 'late') = 'queued',
              'other kinds and rows not due stay queued');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending' AND lease_owner = 'i1') = 8, 'a claim records its owner');
EXECUTE "outbox.mark_sent"('600', 'smtp', 'm-other', '250', '1', 'i2');
SELECT chk.ok((SELECT state = 'sending' FROM outbox WHERE id = 1), 'mark_sent is fenced on the owner');
EXECUTE "outbox.mark_retry"('700', '421', 'busy', '2', 'i2');
EXECUTE "outbox.requeue"('800', NULL, '3', 'i2');
EXECUTE "outbox.skip"('800', '3', 'i2');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE id IN (2, 3) AND state = 'sending') = 2, 'mark_retry, requeue, skip are fenced');
EXECUTE "outbox.mark_sent"('600', 'smtp', 'm-1', '250', '1', 'i1');
EXECUTE "outbox.mark_sent"('600', 'smtp', 'm-1', '250', '1', 'i1');
SELECT chk.ok((SELECT state = 'sent' AND provider_message_id = 'm-1' AND lease_owner IS NULL FROM outbox WHERE id = 1), 'mark_sent');
EXECUTE "outbox.mark_retry"('700', '421', 'busy', '2', 'i1');
EXECUTE "outbox.requeue"('800', 'quiet-hours', '3', 'i1');
EXECUTE "outbox.requeue"('800', NULL, '4', 'i1');
SELECT chk.ok((SELECT attempts = 0 AND wait_reason = 'quiet-hours' FROM outbox WHERE id = 3)
              AND (SELECT wait_reason IS NULL FROM outbox WHERE id = 4), 'requeue gives the attempt back, keeps the reason');
\echo instances: a start releases its own name's leases only
EXECUTE "outbox.register_instance"('i1', 'host-a:8080', '900');
EXECUTE "outbox.register_instance"('i1', 'host-a:8080', '901');
EXECUTE "outbox.register_instance"('i2', 'host-b:8080', '900');
EXECUTE "outbox.heartbeat"('i2', '950');
SELECT chk.ok((SELECT heartbeat_at FROM instances WHERE id = 'i2') = 900,
              'heartbeat: less than a minute later, nothing written');
EXECUTE "outbox.heartbeat"('i2', '960');
SELECT chk.ok((SELECT heartbeat_at FROM instances WHERE id = 'i1') = 900 AND (SELECT heartbeat_at FROM instances WHERE id = 'i2') = 960,
              'register_instance once per id; heartbeat');
UPDATE outbox SET lease_owner = 'i2' WHERE id = 5;
EXECUTE "outbox.register_instance"('i3', 'host-a:8080', '1000');
EXECUTE "outbox.release_own_handed_over"('1000', 'host-a:8080');
EXECUTE "outbox.release_own_claimed"('host-a:8080');
EXECUTE "outbox.release_own_transactional"('host-a:8080');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending') = 1 AND (SELECT state FROM outbox WHERE id = 5) = 'sending',
              'release_own_*: the name''s earlier run''s leases, not another name''s');
EXECUTE "outbox.forget_instances"('i3', 'host-a:8080', '0');
SELECT chk.ok((SELECT array_agg(id ORDER BY id) FROM instances) = '{i2,i3}', 'forget_instances: the name''s earlier runs');
EXECUTE "outbox.forget_instances"('i3', 'host-a:8080', '961');
SELECT chk.ok((SELECT array_agg(id ORDER BY id) FROM instances) = '{i3}', 'forget_instances: the silent ones');
EXECUTE "outbox.expire_transactional"('3000000001');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending') = 0, 'expired transactional leases are queued again');
EXECUTE "reads.now_ms" \gset now_
SELECT chk.ok(abs(:now_int8 - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000, 'reads.now_ms: the server''s clock in ms');

\echo broadcasts: insert, snapshot, lease of bulk rows, handed over, cancel
EXECUTE "broadcasts.insert"('email', 'Hi', 'text', '', '["news"]', '0', '', 'ops', '100', 'd1') \gset bc_
SELECT chk.ok((SELECT idem_key IS NULL AND status = 'draft' AND updated_at = 100 FROM broadcasts), 'empty idempotency key is NULL');
EXECUTE "broadcasts.insert"('email', 'Hi', 'text', '', '[]', '0', 'k1', 'ops', '100', 'd2') \gset bk_
EXECUTE "broadcasts.by_idempotency_key"('ops', 'k1') \gset bi_
SELECT chk.ok(:bi_id = :bk_id, 'by_idempotency_key');
SELECT chk.ok(chk.error_of($$EXECUTE "broadcasts.insert"('email', 'Hi', 'text', '', '[]', '0', 'k1', 'ops', '100', 'd2')$$)
              LIKE '%broadcasts_idem_key%', 'one idempotency key per admin key');
-- More recipients: subscribers 2..5 with confirmed email channels, 2 and 4 on "news".
INSERT INTO subscribers (first_name, created_at) SELECT 'S"' || g || E'\n', 1 FROM generate_series(2, 5) g;
INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at)
  SELECT g, 'email', 's' || g || '@example.org', 'confirmed', 1, 1 FROM generate_series(2, 5) g;
INSERT INTO subscriber_topics VALUES (2, 'news'), (4, 'news');
CREATE TEMP TABLE r AS EXECUTE "broadcasts.has_audience_in_topics"('email', '["news"]');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'has_audience_in_topics');
DROP TABLE r;
CREATE TEMP TABLE r AS EXECUTE "broadcasts.has_audience_in_topics"('email', '["none", "x"]');
SELECT chk.ok((SELECT count(*) FROM r) = 0, 'no audience in other topics');
DROP TABLE r;
CREATE TEMP TABLE r AS EXECUTE "broadcasts.has_audience"('sms');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'has_audience');
DROP TABLE r;
EXECUTE "broadcasts.snapshot_end_in_topics"('email', '0', '["news"]', '2') \gset se_
SELECT chk.ok(:se_max > 0 AND :se_count = 2, 'snapshot_end_in_topics: the 2nd qualifying channel');
EXECUTE "broadcasts.snapshot_in_topics"('email', '0', '["news"]', :'se_max', :'bc_id', '900');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id) = 0, 'no chunk for a broadcast not sending');
UPDATE broadcasts SET status = 'sending' WHERE id IN (:bc_id, :bk_id);
EXECUTE "broadcasts.snapshot_in_topics"('email', '0', '["news"]', :'se_max', :'bc_id', '900');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id) = 2, 'snapshot_in_topics queued the chunk');
EXECUTE "broadcasts.snapshot_in_topics"('email', '0', '["news"]', :'se_max', :'bc_id', '900');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id) = 2, 'a repeated chunk adds nothing');
SELECT chk.ok((SELECT payload FROM outbox WHERE broadcast_id = :bc_id ORDER BY id LIMIT 1)
              = '{"to":"Ada@Example.org","first_name":"Ada"}', 'payload as SQLite''s json_object writes it');
SELECT chk.ok((SELECT payload FROM outbox WHERE broadcast_id = :bc_id ORDER BY id DESC LIMIT 1)
              = '{"to":"s2@example.org","first_name":"S\"2\n"}', 'payload escapes');
EXECUTE "broadcasts.snapshot_end"('email', '0', '100') \gset se_
SELECT chk.ok(:se_count = 5, 'snapshot_end counts confirmed channels of the kind');
EXECUTE "broadcasts.snapshot"('email', '0', :'se_max', :'bk_id', '900');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bk_id AND lane = 1) = 5, 'snapshot');
UPDATE broadcasts SET status = 'draft' WHERE id IN (:bc_id, :bk_id);
EXECUTE "broadcasts.advance_snapshot"('3', '1', '901', :'bc_id');
EXECUTE "broadcasts.advance_snapshot"('2', '1', '902', :'bc_id');
SELECT chk.ok((SELECT snapshot_cursor = 3 AND snapshot_done = 1 FROM broadcasts WHERE id = :bc_id), 'the cursor never moves back');
EXECUTE "outbox.lease_due"('5000', '1', 'email', '1000', '10', '1', 'i3');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending') = 0, 'no bulk row of a draft broadcast is claimed');
EXECUTE "broadcasts.set_status"('sending', '', '1000', :'bc_id');
EXECUTE "broadcasts.set_status"('sending', '', '1001', :'bc_id');
SELECT chk.ok((SELECT started_at = 1000 AND finished_at = 0 AND updated_at = 1001 FROM broadcasts WHERE id = :bc_id), 'set_status keeps the first start');
EXECUTE "broadcasts.active" \gset ac_
SELECT chk.ok(:ac_id = :bc_id, 'active');
EXECUTE "outbox.lease_due"('5000', '1', 'email', '1000', '10', '1', 'i3');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE state = 'sending' AND broadcast_id = :bc_id AND lease_until = -5000) = 2, 'bulk rows of a sending broadcast are claimed');
SELECT string_agg(id::text, ',') AS ids FROM outbox WHERE broadcast_id = :bc_id \gset
\set idlist '[' :ids ']'
EXECUTE "outbox.mark_handed_over"('6000', :'idlist', 'i2');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND lease_until = 6000) = 0, 'mark_handed_over is fenced');
EXECUTE "outbox.mark_handed_over"('6000', :'idlist', 'i3');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND lease_until = 6000) = 2, 'mark_handed_over');
EXECUTE "outbox.hand_back_not_sending"(:'idlist', 'i3');
EXECUTE "outbox.expire_handed_over"('7000');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND state = 'unknown' AND finished_at = 7000) = 2, 'expire_handed_over: unknown');
EXECUTE "broadcasts.requeue"('7100', :'bc_id', 'unknown');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND state = 'queued' AND attempts = 0) = 2, 'broadcasts.requeue');
EXECUTE "outbox.lease_due"('8000', '1', 'email', '8000', '10', '1', 'i3');
EXECUTE "outbox.pause_broadcast"('errors', '8001', :'bc_id');
EXECUTE "outbox.mark_handed_over"('9000', :'idlist', 'i3');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND lease_until = 9000) = 0, 'nothing of a paused broadcast is handed over');
EXECUTE "outbox.hand_back_not_sending"(:'idlist', 'i3');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND state = 'queued' AND attempts = 0 AND lease_until = 0) = 2,
              'a paused broadcast''s claimed rows go back');
EXECUTE "broadcasts.set_status"('cancelled', '', '9100', :'bc_id');
EXECUTE "broadcasts.skip_queued"('9200', :'bc_id', '1');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND state = 'skipped') = 1, 'skip_queued takes a chunk');
CREATE TEMP TABLE r AS EXECUTE "broadcasts.has_unfinished"(:'bc_id');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'has_unfinished');
DROP TABLE r;
EXECUTE "broadcasts.skip_queued"('9200', :'bc_id', '10');
SELECT chk.ok((SELECT count(*) FROM outbox WHERE broadcast_id = :bc_id AND state = 'skipped' AND finished_at = 9200) = 2
              AND (SELECT finished_at FROM broadcasts WHERE id = :bc_id) = 9100, 'cancelled');
EXECUTE "broadcasts.take_lease"(:'bc_id', 'i1', '100', '130');
EXECUTE "broadcasts.take_lease"(:'bc_id', 'i2', '101', '131');
SELECT chk.ok((SELECT owner = 'i1' AND term = 1 AND lease_until = 130 FROM broadcast_leases WHERE broadcast_id = :bc_id),
              'take_lease: taken when free, not by another while held');
EXECUTE "broadcasts.take_lease"(:'bc_id', 'i1', '120', '150');
EXECUTE "broadcasts.lease_holder"(:'bc_id') \gset lh_
SELECT chk.ok(:'lh_owner' = 'i1' AND :lh_lease_until = 150, 'take_lease renews the holder''s; lease_holder');
EXECUTE "broadcasts.take_lease"(:'bc_id', 'i2', '151', '181');
SELECT chk.ok((SELECT owner = 'i2' AND term = 2 FROM broadcast_leases WHERE broadcast_id = :bc_id),
              'take_lease: a lapsed lease is taken over under the next term');
EXECUTE "outbox.register_instance"('i2', 'host-b:8080', '151');
EXECUTE "outbox.release_own_broadcasts"('host-b:8080');
SELECT chk.ok((SELECT lease_until = 0 AND term = 2 FROM broadcast_leases WHERE broadcast_id = :bc_id),
              'release_own_broadcasts lets the name''s leases run out');
EXECUTE "reads.broadcast_states"(:'bc_id') \gset st_
SELECT chk.ok(:'st_state' = 'skipped' AND :st_count = 2, 'reads.broadcast_states');
EXECUTE "reads.recipients"(:'bk_id', '0', '0', '2') \g (format=csv tuples_only=on) :tmpdir/rows.csv
\set n `wc -l < :tmpdir/rows.csv`
SELECT chk.ok(:n = 2, 'reads.recipients: a page');
EXECUTE "reads.broadcast_waiting"(:'bk_id', '0') \gset w_
SELECT chk.ok(:w_count = 0 AND :w_coalesce = 0, 'reads.broadcast_waiting of none');
EXECUTE "reads.outbox_depth";
EXECUTE "reads.broadcasts_in_progress"('0', '10');

\echo the write-path lookups lock, the reads do not
SELECT dblink_exec('a', 'PREPARE by_address AS ' || :'by_address'), dblink_exec('a', 'PREPARE by_id AS ' || :'by_id'),
       dblink_exec('b', 'PREPARE by_address AS ' || :'by_address'), dblink_exec('b', 'PREPARE by_id AS ' || :'by_id'),
       dblink_exec('b', 'PREPARE of_channel AS ' || :'of_channel');
SELECT dblink_exec('a', 'BEGIN'), dblink_exec('b', 'BEGIN'), dblink_exec('b', 'SET lock_timeout = ''200ms''');
SELECT * FROM dblink('a', $$EXECUTE by_address('email', 'ADA@example.org')$$) AS t(id bigint, s bigint, k text, a text, st text, c bigint, u bigint, cs bigint, v bigint);
SELECT * FROM dblink('a', $$EXECUTE by_id('1')$$) AS t(a bigint, b text, c text, d text, e text, f text, g text, h bigint, i text, j text, k bigint, l bigint, m bigint, n bigint, o text, p bigint, q bigint, r text);
SELECT chk.ok((SELECT count(*) FROM dblink('b', $$EXECUTE of_channel('email', 'ada@example.org')$$) AS t(s bigint)) = 1,
              'reads.subscriber_of_channel does not wait for a locked channel');
SELECT chk.ok(chk.error_of($$SELECT * FROM dblink('b', 'EXECUTE by_address(''email'', ''ada@EXAMPLE.org'')') AS t(id bigint, s bigint, k text, a text, st text, c bigint, u bigint, cs bigint, v bigint)$$)
              LIKE '%lock timeout%', 'channel_by_address waits for another transaction''s lock (FOR UPDATE)');
SELECT dblink_exec('b', 'ROLLBACK'), dblink_exec('b', 'BEGIN'), dblink_exec('b', 'SET lock_timeout = ''200ms''');
SELECT chk.ok(chk.error_of($$SELECT * FROM dblink('b', 'EXECUTE by_id(''1'')') AS t(a bigint)$$)
              LIKE '%lock timeout%', 'broadcasts.by_id waits for another transaction''s lock (FOR UPDATE)');
SELECT dblink_exec('a', 'ROLLBACK'), dblink_exec('b', 'ROLLBACK');
SELECT dblink_disconnect('a'), dblink_disconnect('b');

\echo inbound, deliveries, sms limits
CREATE TEMP TABLE r AS EXECUTE "inbound.seen"('SM1');
SELECT chk.ok((SELECT count(*) FROM r) = 0, 'inbound.seen before');
DROP TABLE r;
EXECUTE "inbound.insert"('SM1', '+15550100', 'hello', 'none', '', 'recorded', '1000') \gset in_
CREATE TEMP TABLE r AS EXECUTE "inbound.seen"('SM1');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'inbound.seen after insert');
DROP TABLE r;
SELECT chk.ok(chk.error_of($$EXECUTE "inbound.insert"('SM1', '+1', '', 'none', '', '', '1')$$) LIKE '%message_sid%', 'a MessageSid once');
EXECUTE "inbound.mark_reviewed"('1100', 'ops', 'opt_out', :'in_id');
EXECUTE "inbound.by_id"(:'in_id') \g (format=csv tuples_only=on null=NULL) :tmpdir/row.csv
\set row `cat :tmpdir/row.csv`
SELECT chk.ok(:'row' = '1,SM1,+15550100,hello,none,,recorded,1000,1100,ops,opt_out', 'inbound.by_id: ' || :'row');
EXECUTE "reads.inbound_for_review"('9223372036854775807', '10') \g (format=csv tuples_only=on) :tmpdir/rows.csv
\set n `wc -l < :tmpdir/rows.csv`
SELECT chk.ok(:n = 1, 'reads.inbound_for_review');
EXECUTE "deliveries.sent_message"('m-1', 'smtp') \gset d_
SELECT chk.ok(:d_id = 1 AND :'d_coalesce' = '', 'deliveries.sent_message');
EXECUTE "deliveries.set"('delivered', NULL, '1200', :'d_id');
EXECUTE "deliveries.email_by_provider_id"('m-1') \gset d_
SELECT chk.ok(:'d_delivery_state' = 'delivered' AND :d_delivery_at = 1200, 'deliveries.set');
EXECUTE "deliveries.first_event"('sendgrid', 'ev1', '1000');
EXECUTE "deliveries.forget_events"('500');
EXECUTE "sms_confirms.record"('1000', '203.0.113.1', '+15550100', '+1555');
EXECUTE "sms_confirms.record"('1001', '203.0.113.1', '+15550101', '+1555');
EXECUTE "sms_confirms.count_prefix"('+1555', '999') \gset sc_
SELECT chk.ok(:sc_count = 2, 'sms_confirms.count_prefix');
EXECUTE "sms_confirms.forget"('1001');
EXECUTE "sms_confirms.count_all"('0') \gset sc_
SELECT chk.ok(:sc_count = 1, 'sms_confirms.forget');

\echo admin keys and the audit log
EXECUTE "admin.insert_key"('ops', 'admin', repeat('a', 64), 'sc_aaaa', '100');
SELECT chk.ok(chk.error_of($$EXECUTE "admin.insert_key"('ops2', 'admin', 'short', 'sc_', '100')$$) LIKE '%admin_keys_key_sha256_check%', 'key_sha256 is 64 long');
CREATE TEMP TABLE r AS EXECUTE "admin.key_name_taken"('ops');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'admin.key_name_taken');
DROP TABLE r;
EXECUTE "admin.key_by_hash"(repeat('a', 64)) \gset k_
SELECT chk.ok(:'k_name' = 'ops' AND NOT :{?k_revoked_at}, 'key_by_hash, revoked_at NULL');
EXECUTE "admin.revoke_key"('200', 'ops');
EXECUTE "admin.key_revoked_at"('ops') \gset k_
SELECT chk.ok(:k_revoked_at = 200, 'revoke_key');
SELECT chk.ok(chk.error_of($$EXECUTE "admin.revoke_key"('300', 'ops')$$) = 'an admin key can only be revoked', 'a revoked key stays revoked');
SELECT chk.ok(chk.error_of('UPDATE admin_keys SET scope = ''read''') = 'an admin key can only be revoked', 'nothing else changes');
SELECT chk.ok(chk.error_of('DELETE FROM admin_keys') = 'admin keys are revoked, never deleted', 'admin keys are never deleted');
EXECUTE "admin.append_audit"('100', 'ops', 'subscriber.lookup', 'a@example.org', '::1', '');
EXECUTE "admin.append_audit"('101', 'ops', 'broadcast.create', '', '', '');
SELECT chk.ok(chk.error_of('UPDATE audit_log SET at = 1') = 'audit_log is append-only', 'audit_log UPDATE refused');
SELECT chk.ok(chk.error_of('DELETE FROM audit_log') = 'audit_log is append-only', 'audit_log DELETE refused');
SELECT chk.ok(chk.error_of('TRUNCATE audit_log') = 'audit_log is append-only', 'audit_log TRUNCATE refused');
EXECUTE "admin.audit_page"('9223372036854775807', '1') \gset ap_
SELECT chk.ok(:ap_id = 2 AND :'ap_action' = 'broadcast.create', 'audit_page: newest first');

\echo migrations bookkeeping and the advisory lock
EXECUTE "migrations.lock";
EXECUTE "migrations.record"('1', 'init', '100');
CREATE TEMP TABLE r AS EXECUTE "migrations.applied"('1');
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'migrations.applied');
DROP TABLE r;
SELECT chk.ok((SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted) = 1, 'migrations.lock holds an advisory lock');
EXECUTE "migrations.unlock" \gset mu_
SELECT chk.ok(:mu_pg_advisory_unlock = 1 AND (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') = 0, 'migrations.unlock');
CREATE TEMP TABLE r AS EXECUTE "reads.healthy";
SELECT chk.ok((SELECT count(*) FROM r) = 1, 'reads.healthy');
DROP TABLE r;
\echo all semantic checks passed
EOF
}
{
  cat "$tmp/prepare.sql"
  semantics
} >"$tmp/semantics.sql"
if ! psql_ -f "$tmp/semantics.sql" >"$tmp/semantics.out" 2>&1; then
  fail "semantic checks:"
  grep -v '^\(BEGIN\|ROLLBACK\|SAVEPOINT\)$' "$tmp/semantics.out" | tail -n 4 >&2
fi

if [[ $failed -ne 0 ]]; then
  echo "pg-check-sql: FAILED" >&2
  exit 1
fi
echo "pg-check-sql: ok ($(wc -l <"$tmp/names.postgres") statements, $(ls "$mg/postgres" | wc -l) migrations)"
