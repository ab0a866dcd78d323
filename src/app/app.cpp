#include "sc/app/app.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "sc/app/broadcast_cli.h"
#include "sc/app/config.h"
#include "sc/core/consent_service.h"
#include "sc/core/quiet_hours.h"
#include "sc/dispatch/broadcast_runner.h"
#include "sc/dispatch/dispatcher.h"
#include "sc/http/server.h"
#include "sc/providers/crypto.h"
#include "sc/providers/factory.h"
#include "sc/providers/phone_normalizer.h"
#include "sc/providers/sendgrid_event_verifier.h"
#include "sc/providers/twilio_webhook_verifier.h"
#include "sc/render/renderer.h"
#include "sc/storage/adapters.h"
#include "sc/storage/admin_keys.h"
#include "sc/storage/storage.h"

namespace sc {
namespace {

constexpr const char* kHelp = R"(stayconnected - email and SMS sign-ups with double opt-in

Usage: stayconnected [--config FILE] COMMAND

Commands:
  serve                   run the HTTP service and the outbox dispatcher
  migrate                 create or upgrade the database, then exit
  send-test-email ADDRESS send one message through the configured email
                          provider and print the provider's answer
  keys create --name NAME --scope read|send|admin
                          make an admin API key and print it (only this once)
  keys list               the keys: name, scope, prefix, created, revoked
  keys revoke NAME        revoke a key (refused from the next request on)
  broadcasts list [--limit N] [--before ID]
                          broadcasts, newest first: id, channel, status,
                          created, counts
  broadcasts show ID      one broadcast: every field, its counts, the pause
                          reason, an SMS text's segments
  broadcasts watch ID [--interval SECONDS] [--exit-on-pause]
                          a progress bar (counts, rate, ETA) until the
                          broadcast completes or is cancelled; a pause is
                          shown with its reason (--exit-on-pause: exit 3)
  --help, help            show this text
  --version               print the version

Configuration comes from SC_* environment variables (see deploy/stayconnected.env);
--config FILE reads KEY=VALUE lines first, and the environment overrides them.
Exit codes: 0 ok, 1 the command failed, 2 bad usage or configuration (or an
unknown broadcast id), 3 broadcasts watch --exit-on-pause saw a pause.
)";

class SystemClock final : public Clock {
 public:
  std::int64_t now_unix() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class RandomIds final : public IdSource {
 public:
  std::string next_id() override { return crypto::hex(crypto::random_bytes(16)); }
};

ConsentText consent_text(const Renderer& r, const char* channel) {
  ConsentText t;
  t.text = std::string(r.text(std::string("consent/") + channel + ".txt.mustache", {}));
  while (!t.text.empty() && (t.text.back() == '\n' || t.text.back() == ' ')) t.text.pop_back();
  t.sha256_hex = crypto::hex(crypto::sha256(t.text));
  t.version = std::string(channel) + "-" + t.sha256_hex.substr(0, 12);
  return t;
}

// Everything a command needs, built from the config in dependency order.
struct Wiring {
  Config config;
  SystemClock clock;
  RandomIds ids;
  std::unique_ptr<crypto::HmacSigner> signer;
  std::unique_ptr<Renderer> renderer;
  std::unique_ptr<providers::LibPhoneNormalizer> phones;
  std::unique_ptr<EmailSender> email;
  std::unique_ptr<SmsSender> sms;
  std::unique_ptr<ConsentService> service;

