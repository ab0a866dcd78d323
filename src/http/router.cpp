#include <set>

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

void Router::patch(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("PATCH", std::regex(pattern));
  svr_.Patch(pattern, labelled(pattern, std::move(h)));
}

void Router::del(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("DELETE", std::regex(pattern));
  svr_.Delete(pattern, labelled(pattern, std::move(h)));
}

std::string Router::allowed_methods(const std::string& path) const {
  std::set<std::string> methods;
  for (const auto& [method, re] : routes_) {
    if (std::regex_match(path, re)) methods.insert(method);
  }
  std::string out;
  auto add = [&](const char* name) {
    if (!out.empty()) out += ", ";
    out += name;
  };
  // In this order; the library answers HEAD with the GET handler.
  if (methods.contains("GET")) add("GET, HEAD");
  for (const char* m : {"POST", "PATCH", "DELETE"})
    if (methods.contains(m)) add(m);
  return out;
}

}  // namespace sc::detail
