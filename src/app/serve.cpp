// `stayconnected serve`: builds the service from the config in named steps,
// runs it until SIGINT or SIGTERM, and stops it in reverse order.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <memory>
#include <thread>

#include "sc/app/commands.h"
#include "sc/app/metrics_wiring.h"
#include "sc/app/wiring.h"
#include "sc/core/quiet_hours.h"
#include "sc/dispatch/broadcast_runner.h"
#include "sc/dispatch/dispatcher.h"
#include "sc/dispatch/import_runner.h"
#include "sc/http/server.h"
#include "sc/providers/crypto.h"
#include "sc/providers/sendgrid_event_verifier.h"
#include "sc/providers/twilio_webhook_verifier.h"
#include "sc/storage/open.h"

namespace sc {
namespace {

// Signals are taken by one thread with sigwait; every thread started after
// this (the writer's first) inherits the blocked mask.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

// The name of this instance when SC_INSTANCE_NAME is unset: this host's name
// and the listen port, unique among live processes on one host (two cannot
// listen on one port), and the same after a restart. With port 0 there is
// no such name: empty (storage then gives the run a name of its own).
std::string default_instance_name(const Config& c) {
  if (c.listen_port == 0) return "";
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "";
  return std::string(host) + ":" + std::to_string(c.listen_port);
}

// The database's clock: the system clock plus its offset from the
// database's, measured at start and again every minute. The dispatcher and
// the broadcast runner keep leases on it, so instances on hosts whose
// clocks disagree judge a lease alike (docs/architecture.md). A measure that
// fails (the database is away) keeps the last offset.
class DatabaseClock final : public Clock {
 public:
  DatabaseClock(const Clock& system, storage::Database& db) : system_(system), db_(db) {
    measure(system_.now_ms());
  }
  std::int64_t now_unix() const override { return now_ms() / 1000; }
  std::int64_t now_ms() const override {
    const auto local = system_.now_ms();
    if (local - measured_at_.load() >= kRemeasureMs && !measuring_.exchange(true)) {
      try {
        measure(local);
      } catch (const std::exception&) {
        measured_at_ = local;  // try again in a minute
      }
      measuring_ = false;
    }
    return system_.now_ms() + offset_ms_.load();
  }

