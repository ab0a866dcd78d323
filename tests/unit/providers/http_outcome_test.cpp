// map_http_outcome, the one mapping every HTTP provider shares: which
// failures are ambiguous (the provider may have taken the message) and which
// surely were not processed.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include "providers/http_batch.h"

namespace sc::providers {
namespace {

ProviderReading nothing(const HttpOutcome&) { return {}; }

SendResult status(long http_status, std::string retry_after = {}) {
  HttpOutcome o;
  o.status = http_status;
  o.body = "{}";
  o.retry_after = std::move(retry_after);
  return map_http_outcome(o, nothing, 1'700'000'000);
}

SendResult transport(CURLcode rc) {
  HttpOutcome o;
  o.curl_code = static_cast<int>(rc);
  o.curl_error = curl_easy_strerror(rc);
  return map_http_outcome(o, nothing, 1'700'000'000);
}

TEST(HttpOutcome, GatewayErrorsAndLostAnswersAreAmbiguousAndStillRetried) {
  for (long s : {500L, 502L, 504L}) {
    auto r = status(s);
    EXPECT_EQ(r.status, SendStatus::kRetryable) << s;
    EXPECT_TRUE(r.ambiguous) << s;
    EXPECT_EQ(r.provider_code, std::to_string(s));
  }
  for (CURLcode rc : {CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING, CURLE_RECV_ERROR,
                      CURLE_PARTIAL_FILE, CURLE_SEND_ERROR}) {
    auto r = transport(rc);
    EXPECT_EQ(r.status, SendStatus::kRetryable) << rc;
    EXPECT_TRUE(r.ambiguous) << rc;
    EXPECT_EQ(r.provider_code, "curl:" + std::to_string(static_cast<int>(rc)));
  }
}

TEST(HttpOutcome, AnswersThatSayNothingWasProcessedAreNotAmbiguous) {
  // 429 and 503: the provider refused the request before processing it.
  auto r = status(429, "5");
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_FALSE(r.ambiguous);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(5));
  r = status(503);
  EXPECT_EQ(r.status, SendStatus::kRetryable);
  EXPECT_FALSE(r.ambiguous);
  // Nothing was sent: no connection, no name, no TLS.
  for (CURLcode rc :
       {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY,
        CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION}) {
    auto t = transport(rc);
    EXPECT_EQ(t.status, SendStatus::kRetryable) << rc;
    EXPECT_FALSE(t.ambiguous) << rc;
  }
  // Definite answers are never ambiguous.
  EXPECT_FALSE(status(201).ambiguous);
  EXPECT_FALSE(status(400).ambiguous);
  EXPECT_EQ(status(400).status, SendStatus::kPermanent);
  EXPECT_FALSE(status(401).ambiguous);
}

}  // namespace
}  // namespace sc::providers