  explicit Wiring(Config c) : config(std::move(c)) {
    signer = std::make_unique<crypto::HmacSigner>(resolve_secret(config));
    renderer = std::make_unique<Renderer>(
        Vars{{"org_name", config.org_name}, {"postal_address", config.postal_address}},
        config.templates_dir);
    phones = std::make_unique<providers::LibPhoneNormalizer>(config.default_region,
                                                             config.sms_countries);
    auto e = providers::make_email_sender(config.email);
    if (!e) throw ConfigError(e.error().message);
    email = std::move(e).value();
    auto s = providers::make_sms_sender(config.sms);
    if (!s) throw ConfigError(s.error().message);
    sms = std::move(s).value();
    ServiceConfig sc;
    sc.public_url = config.public_url;
    sc.org_name = config.org_name;
    sc.postal_address = config.postal_address;
    sc.from = config.email_from;
    sc.envelope_from = config.email_bounce;
    sc.list_unsubscribe_mailto = config.list_unsubscribe_mailto;
    sc.confirm_cooldown_seconds = config.confirm_cooldown_seconds;
    sc.sms_limits.enabled = config.signup_limits;
    sc.sms_limits.per_client = config.sms_confirm_limit_per_ip;
    sc.sms_limits.per_number = config.sms_confirm_limit_per_number;
    sc.sms_limits.per_prefix = config.sms_confirm_limit_per_prefix;
    sc.sms_limits.daily_cap = config.sms_confirm_daily_cap;
    sc.email_consent = consent_text(*renderer, "email");
    sc.sms_consent = consent_text(*renderer, "sms");
    service = std::make_unique<ConsentService>(sc, *signer, *renderer, phones.get(), ids);
  }
};

// List-Id and Feedback-ID name the sender's domain (the From address's).
BroadcastComposer::Settings broadcast_settings(const Config& c) {
  BroadcastComposer::Settings s;
  s.org_name = c.org_name;
  s.postal_address = c.postal_address;
  s.from = c.email_from;
  s.envelope_from = c.email_bounce;
  s.list_unsubscribe_mailto = c.list_unsubscribe_mailto;
  const auto domain = c.email_from.address.substr(c.email_from.address.rfind('@') + 1);
  std::string name;
  for (char ch : c.org_name)
    if (ch != '<' && ch != '>' && ch != '"' && ch != '\r' && ch != '\n') name += ch;
  s.list_id = name + " <broadcasts." + domain + ">";
  s.feedback_id_tail = ":stayconnected:" + domain;
  s.sms_max_segments = c.sms_max_segments;
  return s;
}

int cmd_migrate(const Config& config) {
  auto applied = storage::migrate(config.db_path);
  for (const auto& m : applied) std::printf("applied %04d_%s\n", m.version, m.name.c_str());
  std::printf("database %s is up to date\n", config.db_path.c_str());
  return 0;
}

int cmd_send_test_email(Wiring& w, const std::string& address) {
  auto to = Email::parse(address);
  if (!to) {
    std::fprintf(stderr, "stayconnected: %s\n", to.error().message.c_str());
    return 2;
  }
  Channel ch;
  ch.kind = ChannelKind::kEmail;
  ch.address = to->str();
  auto msg = w.service->build_email(ch, {}, w.clock.now_unix());
  msg.template_name = "test";
  msg.template_vars = {{"unsubscribe_url", msg.list_unsubscribe_url}};
  render_queued(*w.renderer, msg);
  auto r = w.email->send(msg);
  std::printf("provider: %s\nresult: %s\ncode: %s\nmessage-id: %s\nanswer: %s\n",
              w.email->name().c_str(), to_string(r.status), r.provider_code.c_str(),
              r.provider_message_id.c_str(), r.provider_message.c_str());
  return r.status == SendStatus::kSent ? 0 : 1;
}

std::string utc_time(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Who did it, in the audit log, when a key is made or revoked on the host.
const std::string kCliActor(kCliActorName);

// A key's name: what the audit log and `keys list` show for it. The names
// the log uses for the bootstrap key and the CLI are reserved.
bool valid_key_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || reserved_key_name(name)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
  });
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "stayconnected: %s\n", message.c_str());
  return 2;
}

// The key commands use SC_DB as the service does; arguments are checked
// before anything is touched. The database must exist already (serve or
// migrate makes it): a key put into a new, empty one by a wrong or missing
// SC_DB would be a key the service never sees.
void open_database(const Config& config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config.db_path, ec))
    throw ConfigError("no database at " + config.db_path +
                      " (set SC_DB, or run `stayconnected migrate` first)");
  check_data_dir(config);
  storage::migrate(config.db_path);
}

