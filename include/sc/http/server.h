// HttpServer: the thin handlers of the public and admin API over cpp-httplib,
// tuned (TCP_NODELAY, long keep-alive, a growing thread pool, a deep listen
// backlog) because the library's defaults cost two orders of magnitude.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/core/ports.h"
#include "sc/render/renderer.h"
#include "sc/storage/storage.h"

namespace sc {

struct HttpOptions {
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t min_threads = 16;
  std::size_t max_threads = 1024;  // one per open keep-alive connection (cpp-httplib's model)
  int keep_alive_seconds = 5;
  int listen_backlog = 4096;
  // Sign-ups per client IP: a burst, then a steady rate (SC_SIGNUP_LIMITS).
  bool signup_limits = true;
  double signup_burst = 30;
  double signup_per_minute = 30;
  // The edge (src/http/edge_server.h): concurrent connections per client IP
  // (SC_HTTP_MAX_CONNECTIONS_PER_IP), the deadline for a whole request head,
  // and the proxies whose X-Forwarded-For names the client (SC_TRUSTED_PROXIES,
  // a CIDR list; the constructor throws std::invalid_argument on a bad one).
  std::size_t max_connections_per_ip = 64;
  int head_timeout_ms = 10000;
  std::string trusted_proxies;
};

struct HttpDeps {
  ConsentService& service;
  storage::WriteQueue& writer;
  storage::ReadPool& reads;
  const Renderer& renderer;
  const Clock& clock;
  std::vector<std::string> admin_keys;
  PhoneNormalizer* phones = nullptr;  // for ?phone= lookups
  std::string public_url;              // SC_PUBLIC_URL: what Twilio signs webhook URLs with
  std::string twilio_auth_token;       // empty: every webhook is refused (403)
};

class HttpServer {
 public:
  HttpServer(HttpDeps deps, HttpOptions options);
  ~HttpServer();
  // Binds host:port (port 0 picks a free one) and returns the port; throws
  // std::runtime_error with a clear message when it cannot.
  int bind(const std::string& host, int port);
  void serve();  // blocks until stop()
  void stop();
  bool wait_until_ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
