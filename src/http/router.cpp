#include "request_metrics.h"
#include "routes.h"

namespace sc::detail {

namespace {
// Names the route for the request metrics before the handler runs.
httplib::Server::Handler labelled(const std::string& pattern, httplib::Server::Handler h) {
  return [route = RequestMetrics::label_for_pattern(pattern), h = std::move(h)](
             const httplib::Request& req, httplib::Response& res) {
    RequestMetrics::matched(route);
    h(req, res);
  };
}
}  // namespace

void Router::get(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("GET", std::regex(pattern));
  svr_.Get(pattern, labelled(pattern, std::move(h)));
}

void Router::post(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("POST", std::regex(pattern));
  svr_.Post(pattern, labelled(pattern, std::move(h)));
}

std::string Router::allowed_methods(const std::string& path) const {
  bool get = false, post = false;
  for (const auto& [method, re] : routes_) {
    if (!std::regex_match(path, re)) continue;
    (method == "GET" ? get : post) = true;
  }
  std::string out;
  if (get) out = "GET, HEAD";  // the library answers HEAD with the GET handler
  if (post) out += out.empty() ? "POST" : ", POST";
  return out;
}

}  // namespace sc::detail
