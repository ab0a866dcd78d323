#include "sc/http/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "edge_server.h"
#include "elastic_pool.h"
#include "request_metrics.h"
#include "response.h"
#include "routes.h"
#include "sc/core/throttled_log.h"

namespace sc {

// The one place that builds and configures the httplib::Server; the
// resources (routes.h, one file each) only register handlers on it.
struct HttpServer::Impl {
  HttpDeps deps;
  HttpOptions options;
  detail::EdgeServer svr;
  std::atomic<int> listen_fd{-1};
  int bound_port = 0;
  detail::Responder respond;
  detail::RouteEnv env;
  detail::Router router;
  detail::RequestMetrics request_metrics;
  // Failed requests by error text: on a full disk every request fails alike.
  ThrottledLog failures;

  Impl(HttpDeps d, HttpOptions o)
      : deps(std::move(d)),
        options(o),
        svr(detail::edge_options(o)),
        respond(deps.pages),
        env{deps, options, respond},
        router(svr),
        request_metrics(deps.metrics) {}

  void routes() {
    // A Content-Length that is not a plain number is a malformed request;
    // the library would read it as 0 and serve it.
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      request_metrics.begin();
      if (req.has_header("Content-Length")) {
        auto v = req.get_header_value("Content-Length");
        bool digits = !v.empty() && v.size() <= 18;
        for (char ch : v) digits = digits && ch >= '0' && ch <= '9';
        if (!digits) {
          respond.error(
              req, res,
              Error{ErrorCode::kBadRequest, "bad_request", "malformed Content-Length", ""});
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    detail::add_signup_routes(router, env);
    detail::add_token_routes(router, env);
    detail::add_preference_routes(router, env);
    detail::add_twilio_routes(router, env);
    detail::add_sendgrid_routes(router, env);
    detail::add_admin_routes(router, env);
    detail::add_broadcast_routes(router, env);
    detail::add_import_routes(router, env);
    detail::add_health_routes(router, env);
    detail::add_metrics_routes(router, env);
    svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      request_metrics.end(req, res);
    });

    // Statuses the library sets itself (404 no route, 413 too large, 400
    // malformed request) get our error shape; bodies we set are kept. A
    // path served under another method gets 405 and Allow.
    svr.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          if (res.status == 404) {
            if (auto allow = router.allowed_methods(req.path); !allow.empty()) {
              res.set_header("Allow", allow);
              respond.error(req, res, detail::error_for_library_status(405));
              return httplib::Server::HandlerResponse::Handled;
            }
          }
          const auto e = detail::error_for_library_status(res.status);
          if (detail::status_for(e.kind) == res.status)
            respond.error(req, res, e);
          else
            respond.library_error(req, res, res.status, e);
          return httplib::Server::HandlerResponse::Handled;
        }));
    svr.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          failures.log(what, "http: " + req.method + " " + req.path + " failed: " + what);
          // Infrastructure trouble (disk, database): nothing was written, try later.
          res.body.clear();
          res.set_header("Retry-After", "5");
          respond.error(req, res,
                        Error{ErrorCode::kUnavailable, "unavailable",
                              "the service cannot take this right now; please try again", ""});
        });
  }
};

HttpServer::HttpServer(HttpDeps deps, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(deps), options)) {
  auto& s = impl_->svr;
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1000000);
  s.set_keep_alive_timeout(options.keep_alive_seconds);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  // The edge enforces each path's limit first; this is the backstop.
  s.set_payload_max_length(std::max(options.max_body_bytes, options.max_event_body_bytes));
  const auto min_t = options.min_threads, max_t = options.max_threads;
  s.new_task_queue = [min_t, max_t] { return new detail::ElasticPool(min_t, max_t); };
  // SO_REUSEADDR only: the library's default SO_REUSEPORT would let a second
  // instance bind the same port silently. Keep the fd to deepen the backlog.
  s.set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    impl_->listen_fd = sock;
  });
  impl_->routes();
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind(const std::string& host, int port) {
  int bound = port == 0 ? impl_->svr.bind_to_any_port(host)
                        : (impl_->svr.bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  // cpp-httplib 0.11 listens with a backlog of 5; bursts of new connections
  // then cost 1 s SYN retransmits. Listening again only changes the backlog.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, impl_->options.listen_backlog);
  impl_->bound_port = bound;
  return bound;
}

void HttpServer::serve() { impl_->svr.listen_after_bind(); }
void HttpServer::stop() {
  if (!impl_->svr.is_running()) return;
  impl_->svr.stop();
  // cpp-httplib 0.11 leaves idle keep-alive connections to time out (5 s)
  // before listen returns. Shutting their read side makes each connection
  // loop end after the response it may be writing: in-flight requests
  // finish, idle ones close at once.
  const int port = impl_->bound_port;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    int fd = 0;
    try {
      fd = std::stoi(e.path().filename().string());
    } catch (...) {
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM) continue;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    int local = 0;
    if (addr.ss_family == AF_INET)
      local = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    else if (addr.ss_family == AF_INET6)
      local = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    else
      continue;
    // Only connections accepted on our port (curl's client sockets to
    // providers have other local ports).
    if (local == port) ::shutdown(fd, SHUT_RD);
  }
}
bool HttpServer::wait_until_ready() const {
  for (int i = 0; i < 500 && !impl_->svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return impl_->svr.is_running();
}

}  // namespace sc
