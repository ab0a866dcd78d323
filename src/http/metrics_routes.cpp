// Metrics: GET /metrics in Prometheus text format (0.0.4), behind a read
// key on the main listener; MetricsServer serves it alone, without a key, on
// SC_METRICS_LISTEN.
#include <atomic>
#include <stdexcept>
#include <thread>

#include "routes.h"

namespace sc::detail {

namespace {
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
}

void count(const RouteEnv& env, const char* name, const char* help, const metrics::Labels& labels) {
  if (env.deps.metrics != nullptr) env.deps.metrics->counter(name, help, labels).inc();
}

void add_metrics_routes(Router& router, const RouteEnv& env) {
  if (env.deps.metrics == nullptr) return;
  router.get("/metrics", [&env](const httplib::Request& req, httplib::Response& res) {
    // A read key is enough; scrapes are not audited (one every few seconds).
    if (!authorize(env, req, res, Scope::kRead)) return;
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_content(env.deps.metrics->render(), kPrometheusText);
  });
}

}  // namespace sc::detail

namespace sc {

struct MetricsServer::Impl {
  const metrics::Registry& registry;
  httplib::Server svr;
  explicit Impl(const metrics::Registry& r) : registry(r) {}
};

MetricsServer::MetricsServer(const metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(registry)) {
  auto& s = impl_->svr;
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_keep_alive_max_count(100);
  s.set_payload_max_length(1024);
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(impl_->registry.render(), detail::kPrometheusText);
  });
  // Another method on /metrics is 405 with Allow, as on the main port.
  const auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content(
        R"({"error":{"code":"method_not_allowed","message":"this listener serves GET /metrics only"}})",
        "application/json");
  };
  s.Post("/metrics", not_allowed);
  s.Put("/metrics", not_allowed);
  s.Patch("/metrics", not_allowed);
  s.Delete("/metrics", not_allowed);
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 405) return;
    res.set_content(
        R"({"error":{"code":"not_found","message":"this listener serves GET /metrics only"}})",
        "application/json");
  });
}

MetricsServer::~MetricsServer() { stop(); }

int MetricsServer::bind(const std::string& host, int port) {
  int bound = port == 0 ? impl_->svr.bind_to_any_port(host)
                        : (impl_->svr.bind_to_port(host, port) ? port : -1);
  if (bound < 0)
    throw std::runtime_error("cannot listen for metrics on " + host + ":" + std::to_string(port));
  return bound;
}

void MetricsServer::serve() { impl_->svr.listen_after_bind(); }
void MetricsServer::stop() {
  if (impl_->svr.is_running()) impl_->svr.stop();
}
bool MetricsServer::wait_until_ready() const {
  for (int i = 0; i < 500 && !impl_->svr.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return impl_->svr.is_running();
}

}  // namespace sc
