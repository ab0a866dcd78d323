#include "fakes/fake_sendgrid.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace sc::fakes {
namespace {

using nlohmann::json;

const std::set<std::string> kTopLevel = {
    "personalizations", "from",       "reply_to",     "reply_to_list",
    "subject",          "content",    "attachments",  "template_id",
    "headers",          "categories", "custom_args",  "send_at",
    "batch_id",         "asm",        "ip_pool_name", "mail_settings",
    "tracking_settings"};
const std::set<std::string> kPersonalization = {"from",
                                                "to",
                                                "cc",
                                                "bcc",
                                                "subject",
                                                "headers",
                                                "substitutions",
                                                "dynamic_template_data",
                                                "custom_args",
                                                "send_at"};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The broadcast id of a Feedback-ID "<id>:broadcast:..." header, "" otherwise.
std::string broadcast_of(const json& body) {
  if (!body.contains("headers") || !body["headers"].contains("Feedback-ID")) return {};
  const auto& v = body["headers"]["Feedback-ID"].get_ref<const std::string&>();
  const auto colon = v.find(':');
  if (colon == std::string::npos || v.compare(colon, 10, ":broadcast") != 0) return {};
  return v.substr(0, colon);
}

std::string sendgrid_error(const std::string& message, const std::string& field) {
  json e = {{"message", message}};
  e["field"] = field.empty() ? json(nullptr) : json(field);
  return json{{"errors", json::array({e})}}.dump();
}

void check_address(const json& j, const std::string& where, std::vector<std::string>& out) {
  if (!j.is_object()) {
    out.push_back(where + " must be an object");
    return;
  }
  for (auto& [k, v] : j.items()) {
    if (k != "email" && k != "name") out.push_back(where + " has unknown property " + k);
  }
  if (!j.contains("email") || !j["email"].is_string()) {
    out.push_back(where + ".email is required and must be a string");
  } else {
    const auto& e = j["email"].get_ref<const std::string&>();
    auto at = e.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == e.size() ||
        e.find_first_of(" <>\r\n") != std::string::npos) {
      out.push_back(where + ".email \"" + e + "\" is not an email address");
    }
  }
  if (j.contains("name") && !j["name"].is_string()) out.push_back(where + ".name must be a string");
}

void check_string_map(const json& j, const std::string& where, std::vector<std::string>& out) {
  if (!j.is_object()) {
    out.push_back(where + " must be an object");
    return;
  }
  for (auto& [k, v] : j.items()) {
    if (!v.is_string()) out.push_back(where + "." + k + " must be a string");
    if (k.find_first_of("\r\n:") != std::string::npos)
      out.push_back(where + " key \"" + k + "\" is not a header name");
    if (v.is_string() &&
        v.get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos) {
      out.push_back(where + "." + k + " contains CR/LF");
    }
  }
}

}  // namespace

FakeSendgrid::FakeSendgrid() : FakeSendgrid(Options{}) {}

