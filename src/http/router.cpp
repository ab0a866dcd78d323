#include "routes.h"

namespace sc::detail {

void Router::get(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("GET", std::regex(pattern));
  svr_.Get(pattern, std::move(h));
}

void Router::post(const std::string& pattern, httplib::Server::Handler h) {
  routes_.emplace_back("POST", std::regex(pattern));
  svr_.Post(pattern, std::move(h));
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
