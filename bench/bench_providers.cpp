// Throughput of SendgridEmailSender::send_batch against a loopback SendGrid
// sink: with zero and with 50 ms emulated provider latency over HTTP, and
// with zero latency over HTTPS (a self-signed certificate from the openssl
// command; reused connections make TLS cost per message, not per handshake).
// Prints emails/s.
//   bench_providers [messages_at_0ms=20000] [messages_at_50ms=5000] [in_flight=64]
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "sc/providers/sendgrid_email_sender.h"
#include "sink.h"

namespace {

sc::OutboundEmail message(std::int64_t id) {
  sc::OutboundEmail m;
  m.outbox_id = id;
  m.message_id = "bench" + std::to_string(id) + "@example.com";
  m.from = {"news@example.com", "Example News"};
  m.to = {"subscriber" + std::to_string(id) + "@example.org", "Subscriber"};
  m.subject = "Weekly digest";
  m.text = std::string(600, 't');
  m.html = "<p>" + std::string(1500, 'h') + "</p>";
  m.list_unsubscribe_url = "https://example.com/u/" + std::to_string(id);
  return m;
}

struct Tls {
  std::string cert, key;
};

double run(int delay_ms, std::size_t n, int in_flight, const Tls& tls = {}) {
  sc::bench::Sink sink(delay_ms, static_cast<std::size_t>(in_flight) + 16, tls.cert, tls.key);
  sc::providers::SendgridConfig cfg;
  cfg.api_key = sc::bench::Sink::api_key();
  cfg.api_base = sink.base_url();
  cfg.ca_file = tls.cert;
  cfg.max_in_flight = in_flight;
  sc::providers::SendgridEmailSender sender(cfg);
  std::vector<sc::OutboundEmail> batch;
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) batch.push_back(message(static_cast<std::int64_t>(i)));
  // Warm-up: opens the connections, as a long-running dispatcher would have.
  sender.send_batch(
      std::span(batch).first(std::min<std::size_t>(n, static_cast<std::size_t>(in_flight))));

  auto t0 = std::chrono::steady_clock::now();
  // The dispatcher hands over batches of a few hundred; do the same.
  std::size_t sent = 0, failed = 0;
  for (std::size_t off = 0; off < n; off += 1000) {
    auto part = std::span(batch).subspan(off, std::min<std::size_t>(1000, n - off));
    for (const auto& r : sender.send_batch(part))
      (r.status == sc::SendStatus::kSent ? sent : failed)++;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = static_cast<double>(sent) / secs;
  std::printf(
      "%-5s latency %3d ms, in flight %3d: %zu sent, %zu failed in %.2f s = %.0f emails/s\n",
      tls.cert.empty() ? "http" : "https", delay_ms, in_flight, sent, failed, secs, rate);
  if (failed > 0 || sink.bad() > 0)
    std::printf("  FAILURES: %zu failed, %zu rejected by sink\n", failed, sink.bad());
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n0 = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  std::size_t n50 = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 5000;
  int in_flight = argc > 3 ? std::atoi(argv[3]) : 64;
  double r0 = run(0, n0, in_flight);
  double r50 = run(50, n50, in_flight);
  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("sc-bench-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Tls tls{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  const std::string openssl =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " +
      tls.key + " -out " + tls.cert + " >/dev/null 2>&1";
  if (std::system(openssl.c_str()) == 0) {
    run(0, n0, in_flight, tls);
  } else {
    std::printf("https: skipped (the openssl command failed)\n");
  }
  fs::remove_all(dir);
  bool ok = r0 >= 5000 && r50 >= 1000;
  std::printf("targets (>=5000/s at 0 ms, >=1000/s at 50 ms): %s\n", ok ? "met" : "NOT met");
  return ok ? 0 : 1;
}