FakeSendgrid::FakeSendgrid(Options options)
    : options_(std::move(options)), server_(options_.threads, options_.tls_cert, options_.tls_key) {
  default_.delay_ms = options_.delay_ms;
  auto& s = server_.server();
  s.Post("/v3/mail/send",
         [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  auto wrong = [this](const httplib::Request& req, httplib::Response& res) {
    violation("unexpected request " + req.method + " " + req.path);
    res.status = 404;
    res.set_content(sendgrid_error("not found", ""), "application/json");
  };
  s.Post(".*", wrong);
  s.Get(".*", wrong);
  s.Put(".*", wrong);
  s.Patch(".*", wrong);
  s.Delete(".*", wrong);
  server_.start();
}

FakeSendgrid::~FakeSendgrid() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_.stop();
}

void FakeSendgrid::script(std::int64_t outbox_id, std::vector<FakeResponse> responses) {
  std::lock_guard lock(mu_);
  auto& q = scripts_[std::to_string(outbox_id)];
  for (auto& r : responses) q.push_back(std::move(r));
}

void FakeSendgrid::set_default(FakeResponse response) {
  std::lock_guard lock(mu_);
  default_ = std::move(response);
}

std::vector<std::string> FakeSendgrid::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::size_t FakeSendgrid::request_count() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeSendgrid::connection_count() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

std::map<std::string, int> FakeSendgrid::requests_per_outbox() const {
  std::lock_guard lock(mu_);
  return per_outbox_;
}

std::map<std::string, int> FakeSendgrid::requests_per_recipient() const {
  std::lock_guard lock(mu_);
  return per_recipient_;
}

std::vector<nlohmann::json> FakeSendgrid::bodies() const {
  std::lock_guard lock(mu_);
  return bodies_;
}

void FakeSendgrid::violation(const std::string& what) {
  std::lock_guard lock(mu_);
  violations_.push_back(what);
}

void FakeSendgrid::wait_ms(int ms) {
  if (ms <= 0) return;
  std::unique_lock lock(mu_);
  stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

std::vector<std::string> FakeSendgrid::check_body(const json& body) {
  std::vector<std::string> out;
  if (!body.is_object()) return {"body must be a JSON object"};
  for (auto& [k, v] : body.items()) {
    if (!kTopLevel.count(k)) out.push_back("unknown top-level property " + k);
  }
  // personalizations: required, 1..1000 objects, each with a non-empty `to`.
  if (!body.contains("personalizations") || !body["personalizations"].is_array() ||
      body["personalizations"].empty() || body["personalizations"].size() > 1000) {
    out.push_back("personalizations is required: an array of 1 to 1000 objects");
  } else {
    for (std::size_t i = 0; i < body["personalizations"].size(); ++i) {
      const json& p = body["personalizations"][i];
      std::string where = "personalizations[" + std::to_string(i) + "]";
      if (!p.is_object()) {
        out.push_back(where + " must be an object");
        continue;
      }
      for (auto& [k, v] : p.items()) {
        if (!kPersonalization.count(k)) out.push_back(where + " has unknown property " + k);
      }
      if (p.contains("custom_args"))
        check_string_map(p["custom_args"], where + ".custom_args", out);
      if (!p.contains("to") || !p["to"].is_array() || p["to"].empty()) {
        out.push_back(where + ".to is required: a non-empty array");
      } else {
        for (std::size_t t = 0; t < p["to"].size(); ++t) {
          check_address(p["to"][t], where + ".to[" + std::to_string(t) + "]", out);
        }
      }
    }
  }
  if (!body.contains("from")) {
    out.push_back("from is required");
  } else {
    check_address(body["from"], "from", out);
  }
  if (body.contains("reply_to")) check_address(body["reply_to"], "reply_to", out);
  if (body.contains("subject") &&
      (!body["subject"].is_string() || body["subject"].get<std::string>().empty())) {
    out.push_back("subject must be a non-empty string");
  }
  if (body.contains("content")) {
    const json& c = body["content"];
    if (!c.is_array() || c.empty()) {
      out.push_back("content must be a non-empty array");
    } else {
      int plain_at = -1, html_at = -1;
      for (std::size_t i = 0; i < c.size(); ++i) {
        const json& item = c[i];
        std::string where = "content[" + std::to_string(i) + "]";
        if (!item.is_object() || !item.contains("type") || !item["type"].is_string() ||
            item["type"].get<std::string>().empty() || !item.contains("value") ||
            !item["value"].is_string() || item["value"].get<std::string>().empty() ||
            item.size() != 2) {
          out.push_back(where + " must be exactly {type, value}, both non-empty strings");
          continue;
        }
        if (item["type"] == "text/plain") plain_at = static_cast<int>(i);
        if (item["type"] == "text/html") html_at = static_cast<int>(i);
      }
      if (plain_at >= 0 && html_at >= 0 && plain_at > html_at)
        out.push_back("text/plain must come before text/html");
    }
  } else if (!body.contains("template_id")) {
    out.push_back("content is required without template_id");
  }
  if (!body.contains("subject") && !body.contains("template_id"))
    out.push_back("subject is required");
  if (body.contains("headers")) check_string_map(body["headers"], "headers", out);
  if (body.contains("custom_args")) check_string_map(body["custom_args"], "custom_args", out);
  if (body.contains("tracking_settings")) {
    const json& t = body["tracking_settings"];
    if (!t.is_object()) {
      out.push_back("tracking_settings must be an object");
      return out;
    }
    for (auto& [k, v] : t.items()) {
      if (k != "click_tracking" && k != "open_tracking" && k != "subscription_tracking" &&
          k != "ganalytics") {
        out.push_back("tracking_settings has unknown property " + k);
      } else if (!v.is_object() || (v.contains("enable") && !v["enable"].is_boolean()) ||
                 (v.contains("enable_text") && !v["enable_text"].is_boolean())) {
        out.push_back("tracking_settings." + k + " must be an object with boolean enable");
      }
    }
  }
  return out;
}

void FakeSendgrid::handle(const httplib::Request& req, httplib::Response& res) {
  // A request is counted in the same step under the lock as what it leaves
  // behind is kept (its body after the checks, or its violations): a test
  // that sees the count sees the rest too.
  auto arrived = [&] {
    ++requests_;
    connections_.insert(req.remote_port);
    arrivals_.push_back(unix_now());
  };
  auto refused = [&](const std::vector<std::string>& problems) {
    std::lock_guard lock(mu_);
    violations_.insert(violations_.end(), problems.begin(), problems.end());
    arrived();
  };
  std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) != 0) {
    res.status = 401;
    res.set_content(sendgrid_error("authorization required", ""), "application/json");
    refused({"Authorization is not \"Bearer <key>\": \"" + auth + "\""});
    return;
  }
  if (auth != "Bearer " + options_.api_key) {
    // A wrong key is a legitimate case the tests provoke: answer as SendGrid does.
    res.status = 401;
    res.set_content(
        sendgrid_error("The provided authorization grant is invalid, expired, or revoked", ""),
        "application/json");
    refused({});
    return;
  }
  std::string ctype = req.get_header_value("Content-Type");
  if (ctype != "application/json" && ctype.rfind("application/json;", 0) != 0) {
    res.status = 400;
    res.set_content(sendgrid_error("Content-Type should be application/json", ""),
                    "application/json");
    refused({"Content-Type is \"" + ctype + "\", not application/json"});
    return;
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    res.status = 400;
    res.set_content(sendgrid_error("Bad Request", ""), "application/json");
    refused({"body is not valid JSON"});
    return;
  }
  auto problems = check_body(body);
  if (!problems.empty()) {
    res.status = 400;
    res.set_content(sendgrid_error(problems.front(), ""), "application/json");
    refused(problems);
    return;
  }
  std::string outbox;
  const json& first = body["personalizations"][0];
  if (first.contains("custom_args") && first["custom_args"].contains("sc_outbox_id")) {
    outbox = first["custom_args"]["sc_outbox_id"].get<std::string>();
  }

  const std::string broadcast = broadcast_of(body);
  FakeResponse answer;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    arrived();
    const auto now_ms = steady_ms();
    arrivals_ms_.push_back(now_ms);
    ++per_outbox_[outbox];
    for (const auto& p : body["personalizations"]) {
      for (const auto& to : p["to"]) {
        const auto& address = to["email"].get_ref<const std::string&>();
        ++per_recipient_[address];
        if (broadcast.empty()) continue;
        auto& pair = pairs_[{broadcast, address}];
        if (pair.count++ == 0) pair.first_ms = now_ms;
        pair.last_ms = now_ms;
      }
    }
    if (!broadcast.empty()) ++broadcasts_;
    if (options_.keep_bodies || (options_.keep_transactional_bodies && broadcast.empty()))
      bodies_.push_back(body);
    auto it = scripts_.find(outbox);
    if (it != scripts_.end() && !it->second.empty()) {
      answer = std::move(it->second.front());
      it->second.pop_front();
    } else {
      answer = default_;
    }
    id = ++next_id_;
    if (options_.jitter_ms > 0)
      answer.delay_ms += std::uniform_int_distribution<int>(0, options_.jitter_ms)(jitter_rng_);
  }
  wait_ms(answer.delay_ms);
  res.status = answer.status;
  for (const auto& [k, v] : answer.headers) res.set_header(k, v);
  if (answer.rate_limit_reset_in_s > 0) {
    const auto reset = unix_now() + answer.rate_limit_reset_in_s;
    res.set_header("X-RateLimit-Reset", std::to_string(reset));
    std::lock_guard lock(mu_);
    last_reset_ = reset;
  }
  if (answer.status == 202) {
    res.set_header("X-Message-Id", "fake-" + std::to_string(id));
  } else if (!answer.body.empty()) {
    res.set_content(answer.body, "application/json");
  }
}

