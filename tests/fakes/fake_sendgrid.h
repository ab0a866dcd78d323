// FakeSendgrid: SendGrid's v3 Mail Send API on loopback. Checks every request
// the way SendGrid documents it (POST /v3/mail/send, Bearer auth, JSON body
// per the OpenAPI spec, text/plain before text/html, headers and custom_args
// objects of strings, tracking_settings as the spec shapes it) and records a violation for anything
// else; answers 202 + X-Message-Id unless a response is scripted.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fakes/loopback_server.h"

namespace sc::fakes {

struct FakeResponse {
  int status = 202;
  std::string body;
  std::map<std::string, std::string> headers;
  int delay_ms = 0;  // wait before answering (interrupted when the fake stops)
  // > 0: answer with X-RateLimit-Reset = the fake's clock + this many seconds,
  // computed when it answers (so a slow test host cannot outrun the reset).
  int rate_limit_reset_in_s = 0;
};

class FakeSendgrid {
 public:
  struct Options {
    std::string api_key = "SG.fake-key";
    std::size_t threads = 64;
    int delay_ms = 0;         // latency of every default answer
    int jitter_ms = 0;        // plus a random 0..jitter_ms on every answer
    bool keep_bodies = true;  // false for benchmarks: only count
    // With keep_bodies false: still keep the bodies of messages that are no
    // broadcast (no Feedback-ID "<id>:broadcast..."): confirmations, welcomes.
    bool keep_transactional_bodies = false;
    std::string tls_cert, tls_key;  // both set: serve HTTPS
  };

  FakeSendgrid();
  explicit FakeSendgrid(Options options);
  ~FakeSendgrid();

  std::string base_url() const { return server_.base_url(); }
  const std::string& api_key() const { return options_.api_key; }

  // Successive answers for requests whose first personalization's
  // custom_args.sc_outbox_id is `outbox_id`;
  // once used up, the default answer.
  void script(std::int64_t outbox_id, std::vector<FakeResponse> responses);
  void set_default(FakeResponse response);

  std::vector<std::string> violations() const;
  std::size_t request_count() const;
  std::map<std::string, int> requests_per_outbox() const;
  // Well-formed requests per recipient address (every personalizations[].to[]),
  // counted when the request arrives: a message the provider took, whether or
  // not its answer reached the client.
  std::map<std::string, int> requests_per_recipient() const;
  // Distinct client connections (remote ports) that sent requests.
  std::size_t connection_count() const;
  std::vector<nlohmann::json> bodies() const;  // every well-formed body, in arrival order
  // Unix seconds at which each request arrived, in arrival order.
  std::vector<std::int64_t> arrival_times() const;
  // Milliseconds on the steady clock (std::chrono::steady_clock, as the test
  // reads it) at which each well-formed request arrived, in arrival order.
  std::vector<std::int64_t> arrival_steady_ms() const;
  // The most well-formed requests that arrived within any `window_ms` (a
  // sliding window over arrival_steady_ms()): the provider's rate as it saw it.
  std::size_t max_in_window(std::int64_t window_ms = 1000) const;
  // Broadcast messages: a request whose Feedback-ID header is
  // "<broadcast id>:broadcast..." (what every broadcast email carries).
  struct Pair {
    int count = 0;
    std::int64_t first_ms = 0, last_ms = 0;  // steady-clock arrival of the first and last
  };
  // (broadcast id, recipient address) -> the messages of that broadcast that
  // reached that recipient, counted on arrival.
  std::map<std::pair<std::string, std::string>, Pair> broadcast_pairs() const;
  std::size_t broadcast_count() const;  // broadcast messages received, in all
  // The X-RateLimit-Reset value of the last rate-limited answer (0: none yet).
  std::int64_t last_rate_limit_reset() const;

 private:
  void handle(const httplib::Request& req, httplib::Response& res);
  void violation(const std::string& what);
  // Returns the problems with a Mail Send body (empty when it is valid).
  static std::vector<std::string> check_body(const nlohmann::json& body);
  void wait_ms(int ms);

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
  std::map<std::string, int> per_recipient_;
  std::mt19937 jitter_rng_{20261130};
  std::map<std::string, std::deque<FakeResponse>> scripts_;
  FakeResponse default_;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::int64_t> arrivals_;
  std::vector<std::int64_t> arrivals_ms_;
  std::map<std::pair<std::string, std::string>, Pair> pairs_;
  std::size_t broadcasts_ = 0;
  std::int64_t last_reset_ = 0;
};

}  // namespace sc::fakes
