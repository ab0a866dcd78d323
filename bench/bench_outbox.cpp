// Outbox throughput (issue #3): N confirmation emails queued in a real
// SQLite outbox (group commit, synchronous=FULL), sent by the real
// Dispatcher (claim, render the templates, send, record) through the real
// SendgridEmailSender to a loopback SendGrid sink with 0 ms and with 50 ms
// latency. Prints emails/s from the first claim to the last recorded send.
//   bench_outbox [messages_at_0ms=20000] [messages_at_50ms=5000] [batch=1024] [in_flight=64]
// Two lanes (issue 7): 100,000 bulk (broadcast) emails queued, then one
// sign-up's confirmation while the backlog drains; prints the confirmation's
// latency from its commit to the provider's answer.
//   bench_outbox lanes [bulk=100000] [batch=512] [in_flight=64]
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sc/core/consent_service.h"
#include "sc/dispatch/dispatcher.h"
#include "sc/providers/crypto.h"
#include "sc/providers/sendgrid_email_sender.h"
#include "sc/render/renderer.h"
#include "sc/storage/storage.h"
#include "sink.h"
#include "support/db_inspect.h"
#include "support/dispatcher_probe.h"

namespace {

class WallClock final : public sc::Clock {
 public:
  std::int64_t now_unix() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class Ids final : public sc::IdSource {
 public:
  std::string next_id() override { return "bench" + std::to_string(++n_); }

 private:
  std::uint64_t n_ = 0;
};

class NoSms final : public sc::SmsSender {
 public:
  std::string name() const override { return "none"; }
  sc::SendResult send(const sc::OutboundSms&) override {
    return sc::SendResult::permanent("none", "no sms");
  }
};

// CPU seconds (user + system) per thread name from /proc, and for the whole
// process (which also counts threads that have already ended).
struct CpuSnapshot {
  std::map<std::string, double> by_name;
  double total = 0;
};

double stat_cpu_seconds(const std::string& path, std::string* comm) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  const auto open = line.find('('), close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return 0;
  if (comm != nullptr) *comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CpuSnapshot cpu_snapshot() {
  CpuSnapshot s;
  s.total = stat_cpu_seconds("/proc/self/stat", nullptr);
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    const double secs = stat_cpu_seconds((e.path() / "stat").string(), &comm);
    s.by_name[comm] += secs;
  }
  return s;
}

void print_cpu(const CpuSnapshot& a, const CpuSnapshot& b, double wall, int n) {
  std::printf(
      "  CPU %.2f s of %.2f s wall (%.0f%% of 2 cores), %.0f us per email:", b.total - a.total,
      wall, 100.0 * (b.total - a.total) / (2 * wall), 1e6 * (b.total - a.total) / n);
  double named = 0;
  for (const auto& [name, secs] : b.by_name) {
    const auto it = a.by_name.find(name);
    const double d = secs - (it == a.by_name.end() ? 0 : it->second);
    named += d;
    std::printf(" %s %.2f s;", name.c_str(), d);
  }
  std::printf(" ended threads %.2f s\n", (b.total - a.total) - named);
}

// Each stage alone, on one thread, over one claimed batch: what a message
// costs on our side before and after the network. The batch goes back to
// the queue afterwards, so the timed run sends every message.
void stage_costs(const std::string& db, const sc::Renderer& renderer, const sc::Clock& clock) {
  using Clock = std::chrono::steady_clock;
  auto us_per = [](Clock::time_point a, Clock::time_point b, std::size_t n) {
    return std::chrono::duration<double, std::micro>(b - a).count() / static_cast<double>(n);
  };
  sc::storage::WriteQueue writer(db);
  const auto now = clock.now_unix();
  const auto t0 = Clock::now();
  auto batch = writer.run(
      [&](sc::storage::WriteContext& c) { return claim_due(c.outbox(), now, 1024, now + 60); });
  const auto t1 = Clock::now();
  std::size_t payload_bytes = 0;
  for (const auto& m : batch) payload_bytes += m.payload.size();
  if (!batch.empty()) std::printf("  sample payload: %s\n", batch.front().payload.c_str());
  for (auto& m : batch) sc::storage::decode_payload(m);
  const auto t2 = Clock::now();
  for (auto& m : batch) sc::render_queued(renderer, m.email);
  const auto t3 = Clock::now();
  std::size_t bytes = 0;
  for (const auto& m : batch) bytes += sc::providers::sendgrid_request_body(m.email).size();
  const auto t4 = Clock::now();
  // Recording: one UPDATE by id per message, as for a sent one; this one
  // puts the message back in the queue.
  writer.run([&](sc::storage::WriteContext& c) {
    for (const auto& m : batch)
      c.outbox().mark_retry(m.id, sc::SendResult::retryable("bench", "again"), 0);
  });
  const auto t5 = Clock::now();
  const auto n = batch.size();
  std::printf(
      "  per message, one thread, batch of %zu: claim %.1f us, decode %.1f us (%zu bytes), render "
      "%.1f us,"
      " SendGrid JSON %.1f us (%zu bytes), record %.1f us\n",
      n, us_per(t0, t1, n), us_per(t1, t2, n), payload_bytes / n, us_per(t2, t3, n),
      us_per(t3, t4, n), bytes / n, us_per(t4, t5, n));
}

double run(int delay_ms, int n, int batch, int in_flight) {
  if (n <= 0) return 0;
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() /
             ("sc-bench-outbox-" + std::to_string(::getpid()) + "-" + std::to_string(delay_ms));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto db = (dir / "sc.db").string();
  sc::storage::migrate(db);

  WallClock clock;
  Ids ids;
  sc::crypto::HmacSigner signer("bench-secret-0123456789abcdef");
  sc::Renderer renderer(sc::Vars{{"org_name", "Bench Org"}, {"postal_address", "1 Main St"}});
  sc::ServiceConfig cfg;
  cfg.public_url = "https://signup.example.org";
  cfg.from = {"news@example.org", "Bench Org"};
  sc::ConsentService service(cfg, signer, renderer, nullptr, ids);

  {
    // Queue the messages the way sign-ups do: one confirmation each.
    sc::storage::WriteQueue writer(db);
    const auto now = clock.now_unix();
    for (int done = 0; done < n;) {
      const int chunk = std::min(5000, n - done);
      writer.run([&](sc::storage::WriteContext& c) {
        for (int i = 0; i < chunk; ++i) {
          sc::ValidatedSignup v;
          v.email = sc::Email::parse("reader" + std::to_string(done + i) + "@example.org").value();
          service.sign_up(c.tx(), v, {"192.0.2.1", "bench"}, now);
        }
      });
      done += chunk;
    }
  }

  if (delay_ms == 0) stage_costs(db, renderer, clock);

  sc::bench::Sink sink(delay_ms, static_cast<std::size_t>(in_flight) + 16);
  sc::providers::SendgridConfig scfg;
  scfg.api_key = sc::bench::Sink::api_key();
  scfg.api_base = sink.base_url();
  scfg.max_in_flight = in_flight;
  sc::providers::SendgridEmailSender sender(scfg);
  NoSms sms;

  sc::storage::WriteQueue writer(db);
  sc::storage::ReadPool reads(db, 1);
  sc::Dispatcher::Options opts;
  opts.batch_size = batch;
  sc::storage::WriterOutbox outbox(writer, reads);
  sc::Dispatcher dispatcher(outbox, sender, sms, clock, opts);
  dispatcher.set_composer(&renderer);
  const auto cpu0 = cpu_snapshot();
  const auto t0 = std::chrono::steady_clock::now();
  dispatcher.start();
  // The dispatcher's own count of recorded outcomes; polling the outbox
  // table instead would scan it and take CPU from the run. The outbox
  // itself is checked after the dispatcher has stopped.
  while (sc::DispatcherProbe::stats(dispatcher).sent +
             sc::DispatcherProbe::stats(dispatcher).failed <
         static_cast<std::uint64_t>(n))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto cpu1 = cpu_snapshot();
  dispatcher.stop();
  const auto counts = sc::db_inspect::outbox_counts(db);
  std::printf(
      "latency %3d ms: %6d emails in %6.2f s = %7.0f emails/s (batch %d, %d in flight; sink got "
      "%zu, rejected %zu; outbox sent %lld failed %lld)\n",
      delay_ms, n, secs, n / secs, batch, in_flight, sink.count(), sink.bad(),
      static_cast<long long>(counts.sent), static_cast<long long>(counts.failed));
  print_cpu(cpu0, cpu1, secs, n);
  writer.stop();
  fs::remove_all(dir);
  return n / secs;
}

// Forwards to the real sender and notes when the batch holding one
// watched message has been answered.
class WatchingSender final : public sc::EmailSender {
 public:
  explicit WatchingSender(sc::EmailSender& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  sc::SendResult send(const sc::OutboundEmail& m) override { return inner_.send(m); }
  std::vector<sc::SendResult> send_batch(std::span<const sc::OutboundEmail> ms) override {
    auto out = inner_.send_batch(ms);
    const auto watched = watched_.load();
    for (const auto& m : ms) {
      if (watched != 0 && m.outbox_id == watched) {
        answered_at_ = std::chrono::steady_clock::now();
        answered_.store(true);
      }
    }
    sent_.fetch_add(ms.size());
    return out;
  }
  int max_in_flight() const override { return inner_.max_in_flight(); }
  // The dispatcher streams: pass the feed through, noting each answer.
  void send_stream(sc::SendFeed<sc::OutboundEmail>& feed) override {
    struct Watch final : sc::SendFeed<sc::OutboundEmail> {
      Watch(sc::SendFeed<sc::OutboundEmail>& f, WatchingSender& o) : feed(f), owner(o) {}
      const sc::OutboundEmail* next(bool wait) override {
        const auto* m = feed.next(wait);
        if (m != nullptr) ids.push_back(m->outbox_id);
        return m;
      }
      bool finished() override { return feed.finished(); }
      void answer(std::size_t i, sc::SendResult r) override {
        feed.answer(i, std::move(r));
        const auto watched = owner.watched_.load();
        if (i < ids.size() && watched != 0 && ids[i] == watched) {
          owner.answered_at_ = std::chrono::steady_clock::now();
          owner.answered_.store(true);
        }
        owner.sent_.fetch_add(1);
      }
      sc::SendFeed<sc::OutboundEmail>& feed;
      WatchingSender& owner;
      std::vector<std::int64_t> ids;
    } watch(feed, *this);
    inner_.send_stream(watch);
  }
  std::atomic<std::int64_t> watched_{0};
  std::atomic<bool> answered_{false};
  std::atomic<std::size_t> sent_{0};
  std::chrono::steady_clock::time_point answered_at_;

 private:
  sc::EmailSender& inner_;
};

int run_lanes(int bulk, int batch, int in_flight) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("sc-bench-lanes-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto db = (dir / "sc.db").string();
  sc::storage::migrate(db);
  WallClock clock;
  Ids ids;
  sc::crypto::HmacSigner signer("bench-secret-0123456789abcdef");
  sc::Renderer renderer(sc::Vars{{"org_name", "Bench Org"}, {"postal_address", "1 Main St"}});
  sc::ServiceConfig cfg;
  cfg.public_url = "https://signup.example.org";
  cfg.from = {"news@example.org", "Bench Org"};
  sc::ConsentService service(cfg, signer, renderer, nullptr, ids);
  {
    // A broadcast's backlog: confirmed subscribers, one bulk email each.
    sc::storage::WriteQueue writer(db);
    const auto now = clock.now_unix();
    for (int done = 0; done < bulk;) {
      const int chunk = std::min(5000, bulk - done);
      writer.run([&](sc::storage::WriteContext& c) {
        for (int i = 0; i < chunk; ++i) {
          sc::Channel ch;
          ch.subscriber_id = c.tx().subscribers.insert_subscriber(sc::Subscriber{0, "", "", now});
          ch.kind = sc::ChannelKind::kEmail;
          ch.address = "reader" + std::to_string(done + i) + "@example.org";
          ch.state = sc::ConsentState::kConfirmed;
          ch.created_at = ch.updated_at = now;
          c.tx().subscribers.insert_channel(ch);
        }
      });
      done += chunk;
    }
    // The broadcast to all of them: its ledger (outbox rows 1..bulk) written
    // set-based in chunks, as the BroadcastRunner does.
    writer.run([&](sc::storage::WriteContext& c) {
      sc::Broadcast b;
      b.channel = sc::ChannelKind::kEmail;
      b.subject = "Our news";
      b.text = "News text for {{first_name}}";
      b.html = "<p>News</p>";
      b.created_at = now;
      const auto id = c.broadcast_tx().drafts.insert(b);
      c.broadcast_tx().drafts.set_status(id, sc::BroadcastStatus::kSending, "", now);
      for (;;) {
        auto cur = c.broadcast_tx().drafts.find(id);
        if (cur->snapshot_done) break;
        c.broadcast_tx().ledger.snapshot_chunk(*cur, 50'000, now);
      }
    });
  }
  sc::bench::Sink sink(0, static_cast<std::size_t>(in_flight) + 16);
  sc::providers::SendgridConfig scfg;
  scfg.api_key = sc::bench::Sink::api_key();
  scfg.api_base = sink.base_url();
  scfg.max_in_flight = in_flight;
  sc::providers::SendgridEmailSender real(scfg);
  WatchingSender sender(real);
  NoSms sms;
  sc::storage::WriteQueue writer(db);
  sc::storage::ReadPool reads(db, 1);
  sc::storage::WriterOutbox outbox(writer, reads);
  sc::Dispatcher::Options opts;
  opts.batch_size = batch;
  sc::Dispatcher dispatcher(outbox, sender, sms, clock, opts);
  dispatcher.set_composer(&renderer);
  sc::BroadcastComposer::Settings bs;
  bs.org_name = "Bench Org";
  bs.postal_address = "1 Main St";
  bs.from = cfg.from;
  bs.list_id = "Bench Org <broadcasts.example.org>";
  bs.feedback_id_tail = ":stayconnected:example.org";
  sc::BroadcastComposer broadcasts(renderer, service, bs,
                                   [&reads](std::int64_t id) { return reads.broadcast(id); });
  dispatcher.set_broadcast_composer(&broadcasts);
  writer.set_on_outbox_commit([&dispatcher] { dispatcher.wake(); });
  const auto t0 = std::chrono::steady_clock::now();
  dispatcher.start();
  // Let the backlog drain for a while (a tenth of it), then sign someone up.
  while (sender.sent_.load() < static_cast<std::size_t>(bulk / 10))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto before = outbox.depth(clock.now_unix());
  std::int64_t bulk_queued = 0;
  for (const auto& c : before.cells)
    if (c.lane == sc::OutboxLane::kBulk && c.state == "queued") bulk_queued = c.count;
  // The sign-up's confirmation will be the next outbox row (watched before
  // it exists, so its send cannot slip past unseen).
  sender.watched_.store(static_cast<std::int64_t>(bulk) + 1);
  sc::ValidatedSignup v;
  v.email = sc::Email::parse("new-reader@example.org").value();
  const auto outcome = writer.run([&](sc::storage::WriteContext& c) {
    return service.sign_up(c.tx(), v, {"192.0.2.1", "bench"}, clock.now_unix());
  });
  const auto committed = std::chrono::steady_clock::now();
  (void)outcome;
  // The confirmation is the newest outbox row.
  const auto newest = sc::db_inspect::outbox_rows(db, static_cast<std::int64_t>(bulk), 10);
  if (newest.empty() || newest.back().id != static_cast<std::int64_t>(bulk) + 1) {
    std::fprintf(stderr, "the confirmation is not outbox row %d\n", bulk + 1);
    return 1;
  }
  while (!sender.answered_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double latency_ms =
      std::chrono::duration<double, std::milli>(sender.answered_at_ - committed).count();
  const double elapsed = std::chrono::duration<double>(committed - t0).count();
  const auto sent_then = sender.sent_.load();
  dispatcher.stop();
  writer.set_on_outbox_commit(nullptr);
  std::printf(
      "lanes: %d bulk emails queued; after %zu sent (%.1f s, %.0f/s), %lld bulk still queued, a "
      "sign-up's"
      " confirmation went out %.1f ms after its commit (batch %d, %d in flight)\n",
      bulk, sent_then, elapsed, static_cast<double>(sent_then) / elapsed,
      static_cast<long long>(bulk_queued), latency_ms, batch, in_flight);
  writer.stop();
  fs::remove_all(dir);
  const bool ok = latency_ms < 1000;
  std::printf("%s: target is < 1000 ms behind a backlog of bulk messages\n",
              ok ? "PASS" : "BELOW TARGET");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "lanes") {
    return run_lanes(argc > 2 ? std::atoi(argv[2]) : 100000, argc > 3 ? std::atoi(argv[3]) : 512,
                     argc > 4 ? std::atoi(argv[4]) : 64);
  }
  const int n0 = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int n50 = argc > 2 ? std::atoi(argv[2]) : 5000;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 1024;
  const int in_flight = argc > 4 ? std::atoi(argv[4]) : 64;
  const double a = run(0, n0, batch, in_flight);
  const double b = run(50, n50, batch, in_flight);
  const bool ok = (n0 <= 0 || a >= 5000) && (n50 <= 0 || b >= 1000);
  std::printf("%s: targets are >= 5000 emails/s at 0 ms and >= 1000 emails/s at 50 ms\n",
              ok ? "PASS" : "BELOW TARGET");
  return ok ? 0 : 1;
}
