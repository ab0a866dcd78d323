// A loopback SendGrid sink for the benchmarks: not the checking fake (which
// parses every body), because it shares the two cores with the sender it
// measures. It checks the path, the key and that the body is a Mail Send
// request, counts, and answers 202 with an X-Message-Id, after delay_ms.
// With a certificate and key it serves HTTPS.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fakes/loopback_server.h"

namespace sc::bench {

class Sink {
 public:
  Sink(int delay_ms, std::size_t threads, const std::string& tls_cert = {},
       const std::string& tls_key = {})
      : server_(threads, tls_cert, tls_key), delay_ms_(delay_ms) {
    server_.server().Post(
        "/v3/mail/send", [this](const httplib::Request& req, httplib::Response& res) {
          if (req.get_header_value("Authorization") != "Bearer " + api_key() ||
              req.body.find("\"personalizations\"") == std::string::npos) {
            bad_.fetch_add(1);
            res.status = 400;
            return;
          }
          if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
          res.status = 202;
          res.set_header("X-Message-Id", "sg" + std::to_string(count_.fetch_add(1)));
        });
    server_.start();
  }
  static std::string api_key() { return "SG.bench"; }
  std::string base_url() const { return server_.base_url(); }
  std::size_t count() const { return count_.load(); }
  std::size_t bad() const { return bad_.load(); }

 private:
  sc::fakes::LoopbackServer server_;
  int delay_ms_;
  std::atomic<std::size_t> count_{0}, bad_{0};
};

// A loopback Twilio sink: Create Message at the account's path, Basic auth,
// a form body with To and Body; answers 201 with a message sid after delay_ms.
class TwilioSink {
 public:
  TwilioSink(int delay_ms, std::size_t threads) : server_(threads), delay_ms_(delay_ms) {
    server_.server().Post("/2010-04-01/Accounts/" + account_sid() + "/Messages.json",
                          [this](const httplib::Request& req, httplib::Response& res) {
                            if (req.get_header_value("Authorization").rfind("Basic ", 0) != 0 ||
                                req.body.find("To=") == std::string::npos ||
                                req.body.find("Body=") == std::string::npos) {
                              bad_.fetch_add(1);
                              res.status = 400;
                              return;
                            }
                            if (delay_ms_ > 0)
                              std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
                            res.status = 201;
                            const auto n = std::to_string(count_.fetch_add(1));
                            res.set_content("{\"sid\":\"SM" + std::string(32 - n.size(), '0') + n +
                                                "\",\"status\":\"queued\"}",
                                            "application/json");
                          });
    server_.start();
  }
  static std::string account_sid() { return "AC" + std::string(32, 'b'); }
  std::string base_url() const { return server_.base_url(); }
  std::size_t count() const { return count_.load(); }
  std::size_t bad() const { return bad_.load(); }

 private:
  sc::fakes::LoopbackServer server_;
  int delay_ms_;
  std::atomic<std::size_t> count_{0}, bad_{0};
};

}  // namespace sc::bench
