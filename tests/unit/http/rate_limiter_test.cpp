#include "http/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace sc::detail {
namespace {

using Clock = std::chrono::steady_clock;

TEST(ClientBucket, Ipv4IsKeptAsIs) {
  EXPECT_EQ(client_bucket("203.0.113.7"), "203.0.113.7");
  EXPECT_NE(client_bucket("203.0.113.7"), client_bucket("203.0.113.8"));
}

TEST(ClientBucket, Ipv6IsBucketedByItsSlash64) {
  // One home or cloud host gets a whole /64: its addresses share one bucket.
  EXPECT_EQ(client_bucket("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_bucket("2001:db8:1:2::1"),
            client_bucket("2001:0DB8:0001:0002:ffff:ffff:ffff:ffff"));
  EXPECT_NE(client_bucket("2001:db8:1:2::1"), client_bucket("2001:db8:1:3::1"));
  EXPECT_EQ(client_bucket("::1"), "::/64");
}

TEST(ClientBucket, Ipv4MappedIpv6CountsAsIpv4) {
  EXPECT_EQ(client_bucket("::ffff:203.0.113.7"), "203.0.113.7");
}

TEST(ClientBucket, AnythingElseIsKeptAsIs) {
  EXPECT_EQ(client_bucket(""), "");
  EXPECT_EQ(client_bucket("not-an-ip"), "not-an-ip");
  EXPECT_EQ(client_bucket("2001:db8::1%eth0"), "2001:db8::1%eth0");
}

// The finding: a client rotating through the addresses of its /64 got a fresh
// bucket for each one.
TEST(RateLimiter, AddressesOfOneIpv6Slash64ShareOneBucket) {
  RateLimiter limiter(3, 0);  // 3 at once, no refill
  auto now = Clock::now();
  EXPECT_TRUE(limiter.allow("2001:db8:1:2::1", now));
  EXPECT_TRUE(limiter.allow("2001:db8:1:2::2", now));
  EXPECT_TRUE(limiter.allow("2001:db8:1:2:ffff::3", now));
  EXPECT_FALSE(limiter.allow("2001:db8:1:2::4", now));
  EXPECT_TRUE(limiter.allow("2001:db8:1:3::1", now));  // the next /64 is someone else
  EXPECT_TRUE(limiter.allow("203.0.113.1", now));
}

TEST(RateLimiter, Ipv4AddressesAreLimitedEachOnItsOwn) {
  RateLimiter limiter(1, 0);
  auto now = Clock::now();
  EXPECT_TRUE(limiter.allow("203.0.113.1", now));
  EXPECT_FALSE(limiter.allow("203.0.113.1", now));
  EXPECT_TRUE(limiter.allow("203.0.113.2", now));
}

}  // namespace
}  // namespace sc::detail
