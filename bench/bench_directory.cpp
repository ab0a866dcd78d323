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
  sc::bench::seed_directory(db, on_postgres(), n);
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
