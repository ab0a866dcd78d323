// The /metrics collectors of the running service: what the dispatcher
// observes per send, and what is read at scrape time.
#pragma once
#include <vector>

#include "sc/core/health.h"
#include "sc/core/metrics.h"
#include "sc/core/ports/services.h"
#include "sc/dispatch/dispatcher.h"
#include "sc/storage/open.h"

namespace sc {

// The providers' state for /healthz.
std::vector<ProviderHealth> provider_health(const Dispatcher& d);

// Sends by provider and outcome and their latency (from the dispatcher's
// thread), and, at scrape time, the outbox's depth and the providers' state.
void wire_dispatch_metrics(metrics::Registry& registry, Dispatcher& dispatcher, const Clock& clock);

// Broadcasts by status and the recipients of the recent ones, read at scrape time.
void wire_broadcast_metrics(metrics::Registry& registry, storage::Database& db, const Clock& clock);
// sc_subscribers{channel,state}: channels by kind and state, counted in the
// database at each scrape (they survive restarts, unlike sc_signups_total).
void wire_subscriber_metrics(metrics::Registry& registry, storage::Database& db);

}  // namespace sc