// keys create --name NAME --scope SCOPE | keys list | keys revoke NAME.
int cmd_keys(const Config& config, const std::vector<std::string>& args) {
  constexpr const char* kUsage =
      "usage: stayconnected keys create --name NAME --scope read|send|admin | keys list | keys "
      "revoke NAME";
  if (args.size() < 2) return usage_error(std::string("keys: missing subcommand; ") + kUsage);
  const auto& sub = args[1];
  if (sub == "create") {
    std::optional<std::string> name, scope_text;
    for (std::size_t i = 2; i < args.size(); ++i) {
      const auto& a = args[i];
      auto take = [&](const char* flag, std::optional<std::string>& out) {
        const std::string f = flag;
        if (a == f) {
          if (i + 1 >= args.size()) return false;
          out = args[++i];
          return true;
        }
        if (a.rfind(f + "=", 0) == 0) {
          out = a.substr(f.size() + 1);
          return true;
        }
        return false;
      };
      if (take("--name", name) || take("--scope", scope_text)) continue;
      return usage_error("keys create: unexpected argument \"" + a + "\"; " + kUsage);
    }
    if (!name) return usage_error(std::string("keys create: --name is required; ") + kUsage);
    if (!scope_text) return usage_error(std::string("keys create: --scope is required; ") + kUsage);
    if (!valid_key_name(*name))
      return usage_error("keys create: bad name \"" + *name +
                         "\": 1 to 64 letters, digits, '.', '_' or '-', and not "
                         "SC_ADMIN_API_KEY or cli (the audit log's names for the bootstrap "
                         "key and this CLI)");
    auto scope = scope_from(*scope_text);
    if (!scope)
      return usage_error("keys create: bad scope \"" + *scope_text +
                         "\": must be read, send or admin");
    // 256 random bits: a plain SHA-256 of the key is all that is stored.
    const std::string key = "sc_" + crypto::base64url(crypto::random_bytes(32));
    open_database(config);
    auto r = storage::create_admin_key(config.db_path, *name, *scope, key, kCliActor,
                                       std::time(nullptr));
    if (r == storage::KeyChange::kNameTaken)
      return usage_error("keys create: a key named \"" + *name +
                         "\" already exists (names are never reused, revoked ones included)");
    std::printf("%s\n", key.c_str());
    std::fflush(stdout);
    std::fprintf(stderr,
                 "stayconnected: created key \"%s\" (scope %s); it is shown only this once, "
                 "only its hash is stored\n",
                 name->c_str(), to_string(*scope));
    return 0;
  }
  if (sub == "list" && args.size() == 2) {
    open_database(config);
    auto keys = storage::list_admin_keys(config.db_path);
    std::printf("%-24s %-6s %-16s %-21s %s\n", "NAME", "SCOPE", "PREFIX", "CREATED", "REVOKED");
    for (const auto& k : keys) {
      std::printf("%-24s %-6s %-16s %-21s %s\n", k.name.c_str(), to_string(k.scope),
                  (k.prefix + "...").c_str(), utc_time(k.created_at).c_str(),
                  utc_time(k.revoked_at).c_str());
    }
    return 0;
  }
  if (sub == "revoke") {
    if (args.size() != 3) return usage_error(std::string("keys revoke: give one NAME; ") + kUsage);
    open_database(config);
    const auto& name = args[2];
    auto r = storage::revoke_admin_key(config.db_path, name, kCliActor, std::time(nullptr));
    if (r == storage::KeyChange::kUnknownName)
      return usage_error("keys revoke: no key named \"" + name + "\" (see keys list)");
    std::fprintf(stderr, "stayconnected: key \"%s\" %s\n", name.c_str(),
                 r == storage::KeyChange::kAlreadyRevoked ? "was already revoked" : "revoked");
    return 0;
  }
  return usage_error("keys: unknown subcommand or wrong arguments: " + sub + "; " + kUsage);
}

std::vector<ProviderHealth> provider_health(const Dispatcher& d) {
  std::vector<ProviderHealth> out;
  for (const auto& p : d.provider_states()) {
    out.push_back(ProviderHealth{p.name, p.channel, p.paused, p.reason, p.since,
                                 p.consecutive_failures, p.next_probe_at_ms / 1000});
  }
  return out;
}