std::vector<std::int64_t> FakeSendgrid::arrival_times() const {
  std::lock_guard lock(mu_);
  return arrivals_;
}

std::vector<std::int64_t> FakeSendgrid::arrival_steady_ms() const {
  std::lock_guard lock(mu_);
  return arrivals_ms_;
}

std::size_t FakeSendgrid::max_in_window(std::int64_t window_ms) const {
  std::lock_guard lock(mu_);
  // Arrival order is steady-clock order (each is read under the lock).
  std::size_t best = 0;
  std::size_t from = 0;
  for (std::size_t i = 0; i < arrivals_ms_.size(); ++i) {
    while (arrivals_ms_[i] - arrivals_ms_[from] >= window_ms) ++from;
    best = std::max(best, i - from + 1);
  }
  return best;
}

std::map<std::pair<std::string, std::string>, FakeSendgrid::Pair> FakeSendgrid::broadcast_pairs()
    const {
  std::lock_guard lock(mu_);
  return pairs_;
}

std::size_t FakeSendgrid::broadcast_count() const {
  std::lock_guard lock(mu_);
  return broadcasts_;
}

std::int64_t FakeSendgrid::last_rate_limit_reset() const {
  std::lock_guard lock(mu_);
  return last_reset_;
}

}  // namespace sc::fakes
