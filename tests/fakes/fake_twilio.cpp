#include "fakes/fake_twilio.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace sc::fakes {
namespace {

std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string FakeTwilio::message_sid(std::size_t n) {
  char digits[33];
  std::snprintf(digits, sizeof digits, "%032zx", n);
  return std::string("SM") + digits;
}

FakeTwilio::FakeTwilio() : server_(32) {
  server_.server().Post(
      R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)",
      [this](const httplib::Request& req, httplib::Response& res) {
        std::unique_lock lock(mu_);
        ++requests_;
        ports_.insert(req.remote_port);
        const auto auth = req.get_header_value("Authorization");
        if (auth.rfind("Basic ", 0) == 0 && req.matches[1] == kAccountSid &&
            auth != "Basic " + base64(std::string(kAccountSid) + ":" + kAuthToken)) {
          // A wrong token is a case tests provoke on purpose: answer as Twilio does.
          res.status = 401;
          res.set_content(nlohmann::json{{"code", 20003},
                                         {"message", "Authenticate"},
                                         {"more_info", "https://www.twilio.com/docs/errors/20003"},
                                         {"status", 401}}
                              .dump(),
                          "application/json");
          return;
        }
        auto problem = check(req);
        if (!problem.empty()) {
          violations_.push_back(problem);
          res.status = 400;
          res.set_content(
              nlohmann::json{{"code", 20001}, {"message", problem}, {"status", 400}}.dump(),
              "application/json");
          return;
        }
        const auto to = req.get_param_value("To");
        Answer a;
        if (auto it = scripted_.find(to); it != scripted_.end() && !it->second.empty()) {
          a = it->second.front();
          if (it->second.size() > 1) it->second.pop_front();
        }
        if (jitter_ms_ > 0)
          a.delay_ms += std::uniform_int_distribution<int>(0, jitter_ms_)(jitter_rng_);
        received_.push_back(
            {to, req.get_param_value("From"), req.get_param_value("MessagingServiceSid"),
             req.get_param_value("Body"), req.get_param_value("StatusCallback"), req.body});
        const auto n = requests_;
        if (a.hang) {
          // Twilio took the request and its answer never comes: the client
          // gives up first. Bounded, and woken when the fake goes away.
          stopping_cv_.wait_for(lock, std::chrono::seconds(60), [&] { return stopping_; });
          return;
        }
        if (a.delay_ms > 0) {
          stopping_cv_.wait_for(lock, std::chrono::milliseconds(a.delay_ms),
                                [&] { return stopping_; });
        }
        res.status = a.status;
        for (const auto& [k, v] : a.headers) res.set_header(k, v);
        res.set_content(
            a.body.empty()
                ? nlohmann::json{{"sid", message_sid(n)}, {"status", "queued"}, {"to", to}}.dump()
                : a.body,
            "application/json");
      });
  server_.start();
}

void FakeTwilio::set_jitter_ms(int ms) {
  std::lock_guard lock(mu_);
  jitter_ms_ = ms;
}

FakeTwilio::~FakeTwilio() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  server_.stop();
}

FakeTwilio::Answer FakeTwilio::error(int http_status, int code, const std::string& message,
                                     std::map<std::string, std::string> headers) {
  Answer a;
  a.status = http_status;
  a.body =
      nlohmann::json{{"code", code},
                     {"message", message},
                     {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                     {"status", http_status}}
          .dump();
  a.headers = std::move(headers);
  return a;
}

std::string FakeTwilio::check(const httplib::Request& req) const {
  if (req.matches[1] != kAccountSid) return "wrong account in the path";
  if (req.get_header_value("Authorization") !=
      "Basic " + base64(std::string(kAccountSid) + ":" + kAuthToken)) {
    return "bad basic auth";
  }
  if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded")
    return "not a form";
  if (!req.has_param("To")) return "To missing";
  if (req.has_param("From") == req.has_param("MessagingServiceSid"))
    return "exactly one of From and MessagingServiceSid";
  if (!req.has_param("Body") || req.get_param_value("Body").empty()) return "Body missing";
  if (req.get_param_value("Body").size() > 1600) return "Body over 1600 characters";
  if (req.has_param("StatusCallback")) {
    const auto cb = req.get_param_value("StatusCallback");
    const auto scheme = cb.find("://");
    if ((cb.rfind("http://", 0) != 0 && cb.rfind("https://", 0) != 0) || cb.size() > 4000)
      return "StatusCallback is not an absolute http(s) URL (21609)";
    const auto host = cb.substr(scheme + 3, cb.find('/', scheme + 3) - scheme - 3);
    if (host.empty() || host.find('_') != std::string::npos)
      return "StatusCallback host is empty or has '_' (21609)";
  }
  if (!expected_callback_.empty() && req.get_param_value("StatusCallback") != expected_callback_)
    return "StatusCallback is not " + expected_callback_;
  return {};
}

void FakeTwilio::script(const std::string& to, Answer a) {
  std::lock_guard lock(mu_);
  scripted_[to] = {std::move(a)};
}

void FakeTwilio::script_sequence(const std::string& to, std::vector<Answer> answers) {
  std::lock_guard lock(mu_);
  scripted_[to] = std::deque<Answer>(answers.begin(), answers.end());
}

void FakeTwilio::expect_status_callback(std::string url) {
  std::lock_guard lock(mu_);
  expected_callback_ = std::move(url);
}

std::vector<std::string> FakeTwilio::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::size_t FakeTwilio::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeTwilio::connections() const {
  std::lock_guard lock(mu_);
  return ports_.size();
}

std::vector<FakeTwilio::Received> FakeTwilio::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::vector<std::string> FakeTwilio::bodies() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : received_) out.push_back(r.body);
  return out;
}

}  // namespace sc::fakes
