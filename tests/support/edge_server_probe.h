// EdgeServerProbe: the connection counts tests read of an EdgeServer and
// production does not, kept out of the server's header (a friend of it).
// For the http tests only: it needs http's private headers (-I src).
#pragma once
#include <cstddef>
#include <mutex>

#include "http/edge_server.h"

namespace sc::detail {

struct EdgeServerProbe {
  // Connections closed at once because their IP held too many.
  static std::size_t refused_connections(const EdgeServer& s) { return s.refused_.load(); }
  // Connections open now, counted per client IP (trusted proxies are not counted).
  static std::size_t open_connections(const EdgeServer& s) {
    std::lock_guard lk(s.mu_);
    std::size_t n = 0;
    for (const auto& [ip, count] : s.per_ip_) n += count;
    return n;
  }
};

}  // namespace sc::detail
