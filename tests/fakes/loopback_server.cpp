#include "fakes/loopback_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <stdexcept>

#include "support/wait_for.h"

namespace sc::fakes {

LoopbackServer::LoopbackServer(std::size_t threads, const std::string& tls_cert,
                               const std::string& tls_key)
    : tls_(!tls_cert.empty()) {
  if (tls_) {
    auto ssl = std::make_unique<httplib::SSLServer>(tls_cert.c_str(), tls_key.c_str());
    if (!ssl->is_valid())
      throw std::runtime_error("fake server: cannot load " + tls_cert + " / " + tls_key);
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  auto& server = *server_;
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  server.set_keep_alive_timeout(30);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Replaces the library's default options (SO_REUSEADDR) and remembers the
  // listening socket so start() can raise its backlog from the compiled-in 5.
  server.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });
}

LoopbackServer::~LoopbackServer() { stop(); }

void LoopbackServer::start() {
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake server: bind to 127.0.0.1:0 failed");
  // listen() again on a listening socket only changes its backlog (Linux).
  if (listen_fd_ >= 0) ::listen(listen_fd_, 4096);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  if (!testing::wait_for([this] { return server_->is_running(); }, std::chrono::seconds(10)))
    throw std::runtime_error("fake server did not start");
}

void LoopbackServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace sc::fakes