// Sends by provider and outcome and their latency (from the dispatcher's
// thread), and, at scrape time, the outbox's depth and the providers' state.
void wire_dispatch_metrics(metrics::Registry& registry, Dispatcher& dispatcher,
                           const Clock& clock) {
  // Runs on the dispatcher's one thread: the series it has used are kept, so
  // a message costs no registry lock and no label formatting.
  struct SendSeries {
    std::map<std::pair<std::string, std::string>, metrics::Counter*> sends;
    std::map<std::string, metrics::Histogram*> durations;
  };
  dispatcher.set_send_observer(
      [&registry, cache = std::make_shared<SendSeries>()](const std::string& provider,
                                                          const SendResult& r, double seconds) {
        const char* outcome = r.auth_refused ? "auth_refused" : to_string(r.status);
        auto& sends = cache->sends[{provider, outcome}];
        if (sends == nullptr) {
          sends = &registry.counter("sc_sends_total",
                                    "Messages a provider answered, by provider and outcome.",
                                    {{"provider", provider}, {"outcome", outcome}});
        }
        sends->inc();
        auto& duration = cache->durations[provider];
        if (duration == nullptr) {
          duration = &registry.histogram("sc_send_duration_seconds",
                                         "Duration of the provider call that carried each message.",
                                         metrics::latency_buckets(), {{"provider", provider}});
        }
        duration->observe(seconds);
        if (r.recipient_opted_out) {
          registry
              .counter("sc_unsubscribes_total", "Channels unsubscribed, by channel and how.",
                       {{"channel", "sms"}, {"source", "provider"}})
              .inc();
        }
      });
  registry.add_collector([&dispatcher, &clock](metrics::Collector& c) {
    const auto depth = dispatcher.outbox_depth();
    for (const char* lane : {"transactional", "bulk"}) {
      for (const char* state : {"queued", "sending"}) {
        double n = 0;
        for (const auto& cell : depth.cells) {
          if (std::string(to_string(cell.lane)) == lane && cell.state == state)
            n += static_cast<double>(cell.count);
        }
        c.gauge("sc_outbox_messages", "Unfinished outbox messages, by lane and state.",
                {{"lane", lane}, {"state", state}}, n);
      }
    }
    const auto now = clock.now_unix();
    c.gauge("sc_outbox_oldest_due_age_seconds",
            "How long the longest-waiting due message has waited; 0: none due.", {},
            depth.oldest_due_since == 0
                ? 0.0
                : static_cast<double>(std::max<std::int64_t>(0, now - depth.oldest_due_since)));
    for (const auto& p : dispatcher.provider_states()) {
      c.gauge("sc_provider_paused",
              "1 while a provider is paused because it refused our credentials.",
              {{"provider", p.name}, {"channel", p.channel}}, p.paused ? 1 : 0);
    }
  });
}

// Broadcasts by status, and the recipients of each broadcast that is
// sending, paused or scheduled or finished within the last hour (at most
// 50, newest first, so a long history never grows the scrape), read at
// scrape time through the read pool: one GROUP BY over the
// (broadcast_id, state, id) index per broadcast.
void wire_broadcast_metrics(metrics::Registry& registry, storage::ReadPool& reads,
                            const Clock& clock) {
  registry.add_collector([&reads, &clock](metrics::Collector& c) {
    const auto statuses = reads.broadcast_status_counts();
    for (auto s :
         {BroadcastStatus::kDraft, BroadcastStatus::kScheduled, BroadcastStatus::kSending,
          BroadcastStatus::kPaused, BroadcastStatus::kCompleted, BroadcastStatus::kCancelled}) {
      double n = 0;
      for (const auto& [status, count] : statuses)
        if (status == to_string(s)) n = static_cast<double>(count);
      c.gauge("sc_broadcasts", "Broadcasts, by status.", {{"status", to_string(s)}}, n);
    }
    const auto now = clock.now_unix();
    for (const auto& b : reads.broadcasts_in_progress(now - 3600, 50)) {
      const auto n = reads.broadcast_counts(b.id, now);
      const auto id = std::to_string(b.id);
      // The states add up to the broadcast's total; delivery reports are a
      // family of their own so that sum() over the states stays the total.
      const std::pair<const char*, std::int64_t> states[] = {
          {"queued", n.queued}, {"sending", n.sending}, {"sent", n.sent},
          {"failed", n.failed}, {"skipped", n.skipped}, {"unknown", n.unknown}};
      for (const auto& [state, count] : states) {
        c.gauge("sc_broadcast_recipients",
                "Recipients of broadcasts sending, paused, scheduled or finished in the last "
                "hour, by state.",
                {{"broadcast", id}, {"state", state}}, static_cast<double>(count));
      }
      for (const auto& [state, count] :
           {std::pair{"delivered", n.delivered}, std::pair{"undelivered", n.undelivered}}) {
        c.gauge("sc_broadcast_delivery_reports",
                "Sent recipients of those broadcasts whose provider reported delivery, by result.",
                {{"broadcast", id}, {"state", state}}, static_cast<double>(count));
      }
      // Part of state="queued" (so the states still add up to the total).
      c.gauge("sc_broadcast_waiting_recipients",
              "Queued recipients of those broadcasts held by quiet hours (outside "
              "SC_SMS_SEND_WINDOW where they are) until their window opens.",
              {{"broadcast", id}}, static_cast<double>(n.waiting));
      c.gauge("sc_broadcast_waiting_until_timestamp_seconds",
              "Unix time at which the first recipient of those broadcasts held by quiet hours "
              "may go; 0 when none waits.",
              {{"broadcast", id}}, static_cast<double>(n.waiting_until));
    }
  });
}

