#include "edge_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace sc::detail {
namespace {

using Clock = std::chrono::steady_clock;

thread_local BodyStream* t_streamed_body = nullptr;

// A chunk size line (RFC 9112 §7.1): hex digits, extensions ignored.
std::optional<std::uint64_t> chunk_size(std::string_view line);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2 token characters: what a field name may hold.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

void peer_of(socket_t sock, bool remote, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int rc = remote ? getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
                  : getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  } else {
    return;
  }
  ip = normalize_ip(buf).value_or(buf);
}

const char* reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 431:
      return "Request Header Fields Too Large";
  }
  return "Error";
}

// The library's stream for one request: reads the framed request we built,
// then end of stream; writes go to the socket.
class FramedStream final : public httplib::Stream {
 public:
  FramedStream(socket_t sock, const std::string& request, const std::string& remote_ip,
               int remote_port, const std::string& local_ip, int local_port, int write_timeout_ms)
      : sock_(sock),
        in_(request),
        remote_ip_(remote_ip),
        local_ip_(local_ip),
        remote_port_(remote_port),
        local_port_(local_port),
        write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override {
    pollfd p{sock_, POLLOUT, 0};
    return ::poll(&p, 1, write_timeout_ms_) > 0 &&
           (p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
  }
  ssize_t read(char* ptr, std::size_t size) override {
    auto n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    std::size_t sent = 0;
    while (sent < size) {
      // The socket carries SO_SNDTIMEO (the write timeout) from the accept loop.
      auto n = ::send(sock_, ptr + sent, size - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      sent += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(sent);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

 private:
  socket_t sock_;
  const std::string& in_;
  std::size_t pos_ = 0;
  const std::string &remote_ip_, &local_ip_;
  int remote_port_, local_port_, write_timeout_ms_;
};

}  // namespace

// One accepted connection: reads requests off the socket, checks them, and
// hands each one framed to the library.
class EdgeConnection {
 public:
  EdgeConnection(EdgeServer& server, socket_t sock)
      : srv_(server), opt_(server.options_), sock_(sock) {
    peer_of(sock, true, remote_ip_, remote_port_);
    peer_of(sock, false, local_ip_, local_port_);
    write_timeout_ms_ =
        static_cast<int>(server.write_timeout_sec_ * 1000 + server.write_timeout_usec_ / 1000);
  }

  const std::string& remote_ip() const { return remote_ip_; }

  void serve() {
    auto head_deadline = Clock::now() + opt_.head_timeout;
    for (std::size_t served = 0; served < opt_.max_requests_per_connection; ++served) {
      if (srv_.svr_sock_ == INVALID_SOCKET) return;
      if (served > 0) {
        // Kept alive: wait for the next request's first byte.
        if (pos_ == in_.size() && !fill(Clock::now() + opt_.keep_alive_timeout)) return;
        head_deadline = Clock::now() + opt_.head_timeout;
      }
      if (!serve_one(head_deadline, served + 1 == opt_.max_requests_per_connection)) return;
    }
  }

 private:
  enum class Read { kOk, kClosed, kTimeout };

  // Appends what the socket has, waiting until `deadline`; false on end of
  // stream, error, timeout or server stop.
  bool fill(Clock::time_point deadline) { return fill_status(deadline) == Read::kOk; }

  Read fill_status(Clock::time_point deadline) {
    if (pos_ > 0 && (pos_ == in_.size() || pos_ > 65536)) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
    char buf[16384];
    while (true) {
      auto n = ::recv(sock_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        return Read::kOk;
      }
      if (n == 0) return Read::kClosed;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Read::kClosed;
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Read::kTimeout;
      if (srv_.svr_sock_ == INVALID_SOCKET) return Read::kClosed;
      pollfd p{sock_, POLLIN, 0};
      // Wake at least once a second to notice the server stopping.
      int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (rc < 0 && errno != EINTR) return Read::kClosed;
    }
  }

  // Sends a small JSON error, closes our side and drains briefly what the
  // client is still sending, so that it reads the answer instead of a reset.
  void refuse(int status, std::string_view code, std::string_view message) {
    std::string body = std::string(R"({"error":{"code":")") + std::string(code) +
                       R"(","message":")" + std::string(message) + "\"}}";
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
        "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    FramedStream s(sock_, in_, remote_ip_, remote_port_, local_ip_, local_port_, write_timeout_ms_);
    s.write(out.data(), out.size());
    linger_close();
  }

  // Closes our side after an answer while the client may still be sending
  // (a body not read), and drains briefly so that it reads the answer.
  void linger_close() {
    ::shutdown(sock_, SHUT_WR);
    const auto until = Clock::now() + std::chrono::milliseconds(1000);
    std::size_t drained = 0;
    char buf[16384];
    while (drained < 256 * 1024) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{sock_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      auto n = ::recv(sock_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n <= 0) break;
      drained += static_cast<std::size_t>(n);
    }
  }

  struct Field {
    std::string_view name, value;
  };

  // What the request line says, once it is checked.
  struct RequestLine {
    std::string_view line, version;
    std::uint64_t body_limit = 0;  // the body limit of its path
    bool streamed = false;         // EdgeOptions::stream_path
  };

  // How the body is framed, from the fields as sent (RFC 9112 §6).
  struct Framing {
    std::optional<std::uint64_t> content_length;
    bool chunked = false, expect_continue = false;
    std::vector<std::string> forwarded_for;
  };

  // Serves one request; false when the connection must close. Each step
  // below answers what it refuses itself and returns false.
  bool serve_one(Clock::time_point head_deadline, bool last) {
    std::size_t head_end = 0;
    if (!read_head(head_deadline, head_end)) return false;
    const std::size_t body_start = head_end + 4;
    if (body_start - pos_ > opt_.max_head_bytes) {
      refuse(431, "headers_too_large", "the request head is larger than the limit");
      return false;
    }
    std::string_view head(in_.data() + pos_, head_end - pos_);
    if (!check_line_ends(head)) return false;
    const auto eol = head.find("\r\n");
    RequestLine request;
    if (!parse_request_line(head.substr(0, eol), request)) return false;
    std::vector<Field> fields;
    if (!parse_fields(head, eol == std::string_view::npos ? head.size() : eol + 2, fields))
      return false;
    Framing framing;
    if (!parse_framing(fields, request, framing)) return false;
    std::string framed;
    framed.reserve(head.size() + 64);
    frame_head(request.line, fields, framed);
    pos_ = body_start;  // the head is consumed; `head`, `fields` stay valid until in_ changes
    if (request.streamed) return hand_over_streamed(framed, framing, request.body_limit);

    std::string body;
    if (!read_body(framing, request.body_limit, body)) return false;
    // RFC 9112 §6.3: neither Content-Length nor Transfer-Encoding: no body.
    framed.append("Content-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n\r\n")
        .append(body);
    return hand_over(framed, framing.forwarded_for, last);
  }

  // Reads until the end of the head ("\r\n\r\n" at head_end) is in in_,
  // within the head limits and the deadline.
  bool read_head(Clock::time_point head_deadline, std::size_t& head_end) {
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    // Searches resume where the last one stopped: a client dribbling one
    // byte per recv must not make us rescan its whole head each time.
    std::size_t scanned = 0;  // bytes after pos_ already searched
    bool line_ended = false;
    while (true) {
      if (scanned == 0) {
        for (int skip = 0; skip < 2 && in_.compare(pos_, 2, "\r\n") == 0; ++skip) pos_ += 2;
      }
      head_end = in_.find("\r\n\r\n", pos_ + (scanned > 3 ? scanned - 3 : 0));
      if (head_end != std::string::npos) return true;
      if (!line_ended)
        line_ended = in_.find("\r\n", pos_ + (scanned > 1 ? scanned - 1 : 0)) != std::string::npos;
      scanned = in_.size() - pos_;
      if (scanned > opt_.max_head_bytes) {
        refuse(431, "headers_too_large", "the request head is larger than the limit");
        return false;
      }
      if (!line_ended && scanned > opt_.max_request_line) {
        refuse(414, "uri_too_long", "the request line is longer than the limit");
        return false;
      }
      auto r = fill_status(head_deadline);
      if (r == Read::kTimeout) {
        if (pos_ < in_.size())
          refuse(408, "request_timeout", "the request head did not arrive in time");
        return false;
      }
      if (r != Read::kOk) return false;
    }
  }

  // Lines end in CRLF; a lone CR or LF, or a NUL, is a framing trick.
  bool check_line_ends(std::string_view head) {
    for (std::size_t i = 0; i < head.size(); ++i) {
      char c = head[i];
      if (c == '\0' || (c == '\n' && (i == 0 || head[i - 1] != '\r')) ||
          (c == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))) {
        refuse(400, "bad_request", "the request head is malformed");
        return false;
      }
    }
    return true;
  }

  // METHOD SP target SP version, within the limit; HTTP/1.0 or 1.1.
  bool parse_request_line(std::string_view request_line, RequestLine& out) {
    if (request_line.size() > opt_.max_request_line) {
      refuse(414, "uri_too_long", "the request line is longer than the limit");
      return false;
    }
    auto sp1 = request_line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
        request_line.find(' ', sp2 + 1) != std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
      refuse(400, "bad_request", "the request line is malformed");
      return false;
    }
    // One path may take larger bodies (SendGrid posts its events in batches).
    const auto target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto path = target.substr(0, target.find('?'));
    out.line = request_line;
    out.body_limit = !opt_.large_body_path.empty() && path == opt_.large_body_path
                         ? std::max(opt_.max_body_bytes, opt_.max_large_body_bytes)
                         : opt_.max_body_bytes;
    if (!opt_.stream_path.empty() && path == opt_.stream_path) {
      out.streamed = true;
      out.body_limit = opt_.max_stream_bytes;
    }
    out.version = request_line.substr(sp2 + 1);
    if (out.version != "HTTP/1.1" && out.version != "HTTP/1.0") {
      // 400, not 505: bad input never gets a 5xx (docs/api.md).
      refuse(400, "bad_request", "only HTTP versions 1.0 and 1.1 are served");
      return false;
    }
    return true;
  }

  // The header fields from `at` on, within the count and line limits.
  bool parse_fields(std::string_view head, std::size_t at, std::vector<Field>& fields) {
    while (at < head.size()) {
      auto end = head.find("\r\n", at);
      if (end == std::string_view::npos) end = head.size();
      auto line = head.substr(at, end - at);
      at = end + 2;
      if (fields.size() >= opt_.max_headers) {
        refuse(431, "too_many_headers", "the request has more header fields than the limit");
        return false;
      }
      if (line.size() > opt_.max_header_line) {
        refuse(431, "headers_too_large", "a header field is longer than the limit");
        return false;
      }
      auto colon = line.find(':');
      // No obsolete line folding, no space before the colon (RFC 9112 §5).
      if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
        refuse(400, "bad_request", "a header field is malformed");
        return false;
      }
      fields.push_back(Field{line.substr(0, colon), trim_ows(line.substr(colon + 1))});
    }
    return true;
  }

