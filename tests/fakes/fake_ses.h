// FakeSes: Amazon SES API v2 SendEmail on loopback. Checks every request the
// way AWS documents it: POST /v2/email/outbound-emails, Content-Type
// application/json, a SigV4 Authorization for service "ses" in its region
// that it recomputes itself (OpenSSL, independently of the project's signer)
// over the headers the request names, X-Amz-Date within 15 minutes, the
// session token when one is configured, and a body with the SendEmail shape
// (Content.Raw: base64 of a MIME message with CRLF lines of at most 1,000
// octets and one List-Unsubscribe). Anything else is a violation. A request
// with another access key, or signed with another secret or clock, gets the
// answer SES gives (403 UnrecognizedClientException, SignatureDoesNotMatch,
// InvalidSignatureException); the mismatch is also recorded, prefixed
// "signature mismatch", so a test that did not provoke it fails. Answers
// 200 {"MessageId"} unless an answer is scripted for the message's outbox_id
// (its EmailTags).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "fakes/loopback_server.h"

namespace sc::fakes {

class FakeSes {
 public:
  struct Options {
    std::string region = "eu-west-1";
    std::string access_key_id = "AKIAFAKESES000000001";
    std::string secret_access_key = "fake/Secret+Key0123456789abcdefghijklmno";
    std::string session_token;  // when set, every request must carry and sign it
    std::size_t threads = 32;
    std::function<std::int64_t()> now_unix;  // empty: the system clock
  };
  struct Answer {
    int status = 200;
    std::string error_type;  // x-amzn-ErrorType, e.g. "MessageRejected"
    std::string message;     // {"message": …}
    std::map<std::string, std::string> headers;
    int delay_ms = 0;
  };

  FakeSes();
  explicit FakeSes(Options options);
  ~FakeSes();

  std::string base_url() const { return server_.base_url(); }
  const Options& options() const { return options_; }

  // Successive answers for the message tagged outbox_id; then the default.
  void script(std::int64_t outbox_id, std::vector<Answer> answers);
  void set_default(Answer answer);

  std::vector<std::string> violations() const;
  std::size_t request_count() const;
  std::size_t connection_count() const;
  std::map<std::string, int> requests_per_outbox() const;
  std::vector<nlohmann::json> bodies()
      const;  // well-formed, correctly signed bodies, in arrival order
  std::vector<std::string> raw_messages() const;  // their Content.Raw.Data, decoded

 private:
  void handle(const httplib::Request& req, httplib::Response& res);
  void violation(const std::string& what);
  void wait_ms(int ms);
  // Empty when the signature holds; else the SES error type to answer with.
  std::string check_signature(const httplib::Request& req, std::string& why) const;
  static std::vector<std::string> check_body(const nlohmann::json& body, std::string& raw);

  Options options_;
  LoopbackServer server_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::vector<std::string> violations_;
  std::size_t requests_ = 0;
  std::set<int> connections_;
  std::uint64_t next_id_ = 0;
  std::map<std::string, int> per_outbox_;
  std::map<std::string, std::deque<Answer>> scripts_;
  Answer default_;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> raw_;
};

}  // namespace sc::fakes
