// Internal to http: a token bucket per client IP for sign-ups, so one
// client cannot use the form to flood strangers' inboxes or run up texts.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sc::detail {

// The key a client's limits are kept under. An IPv6 client counts by its /64:
// a home line or a cloud host gets a whole /64, so keying on the exact
// address would give one client 2^64 fresh buckets. IPv4 (and IPv4-mapped
// IPv6) is kept as the address; anything that does not parse is kept as is.
inline std::string client_bucket(const std::string& ip) {
  in6_addr a{};
  if (::inet_pton(AF_INET6, ip.c_str(), &a) != 1) return ip;
  char out[INET6_ADDRSTRLEN];
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    return ::inet_ntop(AF_INET, &a.s6_addr[12], out, sizeof out) != nullptr ? std::string(out) : ip;
  }
  std::fill(std::begin(a.s6_addr) + 8, std::end(a.s6_addr), std::uint8_t{0});
  return ::inet_ntop(AF_INET6, &a, out, sizeof out) != nullptr ? std::string(out) + "/64" : ip;
}

class RateLimiter {
 public:
  // burst: requests allowed at once; per_minute: the refill rate.
  RateLimiter(double burst, double per_minute) : burst_(burst), rate_(per_minute / 60.0) {}

  // Takes one token for the client at `ip` (its client_bucket); false when
  // the bucket is empty.
  bool allow(const std::string& ip,
             std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    const std::string key = client_bucket(ip);
    std::lock_guard lk(mu_);
    if (buckets_.size() > kMaxKeys) prune(now);
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
    auto& b = it->second;
    if (!fresh) {
      b.tokens =
          std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.at).count());
      b.at = now;
    }
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
  }

 private:
  static constexpr std::size_t kMaxKeys = 100000;
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  // Buckets that have refilled completely carry no state worth keeping.
  void prune(std::chrono::steady_clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      double t =
          it->second.tokens + rate_ * std::chrono::duration<double>(now - it->second.at).count();
      it = t >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  double burst_, rate_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace sc::detail