  // Framing, from the bytes as sent (RFC 9112 §6): one Content-Length or a
  // single chunked coding, never both, uncompressed, within the body limit.
  bool parse_framing(const std::vector<Field>& fields, const RequestLine& request, Framing& out) {
    bool has_te = false;
    for (const auto& f : fields) {
      if (iequals(f.name, "Content-Length")) {
        bool digits = !f.value.empty() && f.value.size() <= 18;
        for (char c : f.value) digits = digits && c >= '0' && c <= '9';
        if (!digits || out.content_length) {
          refuse(400, "bad_request",
                 digits ? "more than one Content-Length" : "malformed Content-Length");
          return false;
        }
        out.content_length = std::stoull(std::string(f.value));
      } else if (iequals(f.name, "Transfer-Encoding")) {
        if (has_te || !iequals(f.value, "chunked") || request.version == "HTTP/1.0") {
          refuse(400, "bad_request", "the only transfer coding accepted is a single 'chunked'");
          return false;
        }
        has_te = out.chunked = true;
      } else if (iequals(f.name, "Content-Encoding")) {
        if (!iequals(f.value, "identity")) {
          refuse(415, "unsupported_content_encoding", "request bodies must not be compressed");
          return false;
        }
      } else if (iequals(f.name, "Expect")) {
        out.expect_continue = iequals(f.value, "100-continue");
      } else if (iequals(f.name, "X-Forwarded-For")) {
        out.forwarded_for.emplace_back(f.value);
      }
    }
    if (out.chunked && out.content_length) {
      refuse(400, "bad_request", "Content-Length together with Transfer-Encoding");
      return false;
    }
    if (out.content_length && *out.content_length > request.body_limit) {
      refuse(413, "payload_too_large", "the body is larger than the limit");
      return false;
    }
    return true;
  }

