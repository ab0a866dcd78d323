// The edge's variables in load_config: defaults, valid values, and the
// one-line message for a bad one.
#include <gtest/gtest.h>

#include "sc/app/config.h"

namespace sc {
namespace {

TEST(ConfigEdge, MaxConnectionsPerIp) {
  EXPECT_EQ(load_config({}).http_max_connections_per_ip, 64u);
  EXPECT_EQ(load_config({{"SC_HTTP_MAX_CONNECTIONS_PER_IP", "8"}}).http_max_connections_per_ip, 8u);
  try {
    load_config({{"SC_HTTP_MAX_CONNECTIONS_PER_IP", "0"}});
    FAIL() << "0 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "SC_HTTP_MAX_CONNECTIONS_PER_IP must be a whole number from 1 to 16384, not '0'");
  }
}

TEST(ConfigEdge, TrustedProxies) {
  EXPECT_EQ(load_config({}).trusted_proxies, "");
  EXPECT_EQ(load_config({{"SC_TRUSTED_PROXIES", "127.0.0.1, ::1 10.0.0.0/8"}}).trusted_proxies,
            "127.0.0.1, ::1 10.0.0.0/8");
  EXPECT_TRUE(load_config({}).warnings.empty());
  try {
    load_config({{"SC_TRUSTED_PROXIES", "10.0.0.0/8,proxy.example.org"}});
    FAIL() << "a host name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "SC_TRUSTED_PROXIES must be a list of IPv4/IPv6 addresses or CIDR networks: "
                 "'proxy.example.org' is not an IPv4 or IPv6 address or network");
  }
}

}  // namespace
}  // namespace sc
