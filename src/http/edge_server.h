// Internal to http: an httplib::Server that reads and checks every request
// head and body itself before the library sees it.
//
// cpp-httplib 0.11.4 (Debian 12) cannot be configured to refuse what an
// edge must refuse: it reads chunked and gzip bodies without the payload
// limit, reads a body without framing until the peer closes, serves Range
// on any response, stores any number of headers, percent-decodes header
// values, accepts conflicting framing and keeps the connection open after a
// framing error, and gives a slow client a fresh timeout on every recv.
// So EdgeServer overrides the connection loop (process_and_close_socket)
// and hands process_request one request at a time, already framed: the head
// re-written with only a plain Content-Length, and exactly that many body
// bytes behind it. The library never reads the socket, so it cannot read
// past the request we checked.
#pragma once
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "sc/http/cidr.h"
#include "sc/http/server.h"

namespace sc::detail {

struct EdgeOptions {
  std::size_t max_body_bytes = 64 * 1024;  // after chunked decoding
  // The one path whose bodies may be up to max_large_body_bytes instead
  // (query ignored); empty: none.
  std::string large_body_path;
  std::size_t max_large_body_bytes = 0;
  // The one path whose body is not read ahead but streamed to its handler
  // (streamed_body(); query ignored), up to max_stream_bytes; empty: none.
  // Its connection closes after the answer.
  std::string stream_path;
  std::uint64_t max_stream_bytes = 0;
  std::size_t max_head_bytes = 64 * 1024;   // request line + headers (431 beyond)
  std::size_t max_header_line = 8 * 1024;   // one header line (431 beyond)
  std::size_t max_request_line = 8 * 1024;  // 414 beyond
  std::size_t max_headers = 100;            // 431 beyond
  // The whole head must arrive within this, counted from the connection's
  // accept or, on a kept-alive connection, from the head's first byte.
  std::chrono::milliseconds head_timeout{10000};
  // The whole body must arrive within this, from the end of the head.
  std::chrono::milliseconds body_timeout{30000};
  // An idle kept-alive connection is closed after this.
  std::chrono::milliseconds keep_alive_timeout{5000};
  std::size_t max_requests_per_connection = 1000000;
  // Concurrent connections one client IP may hold; more are closed at once.
  // Trusted proxies are exempt (the proxy limits its clients).
  std::size_t max_connections_per_ip = 64;
  CidrSet trusted_proxies;
};

// A request body its handler reads as it arrives (EdgeOptions::stream_path),
// framed and limited by the edge as any other body.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Up to `n` bytes into `buf`; 0 at the end of the body; -1 when the rest
  // cannot be read (status() and message() say why: 400 bad framing, 408
  // too slow, 413 too large; the client may be gone).
  virtual long read(char* buf, std::size_t n) = 0;
  virtual int status() const = 0;
  virtual const std::string& message() const = 0;
};

// The streamed body of the request this thread is handling; null for any
// other request.
BodyStream* streamed_body();

// The edge settings of HttpOptions; throws std::invalid_argument when
// trusted_proxies is not a CIDR list.
EdgeOptions edge_options(const HttpOptions& options);

class EdgeServer : public httplib::Server {
 public:
  explicit EdgeServer(EdgeOptions options) : options_(std::move(options)) {}

 private:
  // Tests read the connection counts through EdgeServerProbe
  // (tests/support/edge_server_probe.h).
  friend struct EdgeServerProbe;
  bool process_and_close_socket(socket_t sock) override;
  bool acquire(const std::string& ip);
  void release(const std::string& ip);

  friend class EdgeConnection;
  EdgeOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  std::atomic<std::size_t> refused_{0};  // connections closed at once: their IP held too many
};

}  // namespace sc::detail