  // The request as the library will read it: the same line and fields,
  // with '%' escaped (the library percent-decodes header values) and
  // without the ones we have acted on; the caller adds a Content-Length
  // we computed.
  static void frame_head(std::string_view request_line, const std::vector<Field>& fields,
                         std::string& framed) {
    framed.append(request_line).append("\r\n");
    for (const auto& f : fields) {
      if (iequals(f.name, "Content-Length") || iequals(f.name, "Transfer-Encoding") ||
          iequals(f.name, "Range") || iequals(f.name, "Expect") ||
          iequals(f.name, "Content-Encoding")) {
        continue;  // Range: our pages are dynamic; a multi-range answer amplifies
      }
      framed.append(f.name).append(": ");
      for (char c : f.value) {
        if (c == '%')
          framed.append("%25");
        else
          framed.push_back(c);
      }
      framed.append("\r\n");
    }
  }

  // Reads the body as framed (after a 100 Continue when the client waits
  // for one) within the body deadline.
  bool read_body(const Framing& framing, std::size_t body_limit, std::string& body) {
    const bool has_body =
        framing.chunked || (framing.content_length && *framing.content_length > 0);
    if (has_body && framing.expect_continue) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(sock_, kContinue.data(), kContinue.size(), MSG_NOSIGNAL) < 0) return false;
    }
    const auto body_deadline = Clock::now() + opt_.body_timeout;
    if (framing.content_length) {
      while (in_.size() - pos_ < *framing.content_length) {
        if (!fill(body_deadline)) return false;
      }
      body.assign(in_, pos_, static_cast<std::size_t>(*framing.content_length));
      pos_ += static_cast<std::size_t>(*framing.content_length);
    } else if (framing.chunked) {
      if (!read_chunked(body, body_deadline, body_limit)) return false;
    }
    return true;
  }

  // Hands the framed request to the library, with the client's address
  // (through trusted proxies); false when the connection must close.
  bool hand_over(const std::string& framed, const std::vector<std::string>& xff, bool last) {
    const std::string client = client_address(remote_ip_, xff, opt_.trusted_proxies);
    FramedStream stream(sock_, framed, remote_ip_, remote_port_, local_ip_, local_port_,
                        write_timeout_ms_);
    bool connection_closed = false;
    bool ok = srv_.process_request(stream, last, connection_closed,
                                   [&client](httplib::Request& req) { req.remote_addr = client; });
    return ok && !connection_closed && !last;
  }

  // Reads a line ending in CRLF (without it) of at most `max` bytes.
  std::optional<std::string> read_line(std::size_t max, Clock::time_point deadline,
                                       bool& too_long) {
    while (true) {
      auto end = in_.find("\r\n", pos_);
      if (end != std::string::npos) {
        if (end - pos_ > max) {
          too_long = true;
          return std::nullopt;
        }
        std::string line = in_.substr(pos_, end - pos_);
        pos_ = end + 2;
        return line;
      }
      if (in_.size() - pos_ > max) {
        too_long = true;
        return std::nullopt;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Decodes a chunked body into `body` within the body limit (RFC 9112 §7.1).
  bool read_chunked(std::string& body, Clock::time_point deadline, std::size_t limit) {
    bool too_long = false;
    while (true) {
      auto line = read_line(1024, deadline, too_long);
      if (!line) {
        if (too_long) refuse(400, "bad_request", "a chunk size line is malformed");
        return false;
      }
      const auto parsed = chunk_size(*line);
      if (!parsed) {
        refuse(400, "bad_request", "a chunk size line is malformed");
        return false;
      }
      const auto size = *parsed;
      if (size == 0) break;
      if (body.size() + size > limit) {
        refuse(413, "payload_too_large", "the body is larger than the limit");
        return false;
      }
      while (in_.size() - pos_ < size + 2) {
        if (!fill(deadline)) return false;
      }
      if (in_.compare(pos_ + size, 2, "\r\n") != 0) {
        refuse(400, "bad_request", "a chunk is not followed by CRLF");
        return false;
      }
      body.append(in_, pos_, static_cast<std::size_t>(size));
      pos_ += static_cast<std::size_t>(size) + 2;
    }
    const auto t = read_trailers(deadline);
    if (t == Trailers::kTooLong)
      refuse(431, "headers_too_large", "a trailer field is longer than the limit");
    if (t == Trailers::kTooMany)
      refuse(431, "too_many_headers", "the request has more trailer fields than the limit");
    return t == Trailers::kOk;
  }

  enum class Trailers { kOk, kTooLong, kTooMany, kGone };
  // Trailer fields, dropped; they count against the head limits.
  Trailers read_trailers(Clock::time_point deadline) {
    std::size_t trailers = 0, bytes = 0;
    bool too_long = false;
    while (true) {
      auto line = read_line(opt_.max_header_line, deadline, too_long);
      if (!line) return too_long ? Trailers::kTooLong : Trailers::kGone;
      if (line->empty()) return Trailers::kOk;
      bytes += line->size();
      if (++trailers > opt_.max_headers || bytes > opt_.max_head_bytes) return Trailers::kTooMany;
    }
  }

  class StreamedBody;
  // Hands over a request whose body its handler reads (streamed_body()),
  // then closes the connection: what the handler left unread is drained.
  bool hand_over_streamed(std::string& framed, const Framing& framing, std::uint64_t limit);

  EdgeServer& srv_;
  const EdgeOptions& opt_;
  socket_t sock_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0, write_timeout_ms_ = 10000;
  std::string in_;
  std::size_t pos_ = 0;
};

namespace {

std::optional<std::uint64_t> chunk_size(std::string_view line) {
  auto size_part = trim_ows(line.substr(0, line.find(';')));
  std::uint64_t size = 0;
  if (size_part.empty() || size_part.size() > 15) return std::nullopt;
  for (char c : size_part) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) return std::nullopt;
    size = size * 16 + static_cast<std::uint64_t>(d);
  }
  return size;
}

}  // namespace

