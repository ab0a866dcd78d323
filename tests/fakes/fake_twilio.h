// FakeTwilio: Twilio's Create Message on loopback. Checks every request the
// way Twilio documents it (the account in the path, HTTP basic auth with that
// account and its token, a form body with To, exactly one of From and
// MessagingServiceSid, a Body of at most 1,600 characters) and records a
// violation for anything else; answers 201 with a fresh SM sid unless an
// answer is scripted for the recipient. Basic auth with a wrong token gets
// Twilio's 401 with code 20003 (a case tests provoke, not a violation).
// A StatusCallback, when sent, must be an absolute http(s) URL whose host
// has no '_' (Twilio's 21609). Answers can be scripted per recipient, one
// after another (429 then 201), and an answer can hang: it never comes
// until the client gives up (or the fake is destroyed).
#pragma once
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fakes/loopback_server.h"

namespace sc::fakes {

class FakeTwilio {
 public:
  static constexpr const char* kAccountSid = "AC0123456789abcdef0123456789abcdef";
  static constexpr const char* kAuthToken = "auth-token-123";
  // The sid of the n-th message created (from 1): SM + 32 hex digits, as Twilio's.
  static std::string message_sid(std::size_t n);

  struct Answer {
    int status = 201;
    std::string body;  // empty: a created message with a fresh sid
    std::map<std::string, std::string> headers;
    int delay_ms = 0;
    bool hang = false;  // no answer until the client gives up
  };
  struct Received {
    std::string to, from, messaging_service_sid, body, status_callback;
    std::string form;  // the request body exactly as sent
  };
  // Twilio's error answers, as its API sends them.
  static Answer error(int http_status, int code, const std::string& message,
                      std::map<std::string, std::string> headers = {});

  FakeTwilio();
  ~FakeTwilio();
  std::string base_url() const { return server_.base_url(); }
  void script(const std::string& to, Answer a);  // every request to `to` gets this answer
  // Requests to `to` get these answers in turn; the last one stays.
  void script_sequence(const std::string& to, std::vector<Answer> answers);
  // When set, every request must carry exactly this StatusCallback.
  void expect_status_callback(std::string url);
  // Every answer waits a further random 0..ms (latency; seeded, per request).
  void set_jitter_ms(int ms);

  std::vector<std::string> violations() const;
  std::size_t requests() const;
  std::size_t connections() const;         // distinct client connections
  std::vector<Received> received() const;  // well-formed requests, in arrival order
  std::vector<std::string> bodies() const;

 private:
  std::string check(const httplib::Request& req) const;  // under mu_

  mutable std::mutex mu_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::string expected_callback_;
  std::map<std::string, std::deque<Answer>> scripted_;
  std::vector<std::string> violations_;
  std::vector<Received> received_;
  std::set<int> ports_;
  std::size_t requests_ = 0;
  int jitter_ms_ = 0;
  std::mt19937 jitter_rng_{20261130};
  // Last: destroyed first, so its handler threads end before the state above.
  LoopbackServer server_;
};

}  // namespace sc::fakes
