#include "sc/http/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sc {
namespace {

// Parses an IPv4 or IPv6 address into the 16-byte IPv6 form.
std::optional<std::array<std::uint8_t, 16>> parse_ip(std::string_view ip) {
  if (ip.empty() || ip.size() > 45) return std::nullopt;
  std::string s(ip);
  std::array<std::uint8_t, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool is_mapped_v4(const std::array<std::uint8_t, 16>& a) {
  for (int i = 0; i < 10; ++i) {
    if (a[static_cast<std::size_t>(i)] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<CidrSet> CidrSet::parse(std::string_view list) {
  CidrSet set;
  std::size_t i = 0;
  while (i < list.size()) {
    auto end = list.find_first_of(", \t", i);
    if (end == std::string_view::npos) end = list.size();
    auto item = list.substr(i, end - i);
    i = end + 1;
    if (item.empty()) continue;
    auto slash = item.find('/');
    auto addr = parse_ip(item.substr(0, slash));
    if (!addr)
      return invalid("bad_cidr",
                     "'" + std::string(item) + "' is not an IPv4 or IPv6 address or network");
    const bool v4 = is_mapped_v4(*addr) && item.find(':') == std::string_view::npos;
    int prefix = v4 ? 32 : 128;
    if (slash != std::string_view::npos) {
      auto p = item.substr(slash + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
      if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 ||
          prefix > (v4 ? 32 : 128)) {
        return invalid("bad_cidr", "'" + std::string(item) + "' has a bad prefix length");
      }
    }
    Net n;
    n.addr = *addr;
    n.prefix = v4 ? prefix + 96 : prefix;
    set.nets_.push_back(n);
  }
  return set;
}

bool CidrSet::contains(std::string_view ip) const {
  auto a = parse_ip(ip);
  if (!a) return false;
  for (const auto& n : nets_) {
    int bits = n.prefix;
    bool match = true;
    for (std::size_t b = 0; b < 16 && bits > 0 && match; ++b, bits -= 8) {
      auto mask = static_cast<std::uint8_t>(bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff);
      match = ((*a)[b] & mask) == (n.addr[b] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::optional<std::string> normalize_ip(std::string_view ip) {
  auto a = parse_ip(ip);
  if (!a) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_mapped_v4(*a)) {
    inet_ntop(AF_INET, a->data() + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, a->data(), buf, sizeof(buf));
  }
  return std::string(buf);
}

std::string client_address(std::string_view peer, const std::vector<std::string>& forwarded_for,
                           const CidrSet& trusted) {
  std::string client = normalize_ip(peer).value_or(std::string(peer));
  if (trusted.empty() || !trusted.contains(client)) return client;
  std::vector<std::string_view> hops;
  for (const auto& v : forwarded_for) {
    std::string_view s(v);
    std::size_t i = 0;
    while (i <= s.size()) {
      auto end = s.find(',', i);
      if (end == std::string_view::npos) end = s.size();
      hops.push_back(trim(s.substr(i, end - i)));
      i = end + 1;
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto hop = normalize_ip(*it);
    if (!hop) break;  // not vouched for: keep the last trusted hop
    client = *hop;
    if (!trusted.contains(client)) break;
  }
  return client;
}

}  // namespace sc