BodyStream* streamed_body() { return t_streamed_body; }

// The body of a streamed request, read off the connection as its handler
// asks: a Content-Length counted down, or chunks decoded, within the limit;
// each read waits at most the body timeout for the next bytes.
class EdgeConnection::StreamedBody final : public BodyStream {
 public:
  StreamedBody(EdgeConnection& c, const Framing& f, std::uint64_t limit)
      : c_(c), f_(f), limit_(limit) {
    done_ = !f.chunked && !(f.content_length && *f.content_length > 0);
  }

  long read(char* buf, std::size_t n) override {
    if (failed_) return -1;
    if (done_ || n == 0) return 0;
    if (!continued_) {
      continued_ = true;
      if (f_.expect_continue) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        if (::send(c_.sock_, kContinue.data(), kContinue.size(), MSG_NOSIGNAL) < 0)
          return fail(400, "the client is gone");
      }
    }
    const auto deadline = Clock::now() + c_.opt_.body_timeout;
    std::uint64_t want = 0;
    if (f_.content_length) {
      want = *f_.content_length - got_;
    } else {
      if (left_in_chunk_ == 0 && !next_chunk(deadline)) return failed_ ? -1 : 0;
      want = left_in_chunk_;
    }
    while (c_.pos_ == c_.in_.size()) {
      if (!c_.fill(deadline)) return fail(408, "the body did not arrive in time");
    }
    const auto k =
        static_cast<std::size_t>(std::min<std::uint64_t>({n, want, c_.in_.size() - c_.pos_}));
    std::memcpy(buf, c_.in_.data() + c_.pos_, k);
    c_.pos_ += k;
    got_ += k;
    if (f_.content_length) {
      done_ = got_ == *f_.content_length;
    } else {
      left_in_chunk_ -= k;
      after_chunk_ = left_in_chunk_ == 0;
    }
    return static_cast<long>(k);
  }
  int status() const override { return status_; }
  const std::string& message() const override { return message_; }
  bool done() const { return done_; }

 private:
  long fail(int status, std::string message) {
    failed_ = true;
    status_ = status;
    message_ = std::move(message);
    return -1;
  }

  // Reads the CRLF after a chunk and the next size line; false at the last
  // chunk (done) or on failure.
  bool next_chunk(Clock::time_point deadline) {
    if (after_chunk_) {
      while (c_.in_.size() - c_.pos_ < 2) {
        if (!c_.fill(deadline)) return fail(408, "the body did not arrive in time") > 0;
      }
      if (c_.in_.compare(c_.pos_, 2, "\r\n") != 0)
        return fail(400, "a chunk is not followed by CRLF") > 0;
      c_.pos_ += 2;
      after_chunk_ = false;
    }
    bool too_long = false;
    auto line = c_.read_line(1024, deadline, too_long);
    if (!line) return fail(too_long ? 400 : 408, "a chunk size line is malformed or late") > 0;
    auto size = chunk_size(*line);
    if (!size) return fail(400, "a chunk size line is malformed") > 0;
    if (*size == 0) {
      if (c_.read_trailers(deadline) != Trailers::kOk)
        return fail(400, "the trailer fields are malformed or too large") > 0;
      done_ = true;
      return false;
    }
    if (got_ + *size > limit_) return fail(413, "the body is larger than the limit") > 0;
    left_in_chunk_ = *size;
    return true;
  }

  EdgeConnection& c_;
  const Framing& f_;
  std::uint64_t limit_;
  std::uint64_t got_ = 0, left_in_chunk_ = 0;
  bool done_ = false, failed_ = false, continued_ = false, after_chunk_ = false;
  int status_ = 0;
  std::string message_;
};

