// HttpServer: the thin handlers of the public and admin API over cpp-httplib,
// tuned (TCP_NODELAY, long keep-alive, a growing thread pool, a deep listen
// backlog) because the library's defaults cost two orders of magnitude.
// It sees only core: every write, lookup, signature check and page goes
// through a port that app wires to storage, providers and render.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sc/core/admin.h"
#include "sc/core/broadcast.h"
#include "sc/core/consent_service.h"
#include "sc/core/health.h"
#include "sc/core/import.h"
#include "sc/core/metrics.h"
#include "sc/core/page_renderer.h"
#include "sc/core/ports/reads.h"
#include "sc/core/ports/services.h"
#include "sc/core/ports/unit_of_work.h"
#include "sc/core/subscriber_list.h"
#include "sc/core/webhook.h"

namespace sc {

struct HttpOptions {
  std::size_t max_body_bytes = 64 * 1024;
  // POST /webhooks/sendgrid/events only: SendGrid posts events in batches of
  // up to 768 KB (its documentation), which must not be refused forever.
  std::size_t max_event_body_bytes = 1024 * 1024;
  // POST /api/v1/admin/imports only: its CSV is streamed, never held whole,
  // up to this many bytes (SC_IMPORT_MAX_BYTES) and rows (SC_IMPORT_MAX_ROWS).
  std::uint64_t max_import_bytes = 1ULL << 30;
  std::int64_t max_import_rows = 5'000'000;
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
  UnitOfWork& writes;         // request writes, one transaction each
  ReadStore& reads;           // admin lookups, health
  const PageRenderer& pages;  // pages and TwiML
  const Clock& clock;
  std::vector<std::string> admin_keys;
  // Keys made with `stayconnected keys create` and the audit log. Null: only
  // admin_keys (the bootstrap key) are accepted and nothing is audited.
  AdminStore* admin_store = nullptr;
  PhoneNormalizer* phones = nullptr;  // for ?phone= lookups and inbound texts
  std::string public_url;             // SC_PUBLIC_URL: what Twilio signs webhook URLs with
  // Checks X-Twilio-Signature; null (no SC_TWILIO_AUTH_TOKEN): every Twilio webhook is refused
  // (403).
  const WebhookVerifier* twilio = nullptr;
  // Checks SendGrid's Signed Event Webhook; null (no SC_SENDGRID_WEBHOOK_PUBLIC_KEY): every
  // event post is refused (403).
  const SignedPayloadVerifier* sendgrid_events = nullptr;
  // Digests admin keys before they are compared, so a key's length does not
  // leak by timing (text::digest_equal). Null: the admin API refuses all.
  const Signer* key_digest = nullptr;
  // Requests, sign-ups, confirmations and unsubscribes are counted here, and
  // GET /metrics (admin key) renders it. Null: no /metrics route.
  metrics::Registry* metrics = nullptr;
  // The providers' state for /healthz (paused, why, next probe). Empty: none shown.
  std::function<std::vector<ProviderHealth>()> provider_health;
  // Whether the database takes writes, for /healthz. Empty: not shown.
  std::function<DatabaseHealth()> database_health;
  // The operators' list (GET /api/v1/admin/subscribers without ?email=, and
  // …/subscribers/{id}); null: those answer 501 unsupported.
  SubscriberReads* subscriber_reads = nullptr;
  // Broadcasts (all three set, or the routes answer 503).
  BroadcastTransactions* broadcast_tx = nullptr;
  BroadcastReads* broadcast_reads = nullptr;
  const BroadcastComposer* broadcast_composer = nullptr;
  BroadcastSettings broadcast_settings{};
  std::function<void()> broadcast_wake{};  // a broadcast changed state: look now
  // After an erasure has committed: the local providers forget their copies
  // of what was sent to the person (EmailSender::forget). Empty: nothing.
  std::function<void(const ErasureOutcome&)> forget_copies{};
  // Imports (both set, or POST /api/v1/admin/imports answers 422 unsupported).
  ImportTransactions* import_tx = nullptr;
  ImportReads* import_reads = nullptr;
  std::function<void()> import_wake{};  // an import was stored whole: apply it now
};

// A second listener (SC_METRICS_LISTEN) that serves only GET /metrics,
// without a key: bind it to loopback or a private network for Prometheus.
class MetricsServer {
 public:
  explicit MetricsServer(const metrics::Registry& registry);
  ~MetricsServer();
  int bind(const std::string& host, int port);  // returns the port; throws std::runtime_error
  void serve();                                 // blocks until stop()
  void stop();
  bool wait_until_ready() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
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