 private:
  static constexpr std::int64_t kRemeasureMs = 60'000;
  // The database's time against the midpoint of the round trip.
  void measure(std::int64_t before) const {
    const auto db = db_.database_time_ms();
    const auto after = system_.now_ms();
    offset_ms_ = db - (before + after) / 2;
    measured_at_ = after;
  }
  const Clock& system_;
  storage::Database& db_;
  mutable std::atomic<std::int64_t> offset_ms_{0};
  mutable std::atomic<std::int64_t> measured_at_{0};
  mutable std::atomic<bool> measuring_{false};
};

// Opens and migrates the database (a bad path stops here) and registers the
// consent texts the service will cite, before its writer opens.
// As the database reports them, so an operator sees the durability in force.
void log_database_settings(const Config& c, const storage::Database& db) {
  const auto& s = db.settings();
  std::fprintf(stderr,
               "stayconnected: database %s: journal_mode=%s synchronous=%s foreign_keys=%s\n",
               c.db_redacted.c_str(), s.journal_mode.c_str(), s.synchronous.c_str(),
               s.foreign_keys ? "on" : "off");
}

Dispatcher::Options dispatcher_options(const Config& c) {
  Dispatcher::Options o;
  o.base_backoff_seconds = c.retry_base_seconds;
  o.max_attempts = c.max_attempts;
  o.batch_size = c.dispatch_batch;
  o.email = {c.email_rate_limit, c.email_concurrency};
  o.sms = {c.sms_rate_limit, c.sms_concurrency};
  o.broadcast_pause_after_errors = c.broadcast_pause_after_errors;
  o.backoff_jitter = 0.25;
  return o;
}

// The dispatcher's collaborators: templates, broadcasts, the SMS send window,
// and a wake-up whenever a commit queued messages.
void wire_dispatcher(Dispatcher& dispatcher, storage::Database& db, Wiring& w,
                     const BroadcastComposer& broadcast_composer) {
  dispatcher.set_composer(w.renderer.get());
  // Every instance on the database shares each provider's rate.
  dispatcher.set_rate_grants(&db.rate_grants());
  db.set_on_outbox_commit([&dispatcher] { dispatcher.wake(); });
  dispatcher.set_broadcast_composer(&broadcast_composer);
  const QuietHours window{w.config.sms_window_start_minute, w.config.sms_window_end_minute};
  dispatcher.set_quiet_hours([window](const std::string& to, std::int64_t at) {
    return quiet_hours_wait_until(to, at, window);
  });
}

HttpOptions http_options(const Config& c) {
  HttpOptions o;
  o.max_threads = c.http_max_threads;
  o.signup_limits = c.signup_limits;
  o.max_connections_per_ip = c.http_max_connections_per_ip;
  o.trusted_proxies = c.trusted_proxies;
  o.max_import_bytes = static_cast<std::uint64_t>(c.import_max_bytes);
  o.max_import_rows = c.import_max_rows;
  return o;
}

// The webhook signature checks the config has keys for (none: refused).
struct WebhookVerifiers {
  std::unique_ptr<providers::TwilioWebhookVerifier> twilio;
  std::unique_ptr<providers::SendgridEventVerifier> sendgrid_events;
};

WebhookVerifiers webhook_verifiers(const Config& c) {
  WebhookVerifiers v;
  if (!c.twilio_auth_token.empty())
    v.twilio = std::make_unique<providers::TwilioWebhookVerifier>(c.twilio_auth_token);
  if (!c.sendgrid_webhook_public_key.empty())
    v.sendgrid_events =
        std::make_unique<providers::SendgridEventVerifier>(c.sendgrid_webhook_public_key);
  return v;
}

// What the HTTP service runs on: every port and helper built before it.
struct Running {
  Wiring& w;
  storage::Database& db;
  metrics::Registry& registry;
  Dispatcher& dispatcher;
  BroadcastRunner& runner;
  ImportRunner& imports;
  const BroadcastComposer& broadcast_composer;
  const WebhookVerifiers& webhooks;
};

HttpDeps http_deps(const Running& r) {
  const auto& c = r.w.config;
  return HttpDeps{.service = *r.w.service,
                  .writes = r.db.writes(),
                  .reads = r.db.reads(),
                  .pages = *r.w.renderer,
                  .clock = r.w.clock,
                  .admin_keys = c.admin_keys,
                  .admin_store = &r.db.admin(),
                  .phones = r.w.phones.get(),
                  .public_url = c.public_url,
                  .twilio = r.webhooks.twilio.get(),
                  .sendgrid_events = r.webhooks.sendgrid_events.get(),
                  .key_digest = r.w.signer.get(),
                  .metrics = &r.registry,
                  .provider_health = [&d = r.dispatcher] { return provider_health(d); },
                  .database_health = [&db = r.db] { return db.write_health(); },
                  .subscriber_reads = &r.db.subscriber_reads(),
                  .broadcast_tx = &r.db.broadcast_tx(),
                  .broadcast_reads = &r.db.broadcast_reads(),
                  .broadcast_composer = &r.broadcast_composer,
                  .broadcast_settings = BroadcastSettings{.sms_max_segments = c.sms_max_segments},
                  .broadcast_wake =
                      [&runner = r.runner, &dispatcher = r.dispatcher] {
                        runner.wake();
                        dispatcher.wake();
                      },
                  .forget_copies =
                      [&w = r.w](const ErasureOutcome& erased) {
                        for (const auto& ch : erased.channels) {
                          if (ch.kind == ChannelKind::kEmail)
                            w.email->forget(ch.address, ch.outbox_ids);
                          else
                            w.sms->forget(ch.address, ch.outbox_ids);
                        }
                      },
                  .import_tx = &r.db.import_tx(),
                  .import_reads = &r.db.import_reads(),
                  .import_wake = [&imports = r.imports] { imports.wake(); }};
}

// A listener that cannot bind is a configuration error (exit 2).
template <class Server>
int bind_or_config_error(Server& server, const std::string& host, int port) {
  try {
    return server.bind(host, port);
  } catch (const std::exception& e) {
    throw ConfigError(e.what());
  }
}

// The second listener (SC_METRICS_LISTEN) on a thread of its own, when set.
struct MetricsListener {
  std::unique_ptr<MetricsServer> server;
  std::thread thread;
  int port = 0;

