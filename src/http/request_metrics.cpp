#include "request_metrics.h"

#include <chrono>

namespace sc::detail {

namespace {
thread_local std::chrono::steady_clock::time_point t_started{};
thread_local bool t_timing = false;
thread_local std::string t_route;
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
    registry_
        ->counter("sc_http_requests_total", "HTTP requests answered, by route and status.",
                  {{"route", route}, {"status", std::to_string(res.status)}})
        .inc();
    if (t_timing) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t_started).count();
      registry_
          ->histogram("sc_http_request_duration_seconds",
                      "Time from the request head read to the answer written, by route.",
                      metrics::latency_buckets(), {{"route", route}})
          .observe(seconds);
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
