// AWS Signature Version 4 for requests signed in headers (the Authorization
// header), as AWS documents it and as its own test suite checks it
// (tests/data/aws-sigv4-test-suite). HMAC and SHA-256 come from OpenSSL
// through sc::crypto. Any AWS API a provider talks to (SES today) signs here.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc::providers::sigv4 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary (STS) credentials; empty for none
};

struct Scope {
  std::string region;   // "us-east-1"
  std::string service;  // the signing name: "ses" for SES v2
};

// One request as it will go on the wire.
struct Request {
  std::string method = "POST";
  // The path as the service sees it, not yet percent-encoded ("/v2/email/outbound-emails");
  // each byte outside the RFC 3986 unreserved set is encoded here, '/' kept.
  std::string path = "/";
  std::string query;  // as on the wire, without '?'; may be empty
  // Every header here is signed, Host among them (the caller sends exactly
  // these, so what is signed is what is sent).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct Options {
  // Remove "." and ".." segments and repeated slashes from the path before
  // signing: what every service but S3 expects.
  bool normalize_path = true;
  // Also send and sign x-amz-content-sha256 (S3 requires it; SES does not).
  bool content_sha256_header = false;
};

struct Signed {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
  // Headers to add to the request, in this order: X-Amz-Date,
  // X-Amz-Security-Token (with a session token), x-amz-content-sha256 (when
  // asked for), Authorization.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Signs `request` at `unix_time` (seconds since the epoch, UTC).
Signed sign(const Request& request, const Credentials& credentials, const Scope& scope,
            std::int64_t unix_time, const Options& options = {});

// "20150830T123600Z"
std::string amz_date(std::int64_t unix_time);
// RFC 3986 percent-encoding with upper-case hex: unreserved characters kept,
// and '/' too when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash);

}  // namespace sc::providers::sigv4
