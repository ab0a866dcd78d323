// FakeTwilio: Twilio's Create Message on loopback. Checks every request the
// way Twilio documents it (the account in the path, HTTP basic auth with that
// account and its token, a form body with To, exactly one of From and
// MessagingServiceSid, a Body of at most 1,600 characters) and records a
// violation for anything else; answers 201 with a fresh SM sid unless an
// answer is scripted for the recipient. Basic auth with a wrong token gets
// Twilio's 401 with code 20003 (a case tests provoke, not a violation).
#pragma once
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fakes/loopback_server.h"

namespace sc::fakes {

class FakeTwilio {
 public:
  static constexpr const char* kAccountSid = "AC0123456789abcdef0123456789abcdef";
  static constexpr const char* kAuthToken = "auth-token-123";

  struct Answer {
    int status = 201;
    std::string body;  // empty: a created message with a fresh sid
    std::map<std::string, std::string> headers;
    int delay_ms = 0;
  };
  struct Received {
    std::string to, from, messaging_service_sid, body;
  };

  FakeTwilio();
  std::string base_url() const { return server_.base_url(); }
  void script(const std::string& to, Answer a);  // every request to `to` gets this answer

  std::vector<std::string> violations() const;
  std::size_t requests() const;
  std::size_t connections() const;         // distinct client connections
  std::vector<Received> received() const;  // well-formed requests, in arrival order
  std::vector<std::string> bodies() const;

 private:
  static std::string check(const httplib::Request& req);

  LoopbackServer server_;
  mutable std::mutex mu_;
  std::map<std::string, Answer> scripted_;
  std::vector<std::string> violations_;
  std::vector<Received> received_;
  std::set<int> ports_;
  std::size_t requests_ = 0;
};

}  // namespace sc::fakes
