#include "sc/app/broadcast_cli.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <regex>
#include <thread>

#include "sc/app/progress.h"
#include "sc/core/broadcast.h"
#include "sc/core/sms_segments.h"
#include "sc/render/renderer.h"
#include "sc/storage/open.h"

namespace sc {
namespace {

constexpr const char* kUsage =
    "usage: stayconnected broadcasts list [--limit N] [--before ID] | broadcasts show ID | "
    "broadcasts watch ID [--interval SECONDS] [--exit-on-pause]";

int usage(const std::string& message) {
  std::fprintf(stderr, "stayconnected: broadcasts %s; %s\n", message.c_str(), kUsage);
  return 2;
}

std::string utc(std::int64_t unix_seconds) {
  return unix_seconds == 0 ? "-" : format_rfc3339(unix_seconds);
}

std::optional<std::int64_t> parse_id(const std::string& s) {
  static const std::regex kDigits("[0-9]{1,18}");
  if (!std::regex_match(s, kDigits)) return std::nullopt;
  const auto v = std::stoll(s);
  if (v <= 0) return std::nullopt;
  return v;
}

// Read-only: the database must already exist (serve or migrate makes it).
std::unique_ptr<BroadcastReads> open_reads(const Config& config) {
  std::error_code ec;
  // A URL (a database server) is no file: storage finds what is there.
  if (config.db_path.find("://") == std::string::npos &&
      !std::filesystem::is_regular_file(config.db_path, ec))
    throw ConfigError("no database at " + config.db_path +
                      " (set SC_DB, or run `stayconnected migrate` first)");
  return storage::open_broadcast_reads(config.db_path);
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Indents every line of a multi-line text under its label.
void print_block(const char* label, const std::string& text) {
  std::printf("%s:\n", label);
  std::string line;
  for (char c : text + "\n") {
    if (c != '\n') {
      line += c;
      continue;
    }
    std::printf("  %s\n", line.c_str());
    line.clear();
  }
}

int list(BroadcastReads& reads, const std::vector<std::string>& args) {
  std::int64_t limit = 50, before = 0;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto& a = args[i];
    if ((a == "--limit" || a == "--before") && i + 1 < args.size()) {
      const auto v = parse_id(args[++i]);
      if (!v || (a == "--limit" && *v > 1000))
        return usage("list: " + a + " wants a whole number" +
                     (a == "--limit" ? " from 1 to 1000" : " above 0") + ", not \"" + args[i] +
                     "\"");
      (a == "--limit" ? limit : before) = *v;
      continue;
    }
    return usage("list: unexpected argument \"" + a + "\"");
  }
  const auto rows = reads.list(static_cast<int>(limit), before);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::printf("%-6s %-7s %-10s %-20s %9s %9s %7s %7s %7s %7s\n", "ID", "CHANNEL", "STATUS",
              "CREATED", "TOTAL", "SENT", "FAILED", "SKIPPED", "UNKNOWN", "QUEUED");
  for (const auto& b : rows) {
    const auto c = reads.counts(b.id, now);
    std::printf("%-6lld %-7s %-10s %-20s %9lld %9lld %7lld %7lld %7lld %7lld\n",
                static_cast<long long>(b.id), to_string(b.channel), to_string(b.status),
                utc(b.created_at).c_str(), static_cast<long long>(c.total),
                static_cast<long long>(c.sent), static_cast<long long>(c.failed),
                static_cast<long long>(c.skipped), static_cast<long long>(c.unknown),
                static_cast<long long>(c.queued + c.sending));
  }
  if (rows.empty()) std::printf("(no broadcasts%s)\n", before > 0 ? " before that id" : "");
  return 0;
}

int show(const Config& config, BroadcastReads& reads, const Broadcast& b) {
  const auto c = reads.counts(b.id, static_cast<std::int64_t>(std::time(nullptr)));
  std::printf("id:          %lld\n", static_cast<long long>(b.id));
  std::printf("channel:     %s\n", to_string(b.channel));
  std::printf("status:      %s\n", to_string(b.status));
  if (!b.pause_reason.empty()) std::printf("reason:      %s\n", b.pause_reason.c_str());
  std::printf("topics:      %s\n",
              b.topics.empty() ? "(all confirmed subscribers)" : join(b.topics).c_str());
  std::printf("send at:     %s\n", b.send_at == 0 ? "(when sent)" : utc(b.send_at).c_str());
  std::printf("created:     %s by %s\n", utc(b.created_at).c_str(),
              b.created_by.empty() ? "-" : b.created_by.c_str());
  std::printf("updated:     %s\n", utc(b.updated_at).c_str());
  std::printf("started:     %s\n", utc(b.started_at).c_str());
  std::printf("finished:    %s\n", utc(b.finished_at).c_str());
  if (!b.idempotency_key.empty()) std::printf("idempotency: %s\n", b.idempotency_key.c_str());
  if (b.status != BroadcastStatus::kDraft)
    std::printf("snapshot:    %s\n", b.snapshot_done ? "done" : "in progress");
  std::printf(
      "counts:      total %lld, queued %lld, sent %lld, failed %lld, skipped %lld, unknown %lld, "
      "delivered %lld, undelivered %lld\n",
      static_cast<long long>(c.total), static_cast<long long>(c.queued + c.sending),
      static_cast<long long>(c.sent), static_cast<long long>(c.failed),
      static_cast<long long>(c.skipped), static_cast<long long>(c.unknown),
      static_cast<long long>(c.delivered), static_cast<long long>(c.undelivered));
  // Of queued: texts held by quiet hours (SC_SMS_SEND_WINDOW where the recipient is).
  if (c.waiting > 0)
    std::printf("waiting:     %lld of the queued, %s (%s)\n", static_cast<long long>(c.waiting),
                waiting_phrase(c).c_str(), utc(c.waiting_until).c_str());
  if (b.channel == ChannelKind::kSms) {
    // Exactly as GET /api/v1/admin/broadcasts/{id} counts them (the same
    // vars): the longest first name a subscriber may have, and none, with the STOP line.
    try {
      Renderer renderer(
          Vars{{"org_name", config.org_name}, {"postal_address", config.postal_address}},
          config.templates_dir);
      // The same estimate as the API's (a link as long as the service's own).
      const auto seg =
          estimate_sms_segments(renderer, b.text, config.org_name, config.postal_address,
                                config.public_url + "/unsubscribe/" + std::string(64, 'x'));
      std::printf("segments:    %d (%s)\n", seg.segments, seg.gsm7 ? "GSM-7" : "UCS-2");
    } catch (const std::exception& e) {
      std::printf("segments:    - (the text does not render: %s)\n", e.what());
    }
  } else {
    std::printf("subject:     %s\n", b.subject.c_str());
  }
  print_block("text", b.text);
  if (!b.html.empty()) print_block("html", b.html);
  return 0;
}

int watch(BroadcastReads& reads, std::int64_t id, const std::vector<std::string>& args) {
  double interval = 1;
  bool exit_on_pause = false;
  for (std::size_t i = 3; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--exit-on-pause") {
      exit_on_pause = true;
      continue;
    }
    if (a == "--interval" && i + 1 < args.size()) {
      const auto& v = args[++i];
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d) || d < 0.1 || d > 3600)
        return usage("watch: --interval wants seconds from 0.1 to 3600, not \"" + v + "\"");
      interval = d;
      continue;
    }
    return usage("watch: unexpected argument \"" + a + "\"");
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  RateMeter meter;
  std::string last_line, last_reason;
  bool was_paused = false;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  for (;;) {
    auto b = reads.get(id);
    if (!b) return usage("watch: no broadcast with id " + std::to_string(id));
    const auto c = reads.counts(id, static_cast<std::int64_t>(std::time(nullptr)));
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    meter.add(now_ms, finished_recipients(c));
    const auto line = progress_line(c, b->status, meter.per_second());
    const bool ended =
        b->status == BroadcastStatus::kCompleted || b->status == BroadcastStatus::kCancelled;
    const bool paused = b->status == BroadcastStatus::kPaused;
    if (tty) {
      std::printf("\r%s\033[K", line.c_str());  // redraw in place, clearing what was longer
    } else if (line != last_line || ended) {
      std::printf("%s\n", line.c_str());
    }
    last_line = line;
    if (paused && (!was_paused || b->pause_reason != last_reason)) {
      std::printf("%spaused: %s\n", tty ? "\n" : "",
                  b->pause_reason.empty() ? "(no reason given)" : b->pause_reason.c_str());
      last_reason = b->pause_reason;
    }
    was_paused = paused;
    std::fflush(stdout);
    if (ended) {
      if (tty) std::printf("\n");
      std::printf("broadcast %lld %s\n", static_cast<long long>(id), to_string(b->status));
      return 0;
    }
    if (paused && exit_on_pause) return 3;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
}

}  // namespace

int cmd_broadcasts(const Config& config, const std::vector<std::string>& args) {
  if (args.size() < 2) return usage("missing subcommand");
  const auto& sub = args[1];
  if (sub == "list") {
    auto reads = open_reads(config);
    return list(*reads, args);
  }
  if (sub != "show" && sub != "watch") return usage("unknown subcommand \"" + sub + "\"");
  if (args.size() < 3) return usage(sub + ": give the broadcast's ID");
  const auto id = parse_id(args[2]);
  if (!id) return usage(sub + ": bad ID \"" + args[2] + "\" (a broadcast id is a whole number)");
  if (sub == "show" && args.size() != 3)
    return usage("show: unexpected argument \"" + args[3] + "\"");
  auto reads = open_reads(config);
  auto b = reads->get(*id);
  if (!b) {
    std::fprintf(stderr, "stayconnected: no broadcast with id %lld (see broadcasts list)\n",
                 static_cast<long long>(*id));
    return 2;
  }
  if (sub == "show") return show(config, *reads, *b);
  return watch(*reads, *id, args);
}

}  // namespace sc
