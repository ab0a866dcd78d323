// CidrSet: IPv4 and IPv6 networks in CIDR notation (SC_TRUSTED_PROXIES), and
// the client address of a request that came through such proxies.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sc/core/result.h"

namespace sc {

class CidrSet {
 public:
  // "10.0.0.0/8, 192.168.1.7 ::1 fd00::/8": commas or spaces between entries;
  // an address without a prefix is one host. An empty list trusts nobody.
  static Result<CidrSet> parse(std::string_view list);
  bool contains(std::string_view ip) const;
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    std::array<std::uint8_t, 16> addr{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                       // bits over the 128
  };
  std::vector<Net> nets_;
};

// The textual address with IPv4-mapped IPv6 ("::ffff:1.2.3.4") written as
// IPv4; nullopt when `ip` is not an address.
std::optional<std::string> normalize_ip(std::string_view ip);

// The client address: the peer, unless the peer is a trusted proxy; then the
// rightmost X-Forwarded-For hop that is not itself trusted (each proxy
// appends the address it was reached from, so only hops right of the first
// untrusted one are vouched for). `forwarded_for` holds the header's values
// in the order they arrived. A malformed hop stops the walk at the last
// address that was vouched for.
std::string client_address(std::string_view peer, const std::vector<std::string>& forwarded_for,
                           const CidrSet& trusted);

}  // namespace sc
