// Timing enumeration (issue 8, point 5): does a sign-up for an address the
// service has never seen answer slower than one for a known address in its
// confirmation cooldown? Starts the real binary on a temp directory and sends
// the two kinds of request alternately (so drift on the shared host hits both
// alike), each over its own keep-alive connection, and prints the median and
// p90 of each, and their difference.
//
//   bench_enumeration [requests per case, default 2000]
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "support/service_process.h"

namespace {

using Micros = std::chrono::duration<double, std::micro>;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

double post(httplib::Client& cli, const std::string& email) {
  const std::string body = R"({"email":")" + email + R"("})";
  auto t0 = std::chrono::steady_clock::now();
  auto r = cli.Post("/api/v1/subscriptions", body, "application/json");
  auto dt = Micros(std::chrono::steady_clock::now() - t0).count();
  if (!r || r->status != 202) {
    std::fprintf(stderr, "bench_enumeration: %s answered %d\n", email.c_str(), r ? r->status : -1);
    std::exit(1);
  }
  return dt;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  sc::testing::TempDir dir;
  sc::testing::ServiceProcess svc(SC_BINARY, {{"SC_DB", dir.str("data/sc.db")},
                                              {"SC_EMAIL_OUTBOX_DIR", dir.str("outbox")},
                                              {"SC_SMS_LOG_FILE", dir.str("sms.log")},
                                              {"SC_SECRET", "bench-secret-0123456789abcdef"},
                                              {"SC_SIGNUP_LIMITS", "off"}});
  if (!svc.start()) {
    std::fprintf(stderr, "bench_enumeration: the service did not start: %s\n",
                 svc.stderr_text().c_str());
    return 1;
  }
  httplib::Client fresh("127.0.0.1", svc.port()), known("127.0.0.1", svc.port());
  for (auto* c : {&fresh, &known}) {
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);  // else Nagle and the delayed ACK add 40 ms to every POST (head and
                               // body are two writes)
  }
  post(known, "known@example.org");  // now pending, in its 600 s cooldown
  for (int i = 0; i < 200; ++i) {    // warm-up: connections, page cache, statements
    post(fresh, "warm-" + std::to_string(i) + "@example.org");
    post(known, "known@example.org");
  }
  std::vector<double> a, b;
  for (int i = 0; i < n; ++i) {
    a.push_back(post(fresh, "new-" + std::to_string(i) + "@example.org"));
    b.push_back(post(known, "known@example.org"));
  }
  const double a50 = percentile(a, 0.5), a90 = percentile(a, 0.9);
  const double b50 = percentile(b, 0.5), b90 = percentile(b, 0.9);
  std::printf("requests per case: %d (alternating, keep-alive, synchronous=FULL)\n", n);
  std::printf("%-34s median %8.1f us   p90 %8.1f us\n", "new address (confirmation queued)", a50,
              a90);
  std::printf("%-34s median %8.1f us   p90 %8.1f us\n", "known address in its cooldown", b50, b90);
  std::printf("%-34s median %+8.1f us   p90 %+8.1f us\n", "difference (new - known)", a50 - b50,
              a90 - b90);
  svc.stop();
  return 0;
}
