// Exporting the operators' list (issue 17 point 4): 1,000,000 subscribers
// (bench/seed.h seed_directory) with a consent-log grant for every channel
// and a confirmation for every confirmed one, exported through the running
// service (GET /api/v1/admin/subscribers/export) as CSV and as JSON lines:
// the time, the rows and bytes streamed, and the service's resident memory
// at its peak (VmHWM of /proc/<pid>/status) against the target of 100 MB.
//   bench_export [subscribers=1000000]
//   SC_BENCH_PG=1 ... on a throwaway PostgreSQL cluster (bench/seed.h settings)
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "sc/storage/storage.h"
#include "seed.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

constexpr const char* kAdminKey = "bench-admin-key-0123456789";

bool on_postgres() { return std::getenv("SC_BENCH_PG") != nullptr; }

// Kilobytes of a /proc/<pid>/status field ("VmHWM", "VmRSS").
long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return -1;
}

void seed_evidence(const std::string& db) {
  sc::db_inspect::exec(
      db,
      "INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source, "
      "ip, consent_text_version) SELECT created_at, subscriber_id, id, kind, address, 'grant', "
      "'form', '198.51.100.' || (id % 250), kind || '-v1' FROM channels ORDER BY id; "
      "INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action, source) "
      "SELECT created_at + 60, subscriber_id, id, kind, address, 'confirm', 'link' FROM channels "
      "WHERE state = 'confirmed' ORDER BY id;");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it comes, also into a file
  const int n = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  std::string db;
  std::unique_ptr<sc::testing::PgCluster> cluster;
  sc::testing::TempDir dir;
  if (on_postgres()) {
    cluster = std::make_unique<sc::testing::PgCluster>(sc::bench::pg_options());
    db = cluster->create_database("bench");
  } else {
    db = dir.str("sc.db");
  }
  sc::storage::migrate(db);
  auto t0 = Steady::now();
  sc::bench::seed_directory(db, on_postgres(), n);
  seed_evidence(db);
  std::printf("seeded %d subscribers with their consent evidence on %s in %.1f s\n", n,
              on_postgres() ? "PostgreSQL" : "SQLite",
              std::chrono::duration<double>(Steady::now() - t0).count());

  sc::testing::ServiceProcess svc(SC_BINARY, {{"SC_DB", db},
                                              {"SC_SECRET", "bench-secret-0123456789abcdef"},
                                              {"SC_ADMIN_API_KEY", kAdminKey},
                                              {"SC_ORG_NAME", "Bench Org"},
                                              {"SC_POSTAL_ADDRESS", "1 Main St"},
                                              {"SC_EMAIL_FROM", "Bench Org <news@example.org>"},
                                              {"SC_EMAIL_OUTBOX_DIR", dir.str("outbox")},
                                              {"SC_SMS_LOG_FILE", dir.str("sms.log")}});
  if (!svc.start()) {
    std::fprintf(stderr, "the service did not start:\n%s\n", svc.stderr_text().c_str());
    return 2;
  }
  std::printf("service started: VmRSS %ld kB\n", status_kb(svc.pid(), "VmRSS"));
  bool ok = true;
  for (const char* format : {"csv", "jsonl"}) {
    httplib::Client cli("127.0.0.1", svc.port());
    cli.set_read_timeout(600, 0);
    std::size_t bytes = 0, lines = 0;
    const auto t = Steady::now();
    auto r = cli.Get(std::string("/api/v1/admin/subscribers/export?format=") + format,
                     {{"Authorization", std::string("Bearer ") + kAdminKey}},
                     [&](const char* data, std::size_t len) {
                       bytes += len;
                       for (std::size_t i = 0; i < len; ++i) lines += data[i] == '\n';
                       return true;
                     });
    const double secs = std::chrono::duration<double>(Steady::now() - t).count();
    const long hwm = status_kb(svc.pid(), "VmHWM");
    const auto rows = static_cast<long>(lines) - (std::string(format) == "csv" ? 1 : 0);
    std::printf("%-5s %s: %ld rows, %.1f MB in %.1f s (%.0f rows/s); service VmHWM %.1f MB\n",
                format, r && r->status == 200 ? "200" : "FAILED", rows,
                static_cast<double>(bytes) / 1e6, secs, static_cast<double>(rows) / secs,
                static_cast<double>(hwm) / 1024.0);
    ok = ok && r && r->status == 200 && rows == n && hwm < 100 * 1024;
  }
  std::printf("%s: target is every row with the service's peak RSS < 100 MB\n",
              ok ? "PASS" : "BELOW TARGET");
  svc.stop();
  return ok ? 0 : 1;
}
