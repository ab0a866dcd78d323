#include "request_metrics.h"

#include <chrono>
#include <map>
#include <utility>

namespace sc::detail {

namespace {
thread_local std::chrono::steady_clock::time_point t_started{};
thread_local bool t_timing = false;
thread_local std::string t_route;

// Each serving thread keeps the series it has used, so an answer costs no
// registry lock and no label formatting after the first of its kind. Server
// threads end with their server, and with them these caches.
struct SeriesCache {
  const metrics::Registry* registry = nullptr;
  std::map<std::pair<std::string, int>, metrics::Counter*> counters;
  std::map<std::string, metrics::Histogram*> histograms;
};
thread_local SeriesCache t_cache;
}  // namespace

void RequestMetrics::begin() const {
  t_started = std::chrono::steady_clock::now();
  t_timing = true;
  t_route.clear();
}

void RequestMetrics::matched(const std::string& route) { t_route = route; }

void RequestMetrics::end(const httplib::Request&, const httplib::Response& res) const {
  // Unmatched paths share one label: a scanner's thousand URLs must not
  // become a thousand series.
  const std::string route = t_route.empty() ? "unmatched" : t_route;
  if (registry_ != nullptr) {
    if (t_cache.registry != registry_) t_cache = SeriesCache{registry_, {}, {}};
    auto& counter = t_cache.counters[{route, res.status}];
    if (counter == nullptr) {
      counter = &registry_->counter("sc_http_requests_total",
                                    "HTTP requests answered, by route and status.",
                                    {{"route", route}, {"status", std::to_string(res.status)}});
    }
    counter->inc();
    if (t_timing) {
      auto& histogram = t_cache.histograms[route];
      if (histogram == nullptr) {
        histogram = &registry_->histogram(
            "sc_http_request_duration_seconds",
            "Time from the request head read to the answer written, by route.",
            metrics::latency_buckets(), {{"route", route}});
      }
      histogram->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t_started).count());
    }
  }
  t_timing = false;
  t_route.clear();
}

std::string RequestMetrics::label_for_pattern(const std::string& pattern) {
  std::string out;
  int depth = 0;
  for (char c : pattern) {
    if (c == '(') {
      if (depth++ == 0) out += "{token}";
    } else if (c == ')') {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

}  // namespace sc::detail
