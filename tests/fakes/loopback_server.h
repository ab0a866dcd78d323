// LoopbackServer: a cpp-httplib server on 127.0.0.1:0, tuned for load
// (the library's defaults — Nagle on, keep-alive max 5, 8 threads, backlog 5 —
// cap a fake at a few hundred requests per second), run on its own thread and
// stopped and joined on scope exit. With a certificate and key it serves
// HTTPS (httplib::SSLServer), for tests of TLS connection reuse.
#pragma once
#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

namespace sc::fakes {

class LoopbackServer {
 public:
  // threads should be at least the number of keep-alive connections the
  // client holds: cpp-httplib pins one thread per connection.
  explicit LoopbackServer(std::size_t threads = 64, const std::string& tls_cert = {},
                          const std::string& tls_key = {});
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  httplib::Server& server() { return *server_; }
  // Binds port 0, raises the listen backlog, starts serving and waits until
  // ready (bounded). Throws std::runtime_error on failure.
  void start();
  void stop();
  int port() const { return port_; }
  std::string base_url() const {
    return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_);
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  bool tls_ = false;
  std::thread thread_;
  int port_ = -1;
  int listen_fd_ = -1;
};

}  // namespace sc::fakes
