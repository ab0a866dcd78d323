#include "sc/app/metrics_wiring.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace sc {

std::vector<ProviderHealth> provider_health(const Dispatcher& d) {
  std::vector<ProviderHealth> out;
  for (const auto& p : d.provider_states()) {
    out.push_back(ProviderHealth{p.name, p.channel, p.paused, p.reason, p.since,
                                 p.consecutive_failures, p.next_probe_at_ms / 1000});
  }
  return out;
}

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
// scrape time through the read connections: one GROUP BY over the
// (broadcast_id, state, id) index per broadcast.
void wire_broadcast_metrics(metrics::Registry& registry, storage::Database& db,
                            const Clock& clock) {
  registry.add_collector([&db, &clock](metrics::Collector& c) {
    const auto statuses = db.broadcast_status_counts();
    for (auto s :
         {BroadcastStatus::kDraft, BroadcastStatus::kScheduled, BroadcastStatus::kSending,
          BroadcastStatus::kPaused, BroadcastStatus::kCompleted, BroadcastStatus::kCancelled}) {
      double n = 0;
      for (const auto& [status, count] : statuses)
        if (status == to_string(s)) n = static_cast<double>(count);
      c.gauge("sc_broadcasts", "Broadcasts, by status.", {{"status", to_string(s)}}, n);
    }
    const auto now = clock.now_unix();
    for (const auto& b : db.broadcasts_in_progress(now - 3600, 50)) {
      const auto n = db.broadcast_reads().counts(b.id, now);
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

void wire_subscriber_metrics(metrics::Registry& registry, storage::Database& db) {
  registry.add_collector([&db](metrics::Collector& c) {
    const auto counts = db.subscriber_reads().channel_counts();
    for (auto kind : {ChannelKind::kEmail, ChannelKind::kSms}) {
      for (auto state : {ConsentState::kPending, ConsentState::kConfirmed,
                         ConsentState::kUnsubscribed, ConsentState::kUndeliverable}) {
        double n = 0;
        for (const auto& x : counts)
          if (x.kind == kind && x.state == state) n = static_cast<double>(x.count);
        c.gauge("sc_subscribers", "Subscribers' channels, by channel and consent state.",
                {{"channel", to_string(kind)}, {"state", to_string(state)}}, n);
      }
    }
  });
}

}  // namespace sc