  void start(const Config& c, const metrics::Registry& registry) {
    if (c.metrics_host.empty()) return;
    server = std::make_unique<MetricsServer>(registry);
    port = bind_or_config_error(*server, c.metrics_host, c.metrics_port);
    thread = std::thread([this] { server->serve(); });
  }
  void stop() {
    if (!server) return;
    server->stop();
    thread.join();
  }
};

void print_listening(const Wiring& w, int port, const MetricsListener& metrics) {
  const auto& c = w.config;
  std::printf(
      "stayconnected listening on http://%s:%d/ (public URL %s, email: %s, sms: %s, database %s)\n",
      c.listen_host.c_str(), port, c.public_url.c_str(), w.email->name().c_str(),
      w.sms->name().c_str(), c.db_redacted.c_str());
  std::printf("sign-up page: %s/\n", c.public_url.c_str());
  if (metrics.server)
    std::printf("metrics on http://%s:%d/metrics\n", c.metrics_host.c_str(), metrics.port);
  std::fflush(stdout);
}

// Binds, starts the workers, serves until a stop signal, then stops
// everything in reverse: listeners, runner, dispatcher (it finishes the
// batch in flight and records it), and last the writer.
int run_until_stopped(const Running& r, HttpServer& server, sigset_t stop_signals) {
  const auto& c = r.w.config;
  const int port = bind_or_config_error(server, c.listen_host, c.listen_port);
  MetricsListener metrics;
  metrics.start(c, r.registry);
  r.dispatcher.start();
  r.runner.start();
  r.imports.start();
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0)
      std::fprintf(stderr, "stayconnected: %s received, stopping\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
  print_listening(r.w, port, metrics);
  server.serve();  // returns after stop()
  // Wake the signal thread if serve ended for another reason.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  metrics.stop();
  r.imports.stop();
  r.runner.stop();
  r.dispatcher.stop();
  r.db.stop();
  std::fprintf(stderr, "stayconnected: stopped cleanly\n");
  return 0;
}

}  // namespace

std::unique_ptr<storage::Database> open_database(const Config& c, metrics::Registry& registry) {
  const auto renderer = make_renderer(c);
  storage::OpenOptions options;
  options.synchronous_full = c.synchronous_full;
  options.metrics = &registry;
  options.instance_name = c.instance_name;
  options.write_connections = static_cast<std::size_t>(c.db_write_connections);
  options.default_instance_name = default_instance_name(c);
  options.consent_texts = {{ChannelKind::kEmail, consent_text(*renderer, "email")},
                           {ChannelKind::kSms, consent_text(*renderer, "sms")}};
  return storage::open(c.db_path, options, SystemClock().now_unix());
}

ImportRunner::Options import_runner_options(const Config& c) {
  ImportRunner::Options o;
  o.settings.confirms_per_second = c.import_confirms_per_second;
  o.settings.quiet_hours = QuietHours{c.sms_window_start_minute, c.sms_window_end_minute};
  o.settings.sha256_hex = [](std::string_view text) { return crypto::hex(crypto::sha256(text)); };
  return o;
}

int cmd_serve(Config config) {
  check_data_dir(config);  // before anything is written into it
  // Before the database is touched: a PostgreSQL SC_DB without a shared key,
  // or an SC_SECRET_FILE that cannot be trusted, stops the start here.
  config.secret = resolve_secret(config);
  const sigset_t stop_signals = block_stop_signals();
  metrics::Registry registry;
  auto db = open_database(config, registry);  // migrates, once
  Wiring w(std::move(config));
  log_database_settings(w.config, *db);
  const auto& c = w.config;
  const DatabaseClock db_clock(w.clock, *db);
  Dispatcher dispatcher(db->outbox(), *w.email, *w.sms, db_clock, dispatcher_options(c));
  BroadcastComposer broadcast_composer(
      *w.renderer, *w.service, broadcast_settings(c),
      [&reads = db->broadcast_reads()](std::int64_t id) { return reads.get(id); });
  wire_dispatcher(dispatcher, *db, w, broadcast_composer);
  BroadcastRunner runner(db->broadcast_tx(), db_clock, {.chunk_rows = c.broadcast_chunk_rows},
                         [&dispatcher] { dispatcher.wake(); });
  wire_dispatch_metrics(registry, dispatcher, w.clock);
  wire_broadcast_metrics(registry, *db, w.clock);
  wire_subscriber_metrics(registry, *db);
  const auto webhooks = webhook_verifiers(c);
  ImportRunner imports(*w.service, db->import_tx(), db->import_reads(), db_clock,
                       import_runner_options(c));
  const Running running{w,      *db,     registry,           dispatcher,
                        runner, imports, broadcast_composer, webhooks};
  HttpServer server(http_deps(running), http_options(c));
  return run_until_stopped(running, server, stop_signals);
}

}  // namespace sc