int cmd_serve(Wiring& w) {
  const auto& c = w.config;
  storage::migrate(c.db_path);
  auto now = w.clock.now_unix();
  storage::register_consent_text(c.db_path, ChannelKind::kEmail, w.service->config().email_consent,
                                 now);
  storage::register_consent_text(c.db_path, ChannelKind::kSms, w.service->config().sms_consent,
                                 now);

  // Signals are taken by one thread with sigwait; every other thread
  // inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  metrics::Registry registry;
  storage::WriteQueue writer(c.db_path,
                             storage::WriteQueue::Options{256, c.synchronous_full, &registry});
  {
    const auto& db =
        writer.settings();  // as SQLite reports them, so an operator sees the durability in force
    std::fprintf(stderr,
                 "stayconnected: database %s: journal_mode=%s synchronous=%s foreign_keys=%s\n",
                 c.db_path.c_str(), db.journal_mode.c_str(), db.synchronous.c_str(),
                 db.foreign_keys ? "on" : "off");
  }
  storage::ReadPool reads(c.db_path, 4);
  Dispatcher::Options dopts;
  dopts.base_backoff_seconds = c.retry_base_seconds;
  dopts.max_attempts = c.max_attempts;
  dopts.batch_size = c.dispatch_batch;
  dopts.email = {c.email_rate_limit, c.email_concurrency};
  dopts.sms = {c.sms_rate_limit, c.sms_concurrency};
  dopts.broadcast_pause_after_errors = c.broadcast_pause_after_errors;
  dopts.backoff_jitter = 0.25;
  storage::WriterOutbox outbox(writer, reads);
  Dispatcher dispatcher(outbox, *w.email, *w.sms, w.clock, dopts);
  dispatcher.set_composer(w.renderer.get());
  writer.set_on_outbox_commit([&dispatcher] { dispatcher.wake(); });
  storage::StoredBroadcasts broadcasts(writer, reads);
  BroadcastComposer broadcast_composer(*w.renderer, *w.service, broadcast_settings(c),
                                       [&reads](std::int64_t id) { return reads.broadcast(id); });
  dispatcher.set_broadcast_composer(&broadcast_composer);
  {
    const QuietHours window{c.sms_window_start_minute, c.sms_window_end_minute};
    dispatcher.set_quiet_hours([window](const std::string& to, std::int64_t at) {
      return quiet_hours_wait_until(to, at, window);
    });
  }
  BroadcastRunner runner(broadcasts, w.clock, {.chunk_rows = c.broadcast_chunk_rows},
                         [&dispatcher] { dispatcher.wake(); });
  wire_dispatch_metrics(registry, dispatcher, w.clock);
  wire_broadcast_metrics(registry, reads, w.clock);

  HttpOptions hopts;
  hopts.max_threads = c.http_max_threads;
  hopts.signup_limits = c.signup_limits;
  hopts.max_connections_per_ip = c.http_max_connections_per_ip;
  hopts.trusted_proxies = c.trusted_proxies;
  storage::QueuedUnitOfWork writes(writer);
  storage::PooledReadStore lookups(reads);
  storage::SqliteAdminStore admin_store(writer, reads);
  std::unique_ptr<providers::TwilioWebhookVerifier> twilio_webhooks;
  if (!c.twilio_auth_token.empty())
    twilio_webhooks = std::make_unique<providers::TwilioWebhookVerifier>(c.twilio_auth_token);
  std::unique_ptr<providers::SendgridEventVerifier> sendgrid_events;
  if (!c.sendgrid_webhook_public_key.empty())
    sendgrid_events =
        std::make_unique<providers::SendgridEventVerifier>(c.sendgrid_webhook_public_key);
  HttpDeps deps{.service = *w.service,
                .writes = writes,
                .reads = lookups,
                .pages = *w.renderer,
                .clock = w.clock,
                .admin_keys = c.admin_keys,
                .admin_store = &admin_store,
                .phones = w.phones.get(),
                .public_url = c.public_url,
                .twilio = twilio_webhooks.get(),
                .sendgrid_events = sendgrid_events.get(),
                .key_digest = w.signer.get(),
                .metrics = &registry,
                .provider_health = [&dispatcher] { return provider_health(dispatcher); },
                .broadcast_tx = &broadcasts,
                .broadcast_reads = &broadcasts,
                .broadcast_composer = &broadcast_composer,
                .broadcast_settings = BroadcastSettings{.sms_max_segments = c.sms_max_segments},
                .broadcast_wake =
                    [&runner, &dispatcher] {
                      runner.wake();
                      dispatcher.wake();
                    }};
  HttpServer server(deps, hopts);
  int port = 0;
  try {
    port = server.bind(c.listen_host, c.listen_port);
  } catch (const std::exception& e) {
    throw ConfigError(e.what());
  }
  std::unique_ptr<MetricsServer> metrics_server;
  std::thread metrics_thread;
  int metrics_port = 0;
  if (!c.metrics_host.empty()) {
    metrics_server = std::make_unique<MetricsServer>(registry);
    try {
      metrics_port = metrics_server->bind(c.metrics_host, c.metrics_port);
    } catch (const std::exception& e) {
      throw ConfigError(e.what());
    }
    metrics_thread = std::thread([&] { metrics_server->serve(); });
  }
  dispatcher.start();
  runner.start();

  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != 0)
      std::fprintf(stderr, "stayconnected: %s received, stopping\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });
  std::printf(
      "stayconnected listening on http://%s:%d/ (public URL %s, email: %s, sms: %s, database %s)\n",
      c.listen_host.c_str(), port, c.public_url.c_str(), w.email->name().c_str(),
      w.sms->name().c_str(), c.db_path.c_str());
  std::printf("sign-up page: %s/\n", c.public_url.c_str());
  if (metrics_server)
    std::printf("metrics on http://%s:%d/metrics\n", c.metrics_host.c_str(), metrics_port);
  std::fflush(stdout);
  server.serve();  // returns after stop()
  // Wake the signal thread if serve ended for another reason.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  if (metrics_server) {
    metrics_server->stop();
    metrics_thread.join();
  }
  runner.stop();
  dispatcher.stop();  // finishes the batch in flight and records it
  writer.stop();
  std::fprintf(stderr, "stayconnected: stopped cleanly\n");
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // Every file the service writes (database, secret, outbox, SMS log) holds
  // personal data or keys: private whatever umask it was started with, not
  // only under systemd's UMask=0077.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_file;
  if (args.size() >= 2 && args[0] == "--config") {
    config_file = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::FILE* out = args.empty() ? stderr : stdout;
    std::fputs(kHelp, out);
    std::fputs("\nVariables (default):\n", out);
    for (const auto& v : config_variables()) {
      std::fprintf(out, "  %-32.*s %.*s", static_cast<int>(v.name.size()), v.name.data(),
                   static_cast<int>(v.help.size()), v.help.data());
      if (!v.fallback.empty())
        std::fprintf(out, " (%.*s)", static_cast<int>(v.fallback.size()), v.fallback.data());
      std::fputc('\n', out);
    }
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("stayconnected 0.1.0\n");
    return 0;
  }
  try {
    Env env;
    if (!config_file.empty()) env = read_config_file(config_file);
    for (auto& [k, v] : environment()) env[k] = v;
    auto config = load_config(env);
    for (const auto& w : config.warnings)
      std::fprintf(stderr, "stayconnected: warning: %s\n", w.c_str());
    const auto& cmd = args[0];
    if (cmd == "migrate" && args.size() == 1) {
      check_data_dir(config);
      return cmd_migrate(config);
    }
    if (cmd == "serve" && args.size() == 1) {
      check_data_dir(config);            // before anything is written into it
      storage::migrate(config.db_path);  // a bad database path stops here
      Wiring w(std::move(config));
      return cmd_serve(w);
    }
    if (cmd == "keys") return cmd_keys(config, args);
    if (cmd == "broadcasts") return cmd_broadcasts(config, args);
    if (cmd == "send-test-email" && args.size() == 2) {
      Wiring w(std::move(config));
      return cmd_send_test_email(w, args[1]);
    }
    std::fprintf(stderr, "stayconnected: unknown command or wrong arguments: %s (see --help)\n",
                 cmd.c_str());
    return 2;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "stayconnected: configuration error: %s\n", e.what());
    return 2;
  } catch (const storage::StorageError& e) {
    std::fprintf(stderr, "stayconnected: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stayconnected: %s\n", e.what());
    return 1;
  }
}

}  // namespace sc
