// Searching the operators' list (issue 17 point 1): 1,000,000 subscribers
// on a fresh migrated database, then each kind of search and filter many
// times with varied values through the read pool (what GET
// /api/v1/admin/subscribers runs: the driving statement, then each row's
// channels and topics), latency p50 / p99 / max per kind.
//   bench_directory [subscribers=1000000] [queries_per_kind=300]
//   SC_BENCH_PG=1 ... on a throwaway PostgreSQL cluster (bench/seed.h settings)
// The data: first names of three letters (676 of them, about 1,480 people
// each), an email for everyone (name.NNNNNNN@exampleK.org), a number for a
// third (+1 NPA 555 and the id in 7 digits), 95 % confirmed, 3 % unsubscribed, 1 % pending,
// 0.1 % undeliverable; half on "news", a fifth on "events".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sc/core/subscriber_list.h"
#include "sc/core/text.h"
#include "sc/storage/storage.h"
#include "seed.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

bool on_postgres() { return std::getenv("SC_BENCH_PG") != nullptr; }

// name: [A-Z][a-z]n from the id; email: lower(name).NNNNNNN@exampleK.org.
void seed(const std::string& db, int n) {
  const auto count = std::to_string(n);
  if (on_postgres()) {
    sc::db_inspect::exec(
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
  sc::db_inspect::exec(
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

std::string name_of(std::int64_t i) {
  return std::string{static_cast<char>('A' + i % 26), static_cast<char>('a' + (i / 26) % 26), 'n'};
}

struct Kind {
  const char* what;
  std::function<sc::SubscriberQuery(std::mt19937_64&, int n)> make;
};

sc::SubscriberQuery searching(const std::string& q) {
  sc::SubscriberQuery out;
  out.search = sc::interpret_search(q).value();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  const int per_kind = argc > 2 ? std::atoi(argv[2]) : 300;
  std::string db;
  std::unique_ptr<sc::testing::PgCluster> cluster;
  fs::path dir;
  if (on_postgres()) {
    cluster = std::make_unique<sc::testing::PgCluster>(sc::bench::pg_options());
    db = cluster->create_database("bench");
  } else {
    dir = fs::temp_directory_path() / ("sc-bench-directory-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    db = (dir / "sc.db").string();
  }
  sc::storage::migrate(db);
  const auto t0 = Steady::now();
  seed(db, n);
  std::printf("seeded %d subscribers on %s in %.1f s\n", n, on_postgres() ? "PostgreSQL" : "SQLite",
              std::chrono::duration<double>(Steady::now() - t0).count());
  sc::storage::ReadPool reads(db, 1);

  auto id = [](std::mt19937_64& r, int max) {
    return static_cast<std::int64_t>(r() % static_cast<std::uint64_t>(max)) + 1;
  };
  const std::vector<Kind> kinds = {
      {"no filter, first page", [](auto&, int) { return sc::SubscriberQuery{}; }},
      {"no filter, a page deep in the list",
       [&](auto& r, int max) {
         sc::SubscriberQuery q;
         q.before_id = id(r, max);
         return q;
       }},
      {"q = a whole first name (name or email start)",
       [&](auto& r, int max) { return searching(name_of(id(r, max))); }},
      {"q = two letters of a name (name or email start)",
       [&](auto& r, int max) { return searching(name_of(id(r, max)).substr(0, 2)); }},
      {"q = an address up to its @ (email start)",
       [&](auto& r, int max) {
         const auto i = id(r, max);
         char buf[64];
         std::snprintf(buf, sizeof buf, "%s.%07lld@", name_of(i).c_str(),
                       static_cast<long long>((i * 7919) % 10000000));
         return searching(sc::text::to_lower_ascii(buf));
       }},
      {"q = a number's first 7 digits",
       [&](auto& r, int) { return searching("+1" + std::to_string(200 + r() % 800) + "5550"); }},
      {"state = undeliverable (0.1 %)",
       [](auto&, int) {
         sc::SubscriberQuery q;
         q.state = sc::ConsentState::kUndeliverable;
         return q;
       }},
      {"channel = sms, state = confirmed",
       [](auto&, int) {
         sc::SubscriberQuery q;
         q.channel = sc::ChannelKind::kSms;
         q.state = sc::ConsentState::kConfirmed;
         return q;
       }},
      {"topic = events, a page deep",
       [&](auto& r, int max) {
         sc::SubscriberQuery q;
         q.topic = "events";
         q.before_id = id(r, max);
         return q;
       }},
      {"q = two letters and topic = events",
       [&](auto& r, int max) {
         auto q = searching(name_of(id(r, max)).substr(0, 2));
         q.topic = "events";
         return q;
       }},
  };
  std::mt19937_64 rng(17);
  std::printf("%-48s %8s %8s %8s %8s\n", "search (page of 51 rows)", "p50 ms", "p99 ms", "max ms",
              "rows");
  bool ok = true;
  for (const auto& k : kinds) {
    std::vector<double> ms;
    std::size_t rows = 0;
    for (int i = 0; i < per_kind; ++i) {
      auto q = k.make(rng, n);
      q.limit = 51;
      const auto s = Steady::now();
      rows += reads.subscribers(q).size();
      ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - s).count());
    }
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double p) {
      return ms[std::min(ms.size() - 1,
                         static_cast<std::size_t>(p * static_cast<double>(ms.size())))];
    };
    std::printf("%-48s %8.2f %8.2f %8.2f %8.1f\n", k.what, at(0.5), at(0.99), ms.back(),
                static_cast<double>(rows) / per_kind);
    ok = ok && at(0.99) < 100;
  }
  std::printf("%s: target is p99 < 100 ms for every kind\n", ok ? "PASS" : "BELOW TARGET");
  if (!dir.empty()) fs::remove_all(dir);
  return ok ? 0 : 1;
}
