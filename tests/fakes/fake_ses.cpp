#include "fakes/fake_ses.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace sc::fakes {
namespace {

using nlohmann::json;

constexpr const char* kPath = "/v2/email/outbound-emails";

const std::set<std::string> kTopLevel = {"FromEmailAddress",
                                         "FromEmailAddressIdentityArn",
                                         "Destination",
                                         "ReplyToAddresses",
                                         "FeedbackForwardingEmailAddress",
                                         "FeedbackForwardingEmailAddressIdentityArn",
                                         "Content",
                                         "EmailTags",
                                         "ConfigurationSetName",
                                         "ListManagementOptions",
                                         "EndpointId",
                                         "TenantName"};

// The fake's own SHA-256 and HMAC, straight from OpenSSL: it must not share
// a bug with the signer it checks.
std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::ostringstream out;
  for (unsigned int i = 0; i < len; ++i)
    out << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(md[i]);
  return out.str();
}

std::string hmac(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string to_hex(const std::string& raw) {
  std::ostringstream out;
  for (unsigned char c : raw)
    out << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(c);
  return out.str();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string collapse_blanks(const std::string& v) {
  std::string out;
  bool blank = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

// Strict RFC 4648 base64 (padding required, nothing outside the alphabet).
bool base64_decode(const std::string& in, std::string& out) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.clear();
  if (in.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      auto pos = kAlphabet.find(c);
      if (pos == std::string::npos || pad > 0) return false;
      v = (v << 6) | static_cast<unsigned>(pos);
    }
    out += static_cast<char>((v >> 16) & 0xFF);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return true;
}

bool is_address(const json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  auto at = s.rfind('@');
  return at != std::string::npos && at != 0 && at + 1 < s.size() &&
         s.find_first_of("\r\n") == std::string::npos;
}

bool is_tag_text(const json& j) {
  if (!j.is_string()) return false;
  const auto& s = j.get_ref<const std::string&>();
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Content.Raw.Data decoded: a message SES accepts (its documented rules).
void check_raw_message(const std::string& raw, std::vector<std::string>& out) {
  auto end_of_head = raw.find("\r\n\r\n");
  if (end_of_head == std::string::npos) {
    out.push_back("Raw message has no blank line between header and body");
    return;
  }
  std::size_t pos = 0;
  while (pos < raw.size()) {
    auto nl = raw.find('\n', pos);
    std::size_t end = nl == std::string::npos ? raw.size() : nl;
    if (nl != std::string::npos && (nl == 0 || raw[nl - 1] != '\r')) {
      out.push_back("Raw message has a bare LF");
      return;
    }
    std::size_t len = end - pos - (nl != std::string::npos ? 1 : 0);
    if (len > 998) {
      out.push_back("Raw message has a line of " + std::to_string(len) +
                    " octets (over 1,000 with CRLF)");
      return;
    }
    pos = end + 1;
  }
  if (std::any_of(raw.begin(), raw.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    out.push_back("Raw message has 8-bit octets (SES asks for them to be encoded)");
  }
  // Header fields, unfolded, counted by name.
  std::map<std::string, int> count;
  std::istringstream head(raw.substr(0, end_of_head + 2));
  std::string line;
  while (std::getline(head, line)) {
    if (line.empty() || line == "\r" || line[0] == ' ' || line[0] == '\t') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      out.push_back("Raw message header line without a colon: " + line);
      continue;
    }
    ++count[lower(line.substr(0, colon))];
  }
  for (const char* required : {"from", "date"}) {
    if (count[required] != 1)
      out.push_back(std::string("Raw message must have exactly one ") + required + " header");
  }
  for (const char* once : {"to", "subject", "message-id", "list-unsubscribe",
                           "list-unsubscribe-post", "mime-version"}) {
    if (count[once] > 1)
      out.push_back(std::string("Raw message has more than one ") + once + " header");
  }
}

void check_simple(const json& s, std::vector<std::string>& out) {
  if (!s.is_object() || !s.contains("Subject") || !s["Subject"].is_object() ||
      !s["Subject"].contains("Data") || !s["Subject"]["Data"].is_string()) {
    out.push_back("Content.Simple.Subject.Data is required");
  }
  if (!s.contains("Body") || !s["Body"].is_object() ||
      (!s["Body"].contains("Text") && !s["Body"].contains("Html"))) {
    out.push_back("Content.Simple.Body needs Text or Html");
  }
  if (s.contains("Headers")) {
    if (!s["Headers"].is_array() || s["Headers"].size() > 15) {
      out.push_back("Content.Simple.Headers must be an array of at most 15");
    } else {
      for (const auto& h : s["Headers"]) {
        if (!h.is_object() || !h.contains("Name") || !h["Name"].is_string() ||
            !h.contains("Value") || !h["Value"].is_string() ||
            h["Name"].get<std::string>().empty() || h["Name"].get<std::string>().size() > 126 ||
            h["Value"].get<std::string>().empty() || h["Value"].get<std::string>().size() > 995) {
          out.push_back("Content.Simple.Headers entries must be {Name 1-126, Value 1-995}");
        }
      }
    }
  }
}

std::string iso_now(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// SES's error shape: the type in x-amzn-ErrorType, {"message"} in the body.
// Without a type, a bare answer such as a load balancer gives.
void ses_error(httplib::Response& res, int status, const std::string& type,
               const std::string& message) {
  res.status = status;
  res.set_header("x-amzn-RequestId", "fake-request");
  if (type.empty()) {
    res.set_content(message, "text/plain");
    return;
  }
  res.set_header("x-amzn-ErrorType",
                 type + ":http://internal.amazon.com/coral/com.amazonaws.sesv2/");
  res.set_content(json{{"message", message}}.dump(), "application/json");
}

}  // namespace

FakeSes::FakeSes() : FakeSes(Options{}) {}

FakeSes::FakeSes(Options options) : options_(std::move(options)), server_(options_.threads) {
  if (!options_.now_unix) {
    options_.now_unix = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  }
  auto& s = server_.server();
  s.Post(kPath, [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  auto wrong = [this](const httplib::Request& req, httplib::Response& res) {
    violation("unexpected request " + req.method + " " + req.path);
    ses_error(res, 404, "NotFoundException", "not found");
  };
  s.Post(".*", wrong);
  s.Get(".*", wrong);
  s.Put(".*", wrong);
  s.Patch(".*", wrong);
  s.Delete(".*", wrong);
  server_.start();
}

FakeSes::~FakeSes() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_.stop();
}

void FakeSes::script(std::int64_t outbox_id, std::vector<Answer> answers) {
  std::lock_guard lock(mu_);
  auto& q = scripts_[std::to_string(outbox_id)];
  for (auto& a : answers) q.push_back(std::move(a));
}

void FakeSes::set_default(Answer answer) {
  std::lock_guard lock(mu_);
  default_ = std::move(answer);
}

std::vector<std::string> FakeSes::violations() const {
  std::lock_guard lock(mu_);
  return violations_;
}

std::size_t FakeSes::request_count() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeSes::connection_count() const {
  std::lock_guard lock(mu_);
  return connections_.size();
}

std::map<std::string, int> FakeSes::requests_per_outbox() const {
  std::lock_guard lock(mu_);
  return per_outbox_;
}

std::vector<nlohmann::json> FakeSes::bodies() const {
  std::lock_guard lock(mu_);
  return bodies_;
}

std::vector<std::string> FakeSes::raw_messages() const {
  std::lock_guard lock(mu_);
  return raw_;
}

void FakeSes::violation(const std::string& what) {
  std::lock_guard lock(mu_);
  violations_.push_back(what);
}

void FakeSes::wait_ms(int ms) {
  if (ms <= 0) return;
  std::unique_lock lock(mu_);
  stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

std::string FakeSes::check_signature(const httplib::Request& req, std::string& why) const {
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
  auto sh = auth.find(", SignedHeaders=");
  auto sg = auth.find(", Signature=");
  if (auth.rfind(prefix, 0) != 0 || sh == std::string::npos || sg == std::string::npos || sg < sh) {
    why =
        "Authorization is not \"AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…\": \"" +
        auth + "\"";
    return "IncompleteSignatureException";
  }
  const std::string credential = auth.substr(prefix.size(), sh - prefix.size());
  const std::string signed_headers = auth.substr(sh + 16, sg - sh - 16);
  const std::string signature = auth.substr(sg + 12);
  // AKID/yyyymmdd/region/ses/aws4_request
  std::vector<std::string> parts;
  std::stringstream cs(credential);
  for (std::string p; std::getline(cs, p, '/');) parts.push_back(p);
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[3] != "ses" ||
      parts[2] != options_.region) {
    why =
        "credential scope is not AKID/date/" + options_.region + "/ses/aws4_request: " + credential;
    return "IncompleteSignatureException";
  }
  if (signature.size() != 64 ||
      signature.find_first_not_of("0123456789abcdef") != std::string::npos) {
    why = "Signature is not 64 lower-case hex digits: " + signature;
    return "IncompleteSignatureException";
  }
  const std::string amz_date = req.get_header_value("X-Amz-Date");
  if (amz_date.size() != 16 || amz_date[8] != 'T' || amz_date.back() != 'Z' ||
      amz_date.substr(0, 8) != parts[1]) {
    why = "X-Amz-Date \"" + amz_date + "\" is missing, malformed or not the credential's date " +
          parts[1];
    return "IncompleteSignatureException";
  }
  // SignedHeaders: lower case, sorted, each present, and at least these.
  std::vector<std::string> names;
  std::stringstream ss(signed_headers);
  for (std::string n; std::getline(ss, n, ';');) names.push_back(n);
  if (!std::is_sorted(names.begin(), names.end()) ||
      std::adjacent_find(names.begin(), names.end()) != names.end()) {
    why = "SignedHeaders are not sorted and unique: " + signed_headers;
    return "IncompleteSignatureException";
  }
  std::vector<std::string> needed = {"content-type", "host", "x-amz-date"};
  if (!options_.session_token.empty()) needed.push_back("x-amz-security-token");
  for (const auto& n : needed) {
    if (!std::binary_search(names.begin(), names.end(), n)) {
      why = "SignedHeaders lacks " + n + ": " + signed_headers;
      return "IncompleteSignatureException";
    }
  }
  for (const auto& n : names) {
    if (n != lower(n) || !req.has_header(n)) {
      why = "signed header " + n + " is not lower case or not in the request";
      return "IncompleteSignatureException";
    }
  }
  if (options_.session_token.empty() && req.has_header("X-Amz-Security-Token")) {
    why = "X-Amz-Security-Token sent without temporary credentials";
    return "IncompleteSignatureException";
  }
  if (req.has_header("x-amz-content-sha256") &&
      req.get_header_value("x-amz-content-sha256") != sha256_hex(req.body)) {
    why = "x-amz-content-sha256 is not the body's hash";
    return "IncompleteSignatureException";
  }

  // Mistakes a test may provoke on purpose (another key, secret, token or clock).
  if (parts[0] != options_.access_key_id) {
    why = "signature mismatch: access key " + parts[0] + " is not " + options_.access_key_id;
    return "UnrecognizedClientException";
  }
  if (!options_.session_token.empty() &&
      req.get_header_value("X-Amz-Security-Token") != options_.session_token) {
    why = "signature mismatch: wrong session token";
    return "UnrecognizedClientException";
  }
  const std::int64_t now = options_.now_unix();
  if (amz_date != iso_now(now)) {
    std::tm tm{};
    std::istringstream in(amz_date);
    in >> std::get_time(&tm, "%Y%m%dT%H%M%SZ");
    const auto t = static_cast<std::int64_t>(timegm(&tm));
    if (in.fail() || t < now - 900 || t > now + 900) {
      why = "signature mismatch: X-Amz-Date " + amz_date + " is more than 15 minutes from " +
            iso_now(now);
      return "InvalidSignatureException";
    }
  }
  std::string canonical = "POST\n" + std::string(kPath) + "\n\n";
  for (const auto& n : names) {
    std::string value;
    const auto count = req.get_header_value_count(n);
    for (std::size_t i = 0; i < count; ++i) {
      if (i != 0) value += ',';
      value += collapse_blanks(req.get_header_value(n, i));
    }
    canonical += n + ":" + value + "\n";
  }
  canonical += "\n" + signed_headers + "\n" + sha256_hex(req.body);
  const std::string scope = parts[1] + "/" + options_.region + "/ses/aws4_request";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  std::string key = hmac("AWS4" + options_.secret_access_key, parts[1]);
  key = hmac(key, options_.region);
  key = hmac(key, "ses");
  key = hmac(key, "aws4_request");
  const std::string expected = to_hex(hmac(key, to_sign));
  if (expected != signature) {
    why = "signature mismatch: the fake's canonical request was\n" + canonical;
    return "SignatureDoesNotMatch";
  }
  return {};
}

std::vector<std::string> FakeSes::check_body(const json& body, std::string& raw) {
  std::vector<std::string> out;
  if (!body.is_object()) return {"body must be a JSON object"};
  for (const auto& [k, v] : body.items()) {
    if (!kTopLevel.count(k)) out.push_back("unknown top-level property " + k);
  }
  if (body.contains("FromEmailAddress") && !is_address(body["FromEmailAddress"])) {
    out.push_back("FromEmailAddress must be an email address");
  }
  if (body.contains("FeedbackForwardingEmailAddress") &&
      !is_address(body["FeedbackForwardingEmailAddress"])) {
    out.push_back("FeedbackForwardingEmailAddress must be an email address");
  }
  if (body.contains("Destination")) {
    const json& d = body["Destination"];
    std::size_t total = 0;
    if (!d.is_object()) {
      out.push_back("Destination must be an object");
    } else {
      for (const auto& [k, v] : d.items()) {
        if (k != "ToAddresses" && k != "CcAddresses" && k != "BccAddresses") {
          out.push_back("Destination has unknown property " + k);
        } else if (!v.is_array()) {
          out.push_back("Destination." + k + " must be an array");
        } else {
          total += v.size();
          for (const auto& a : v) {
            if (!is_address(a)) out.push_back("Destination." + k + " holds a non-address");
          }
        }
      }
      if (total == 0 || total > 50) out.push_back("Destination must name 1 to 50 recipients");
    }
  }
  if (!body.contains("Content") || !body["Content"].is_object()) {
    out.push_back("Content is required");
  } else {
    const json& c = body["Content"];
    const int kinds = static_cast<int>(c.contains("Simple")) + static_cast<int>(c.contains("Raw")) +
                      static_cast<int>(c.contains("Template"));
    if (kinds != 1 || c.size() != 1)
      out.push_back("Content must hold exactly one of Simple, Raw and Template");
    if (c.contains("Raw")) {
      const json& r = c["Raw"];
      if (!r.is_object() || r.size() != 1 || !r.contains("Data") || !r["Data"].is_string()) {
        out.push_back("Content.Raw must be exactly {Data: base64 string}");
      } else if (!base64_decode(r["Data"].get<std::string>(), raw)) {
        out.push_back("Content.Raw.Data is not base64");
      } else {
        check_raw_message(raw, out);
      }
    }
    if (c.contains("Simple")) check_simple(c["Simple"], out);
    if (c.contains("Template"))
      out.push_back("Content.Template: this project never sends templates");
  }
  if (body.contains("EmailTags")) {
    if (!body["EmailTags"].is_array()) {
      out.push_back("EmailTags must be an array");
    } else {
      for (const auto& t : body["EmailTags"]) {
        if (!t.is_object() || t.size() != 2 || !t.contains("Name") || !t.contains("Value") ||
            !is_tag_text(t["Name"]) || !is_tag_text(t["Value"])) {
          out.push_back(
              "EmailTags entries must be {Name, Value} of letters, digits, _ and - (1-256)");
        }
      }
    }
  }
  return out;
}

void FakeSes::handle(const httplib::Request& req, httplib::Response& res) {
  // A request is counted in the same step under the lock as what it leaves
  // behind is kept (its body after the checks, or its violations): a test
  // that sees the count sees the rest too.
  std::vector<std::string> problems;  // this request's violations, kept with its count
  auto arrived = [&] {
    ++requests_;
    connections_.insert(req.remote_port);
    violations_.insert(violations_.end(), problems.begin(), problems.end());
  };
  auto refused_request = [&] {
    std::lock_guard lock(mu_);
    arrived();
  };
  if (req.target != kPath) {
    problems.push_back("request target is \"" + req.target + "\", not " + kPath);
    ses_error(res, 400, "BadRequestException", "unexpected query");
    refused_request();
    return;
  }
  if (req.get_header_value("Host") != base_url().substr(base_url().find("://") + 3)) {
    problems.push_back("Host is \"" + req.get_header_value("Host") +
                       "\", not the address the request came to");
  }
  std::string why;
  const std::string refused = check_signature(req, why);
  if (!refused.empty()) {
    if (why.rfind("signature mismatch", 0) != 0) why = "bad signature: " + why;
    problems.push_back(why);
    ses_error(res, 403, refused,
              refused == "SignatureDoesNotMatch"
                  ? "The request signature we calculated does not match the signature you provided."
              : refused == "InvalidSignatureException"
                  ? "Signature expired"
                  : "The security token included in the request is invalid.");
    refused_request();
    return;
  }
  if (req.get_header_value("Content-Type") != "application/json") {
    problems.push_back("Content-Type is \"" + req.get_header_value("Content-Type") +
                       "\", not application/json");
    ses_error(res, 400, "BadRequestException", "bad content type");
    refused_request();
    return;
  }
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    problems.push_back("body is not valid JSON");
    ses_error(res, 400, "BadRequestException", "body is not JSON");
    refused_request();
    return;
  }
  std::string raw;
  const auto body_problems = check_body(body, raw);
  if (!body_problems.empty()) {
    problems.insert(problems.end(), body_problems.begin(), body_problems.end());
    ses_error(res, 400, "BadRequestException", body_problems.front());
    refused_request();
    return;
  }
  std::string outbox;
  if (body.contains("EmailTags")) {
    for (const auto& t : body["EmailTags"]) {
      if (t["Name"] == "outbox_id") outbox = t["Value"].get<std::string>();
    }
  }
  Answer answer;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    arrived();
    ++per_outbox_[outbox];
    bodies_.push_back(body);
    raw_.push_back(raw);
    auto it = scripts_.find(outbox);
    if (it != scripts_.end() && !it->second.empty()) {
      answer = std::move(it->second.front());
      it->second.pop_front();
    } else {
      answer = default_;
    }
    id = ++next_id_;
  }
  wait_ms(answer.delay_ms);
  for (const auto& [k, v] : answer.headers) res.set_header(k, v);
  if (answer.status == 200) {
    std::ostringstream mid;
    mid << "0102018c-fake-" << std::setw(6) << std::setfill('0') << id << "-000000";
    res.status = 200;
    res.set_header("x-amzn-RequestId", "fake-request-" + std::to_string(id));
    res.set_content(json{{"MessageId", mid.str()}}.dump(), "application/json");
  } else {
    ses_error(res, answer.status, answer.error_type, answer.message);
  }
}

}  // namespace sc::fakes
