// Internal to http: requests by route and status, and their duration.
// cpp-httplib serves a connection on one thread from head to answer, so the
// start time and the matched route travel in thread-locals from the
// pre-routing handler and the router to the logger, which runs after every
// answer (also the library's own 400/404/413s, which never reach a route).
#pragma once
#include <httplib.h>

#include <string>

#include "sc/core/metrics.h"

namespace sc::detail {

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Registry* registry) : registry_(registry) {}
  // Pre-routing: the request head has been read.
  void begin() const;
  // The router matched `route` (a label such as "/confirm/{token}").
  static void matched(const std::string& route);
  // After the answer was written.
  void end(const httplib::Request& req, const httplib::Response& res) const;
  // "/confirm/([^/]*)" -> "/confirm/{token}"
  static std::string label_for_pattern(const std::string& pattern);

 private:
  metrics::Registry* registry_;
};

}  // namespace sc::detail
