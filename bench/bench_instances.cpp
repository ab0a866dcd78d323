// Broadcast rate through whole instances on one PostgreSQL database
// (issue 16): a throwaway cluster with fsync and full_page_writes on, a
// fresh migrated database seeded with confirmed email channels
// (bench/seed.h), one or more real `stayconnected serve` processes on it
// (SendGrid pointed at a loopback sink that answers at once, no rate limit),
// and the admin API: create, send, then GET until `completed` (once the
// sink has every message).
//   bench_instances send [instances=2] [recipients=100000] [writers=1]
//     from the send's answer to `completed`, messages/s; the sink's count
//     and the ledger's counts afterwards. writers: SC_DB_WRITE_CONNECTIONS.
// Every process (the instances, PostgreSQL, this driver and its sink) shares
// the machine's cores.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sc/storage/storage.h"
#include "seed.h"
#include "sink.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"
#include "support/service_process.h"
#include "support/temp_dir.h"

namespace {

using json = nlohmann::json;
using Steady = std::chrono::steady_clock;
constexpr const char* kAdminKey = "bench-admin-key-0123456789";

double secs_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

int arg(int argc, char** argv, int i, int fallback) {
  return argc > i ? std::atoi(argv[i]) : fallback;
}

int send(int instances, int recipients, int writers) {
  sc::testing::PgCluster cluster(sc::bench::pg_options());
  const auto db = cluster.create_database("bench");
  sc::bench::create_pg_stats(db);
  sc::storage::migrate(db);
  auto t = Steady::now();
  sc::bench::seed_confirmed(db, true, recipients, sc::ChannelKind::kEmail);
  std::printf("seeded %d confirmed email channels in %.1f s\n", recipients, secs_since(t));

  sc::bench::Sink sink(0, 256);
  sc::testing::TempDir dir;
  std::vector<std::unique_ptr<sc::testing::ServiceProcess>> services;
  for (int i = 0; i < instances; ++i) {
    const auto name = "bench-" + std::to_string(i);
    std::map<std::string, std::string> env{{"SC_DB", db},
                                           {"SC_DB_WRITE_CONNECTIONS", std::to_string(writers)},
                                           {"SC_SECRET", "bench-secret-0123456789abcdef"},
                                           {"SC_INSTANCE_NAME", name},
                                           {"SC_ADMIN_API_KEY", kAdminKey},
                                           {"SC_ORG_NAME", "Bench Org"},
                                           {"SC_POSTAL_ADDRESS", "1 Main St"},
                                           {"SC_EMAIL_FROM", "Bench Org <news@example.org>"},
                                           {"SC_EMAIL_PROVIDER", "sendgrid"},
                                           {"SC_SENDGRID_API_KEY", sc::bench::Sink::api_key()},
                                           {"SC_SENDGRID_API_BASE", sink.base_url()},
                                           {"SC_EMAIL_OUTBOX_DIR", dir.str(name + "/outbox")},
                                           {"SC_SMS_LOG_FILE", dir.str(name + "/sms.log")}};
    services.push_back(std::make_unique<sc::testing::ServiceProcess>(SC_BINARY, std::move(env)));
    if (!services.back()->start()) {
      std::fprintf(stderr, "instance %d did not start:\n%s\n", i,
                   services.back()->stderr_text().c_str());
      return 2;
    }
  }

  httplib::Client api("127.0.0.1", services.front()->port());
  api.set_read_timeout(30, 0);
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto created = api.Post("/api/v1/admin/broadcasts", admin,
                          json{{"channel", "email"},
                               {"subject", "News for {{first_name}}"},
                               {"text",
                                "Hello {{first_name}},\n\nThis month at {{org_name}}: the spring "
                                "fair is on the 12th, the reading group meets every second "
                                "Tuesday, and the garden needs hands on Saturdays.\n"}}
                              .dump(),
                          "application/json");
  if (!created || created->status != 201) {
    std::fprintf(stderr, "create: %s\n", created ? created->body.c_str() : "no answer");
    return 2;
  }
  const auto path = "/api/v1/admin/broadcasts/" +
                    std::to_string(json::parse(created->body)["id"].get<std::int64_t>());
  t = Steady::now();
  auto sent = api.Post((path + "/send").c_str(), admin, "", "application/json");
  if (!sent || sent->status != 200) {
    std::fprintf(stderr, "send: %s\n", sent ? sent->body.c_str() : "no answer");
    return 2;
  }
  // Each GET counts the ledger (56 ms at 100,000 rows): wait for the sink to
  // have every message first, then ask for the status every 20 ms.
  while (sink.count() < static_cast<std::size_t>(recipients) && secs_since(t) < 600)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  json b;
  while (true) {
    auto r = api.Get(path.c_str(), admin);
    if (r && r->status == 200) {
      b = json::parse(r->body);
      if (b["status"] == "completed" || b["status"] == "paused") break;
    }
    if (secs_since(t) > 600) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = secs_since(t);
  const double rate = recipients / seconds;
  const auto& c = b["counts"];
  std::printf(
      "%d instance(s), %d writer connection(s) each: %d recipients, send -> %s in %.2f s = %.0f "
      "msg/s; ledger sent %s unknown %s failed %s; sink got %zu, rejected %zu\n",
      instances, writers, recipients, b["status"].get<std::string>().c_str(), seconds, rate,
      c["sent"].dump().c_str(), c["unknown"].dump().c_str(), c["failed"].dump().c_str(),
      sink.count(), sink.bad());
  // Who sent what: each instance's own count of the provider's answers.
  for (std::size_t k = 0; k < services.size(); ++k) {
    httplib::Client m("127.0.0.1", services[k]->port());
    auto r = m.Get("/metrics", admin);
    std::string line = "no answer";
    if (r && r->status == 200) {
      const auto at = r->body.find("sc_sends_total{provider=\"sendgrid\",outcome=\"sent\"}");
      line =
          at == std::string::npos ? "none sent" : r->body.substr(at, r->body.find('\n', at) - at);
    }
    std::printf("  instance %zu: %s\n", k, line.c_str());
  }
  for (auto& s : services) s->stop();
  sc::bench::print_pg_stats(db);
  const bool ok = b["status"] == "completed" &&
                  sink.count() == static_cast<std::size_t>(recipients) && rate >= 5000;
  std::printf("%s: target is >= 5000 msg/s, every recipient once\n", ok ? "PASS" : "BELOW TARGET");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "send")
    return send(arg(argc, argv, 2, 2), arg(argc, argv, 3, 100000), arg(argc, argv, 4, 1));
  std::fprintf(stderr, "usage: bench_instances send [instances] [recipients] [writers]\n");
  return 2;
}