bool EdgeConnection::hand_over_streamed(std::string& framed, const Framing& framing,
                                        std::uint64_t limit) {
  framed.append("Content-Length: 0\r\n\r\n");
  StreamedBody body(*this, framing, limit);
  t_streamed_body = &body;
  hand_over(framed, framing.forwarded_for, true);
  t_streamed_body = nullptr;
  if (!body.done()) linger_close();
  return false;
}

EdgeOptions edge_options(const HttpOptions& o) {
  EdgeOptions e;
  e.max_body_bytes = o.max_body_bytes;
  e.large_body_path = "/webhooks/sendgrid/events";
  e.max_large_body_bytes = o.max_event_body_bytes;
  e.stream_path = "/api/v1/admin/imports";
  e.max_stream_bytes = o.max_import_bytes;
  e.keep_alive_timeout = std::chrono::seconds(o.keep_alive_seconds);
  e.head_timeout = std::chrono::milliseconds(o.head_timeout_ms);
  e.max_connections_per_ip = o.max_connections_per_ip;
  auto proxies = CidrSet::parse(o.trusted_proxies);
  if (!proxies) throw std::invalid_argument("SC_TRUSTED_PROXIES: " + proxies.error().message);
  e.trusted_proxies = proxies.value();
  return e;
}

bool EdgeServer::acquire(const std::string& ip) {
  std::lock_guard lk(mu_);
  auto& n = per_ip_[ip];
  if (n >= options_.max_connections_per_ip) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  return true;
}

void EdgeServer::release(const std::string& ip) {
  std::lock_guard lk(mu_);
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

bool EdgeServer::process_and_close_socket(socket_t sock) {
  {
    EdgeConnection conn(*this, sock);
    const std::string ip = conn.remote_ip();
    const bool counted = !options_.trusted_proxies.contains(ip);
    if (counted && !acquire(ip)) {
      ++refused_;
    } else {
      try {
        conn.serve();
      } catch (...) {
        // Out of memory or a library failure: drop this connection only.
      }
      if (counted) release(ip);
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return true;
}

}  // namespace sc::detail
