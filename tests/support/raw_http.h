// RawConnection: a plain TCP client for sending exactly the bytes an attack
// needs (conflicting framing, slow heads) and reading what comes back.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>

namespace sc::testing {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port, from `source` (e.g. "127.0.0.2") if given.
  explicit RawConnection(int port, const std::string& source = {}) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!source.empty()) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      inet_pton(AF_INET, source.c_str(), &src.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // False once the peer has closed or reset the connection.
  bool send(std::string_view bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until the peer closes or `timeout` passes; closed() tells which.
  std::string read_until_close(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return read_while([](const std::string&) { return true; }, timeout);
  }

  // Reads until `done(received)` holds, the peer closes, or `timeout` passes.
  template <class Done>
  std::string read_until(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return read_while([&](const std::string& s) { return !done(s); }, timeout);
  }

  bool closed() const { return closed_; }

 private:
  template <class More>
  std::string read_while(More more, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (more(received_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;  // end of stream or reset: either way the server closed
        break;
      }
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return received_;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// How many responses (status lines) a byte stream holds; the bodies that
// tests read never contain "HTTP/1.1 " themselves.
inline int count_responses(const std::string& s) {
  int n = 0;
  for (auto at = s.find("HTTP/1.1 "); at != std::string::npos; at = s.find("HTTP/1.1 ", at + 1))
    ++n;
  return n;
}

// The status code of the first response, or 0.
inline int first_status(const std::string& s) {
  if (s.rfind("HTTP/1.1 ", 0) != 0 || s.size() < 12) return 0;
  return std::stoi(s.substr(9, 3));
}

}  // namespace sc::testing
