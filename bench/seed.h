// Recipients for the broadcast benchmarks: n confirmed channels of one kind,
// one subscriber each (ids 1..n; r00000001@example.org or +14150000001), in
// one set-based statement per table on a fresh migrated database, as an
// import would leave them. Through the tests' own connection
// (support/db_inspect): database clients stay inside storage and the test
// support (cmake/check_includes.py). On PostgreSQL the seed ends with a
// CHECKPOINT: its own WAL (hundreds of MB for 1,000,000) would otherwise
// have the server flush the seed's pages during the measurement.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sc/core/model.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"

namespace sc::bench {

inline void seed_confirmed(const std::string& db, bool postgres, int n, ChannelKind kind) {
  const bool email = kind == ChannelKind::kEmail;
  const auto count = std::to_string(n);
  if (postgres) {
    db_inspect::exec(
        db,
        "BEGIN; INSERT INTO subscribers (id, first_name, created_at) OVERRIDING "
        "SYSTEM VALUE SELECT i, 'Reader' || i, extract(epoch FROM now())::bigint "
        "FROM generate_series(1, " +
            count +
            ") AS i; INSERT INTO channels (subscriber_id, kind, address, state, "
            "created_at, updated_at, confirm_sent_at) SELECT id, " +
            (email ? "'email', 'r' || lpad(id::text, 8, '0') || '@example.org'"
                   : "'sms', '+1415' || lpad(id::text, 7, '0')") +
            ", 'confirmed', created_at, created_at, created_at FROM subscribers "
            "ORDER BY id; SELECT setval(pg_get_serial_sequence('subscribers', 'id'), " +
            count + "); COMMIT; ANALYZE; CHECKPOINT;");
    return;
  }
  db_inspect::exec(
      db,
      "PRAGMA synchronous=OFF; BEGIN;"
      " INSERT INTO subscribers (id, first_name, created_at)"
      " WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s"
      " WHERE i < " +
          count +
          ") SELECT i, 'Reader' || i, unixepoch() FROM s;"
          " INSERT INTO channels (subscriber_id, kind, address, state, created_at,"
          " updated_at, confirm_sent_at) SELECT id, " +
          (email ? "'email', printf('r%08d@example.org', id)" : "'sms', printf('+1415%07d', id)") +
          ", 'confirmed', created_at, created_at, created_at FROM subscribers ORDER BY id;"
          " COMMIT;");
}

// The benchmarks' PostgreSQL cluster: fsync and full_page_writes on, set up
// as docs/deployment.md recommends for a large list (not the tests' 16 MB of
// shared buffers: with them every chunk of a snapshot evicted dirty pages,
// each eviction waiting for a WAL flush; nor a checkpoint forced by each
// gigabyte of WAL), and SC_BENCH_PG_CONF's lines if set (later lines win).
// With SC_BENCH_PG_STATS set, pg_stat_statements is loaded, and
// print_pg_stats shows where the database's time went.
inline testing::PgCluster::Options pg_options() {
  testing::PgCluster::Options o{
      .durable = true,
      .extra_settings = {"shared_buffers = 1GB", "max_wal_size = 4GB", "wal_compression = lz4"}};
  if (std::getenv("SC_BENCH_PG_STATS") != nullptr)
    o.extra_settings.push_back("shared_preload_libraries = 'pg_stat_statements'");
  // More postgresql.conf lines, e.g. SC_BENCH_PG_CONF="max_wal_size = 4GB".
  if (const char* conf = std::getenv("SC_BENCH_PG_CONF")) o.extra_settings.emplace_back(conf);
  return o;
}

inline void create_pg_stats(const std::string& db) {
  if (std::getenv("SC_BENCH_PG_STATS") != nullptr)
    db_inspect::exec(db, "CREATE EXTENSION pg_stat_statements");
}

inline void print_pg_stats(const std::string& db) {
  if (std::getenv("SC_BENCH_PG_STATS") == nullptr) return;
  const auto wal = db_inspect::rows(
      db,
      "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')), checkpoints_timed, "
      "checkpoints_req FROM pg_stat_bgwriter");
  std::printf("  WAL written since the cluster began: %s; checkpoints timed %s, requested %s\n",
              wal[0][0].value_or("").c_str(), wal[0][1].value_or("").c_str(),
              wal[0][2].value_or("").c_str());
  std::printf("  top statements by total time (calls, total ms, mean ms, rows):\n");
  for (const auto& row : db_inspect::rows(
           db,
           "SELECT calls, round(total_exec_time)::bigint, round(mean_exec_time::numeric, 3), "
           "rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements "
           "ORDER BY total_exec_time DESC LIMIT 15"))
    std::printf("  %8s %8s %8s %8s  %s\n", row[0].value_or("").c_str(), row[1].value_or("").c_str(),
                row[2].value_or("").c_str(), row[3].value_or("").c_str(),
                row[4].value_or("").c_str());
}

// The operators' list's data (bench_directory, bench_export): n subscribers,
// first names of three letters ([A-Z][a-z]n from the id), an email for
// everyone (lower(name).NNNNNNN@exampleK.org), a number for a third, 95 %
// confirmed, 3 % unsubscribed, 1 % pending, 0.1 % undeliverable; half on
// "news", a fifth on "events".
inline void seed_directory(const std::string& db, bool postgres, int n) {
  const auto count = std::to_string(n);
  if (postgres) {
    db_inspect::exec(
        db,
        "BEGIN; INSERT INTO subscribers (id, first_name, created_at) OVERRIDING SYSTEM VALUE "
        "SELECT i, chr(65 + i % 26) || chr(97 + (i / 26) % 26) || 'n', 1700000000 + i "
        "FROM generate_series(1, " +
            count +
            ") AS i; "
            "INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at) "
            "SELECT id, 'email', lower(first_name) || '.' || lpad(((id * 7919) % 10000000)::text, "
            "7, '0') || '@example' || (id % 50) || '.org', CASE WHEN id % 1000 = 7 THEN "
            "'undeliverable' WHEN id % 100 < 3 THEN 'unsubscribed' WHEN id % 100 = 3 THEN "
            "'pending' ELSE 'confirmed' END, created_at, created_at FROM subscribers ORDER BY id; "
            "INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at) "
            "SELECT id, 'sms', '+1' || (200 + id % 800) || '555' || lpad(id::text, 7, '0'), "
            "'confirmed', created_at, created_at "
            "FROM subscribers WHERE id % 3 = 0 ORDER BY id; "
            "INSERT INTO subscriber_topics SELECT id, 'news' FROM subscribers WHERE id % 2 = 0; "
            "INSERT INTO subscriber_topics SELECT id, 'events' FROM subscribers WHERE id % 5 = 0; "
            "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), " +
            count + "); COMMIT; ANALYZE; CHECKPOINT;");
    return;
  }
  db_inspect::exec(
      db,
      "PRAGMA synchronous=OFF; BEGIN;"
      " INSERT INTO subscribers (id, first_name, created_at)"
      " WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " +
          count +
          ") SELECT i, char(65 + i % 26) || char(97 + (i / 26) % 26) || 'n', 1700000000 + i "
          "FROM s;"
          " INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at)"
          " SELECT id, 'email', printf('%s.%07d@example%d.org', lower(first_name), "
          "(id * 7919) % 10000000, id % 50), CASE WHEN id % 1000 = 7 THEN 'undeliverable' "
          "WHEN id % 100 < 3 THEN 'unsubscribed' WHEN id % 100 = 3 THEN 'pending' "
          "ELSE 'confirmed' END, created_at, created_at FROM subscribers ORDER BY id;"
          " INSERT INTO channels (subscriber_id, kind, address, state, created_at, updated_at)"
          " SELECT id, 'sms', printf('+1%d555%07d', 200 + id % 800, id), 'confirmed', created_at,"
          " created_at FROM subscribers WHERE id % 3 = 0 ORDER BY id;"
          " INSERT INTO subscriber_topics SELECT id, 'news' FROM subscribers WHERE id % 2 = 0;"
          " INSERT INTO subscriber_topics SELECT id, 'events' FROM subscribers WHERE id % 5 = 0;"
          " COMMIT;");
}

}  // namespace sc::bench
