#include "sc/providers/smtp_email_sender.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "curl_easy.h"
#include "sc/providers/mime.h"

namespace sc::providers {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool has_ctl(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// An envelope address goes into "MAIL FROM:<…>" / "RCPT TO:<…>": nothing that
// could end the command or the brackets survives.
std::string envelope_address(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '<' || c == '>') continue;
    out += c;
  }
  return "<" + out + ">";
}

// The server's last reply (all lines of a multi-line reply), from the lines
// libcurl reports as CURLINFO_HEADER_IN.
struct ReplyLog {
  std::vector<std::string> lines;
  // The command each line answers ("MAIL", "RCPT", "DATA", "." for the end
  // of the message data …), from what libcurl reports as CURLINFO_HEADER_OUT.
  std::vector<std::string> answers;
  std::string command;
  // lines.size() when the message data had all been handed to libcurl.
  std::optional<std::size_t> data_end;

  void clear() {
    lines.clear();
    answers.clear();
    command.clear();
    data_end.reset();
  }
  void sent(std::string_view data) {
    command = std::string(data.substr(0, std::min<std::size_t>(4, data.size())));
    for (char& c : command) c = static_cast<char>((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
  }
  void data_done() {
    if (data_end) return;
    data_end = lines.size();
    command = ".";
  }
  // The message data went out and no answer came after it: the server may
  // have taken the message.
  bool unanswered_after_data() const { return data_end && *data_end == lines.size(); }
  const std::string& answered(bool failed) const {
    static const std::string kNone;
    return lines.empty() ? kNone : answers[deciding(failed)];
  }
  void add(std::string_view data) {
    while (!data.empty()) {
      auto nl = data.find('\n');
      std::string_view line = data.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) {
        lines.emplace_back(line);
        answers.push_back(command);
      }
      if (nl == std::string_view::npos) break;
      data.remove_prefix(nl + 1);
    }
  }
  // The reply that decides the outcome: on failure the last 4xx/5xx (libcurl
  // may send QUIT after it, and "221 Bye" explains nothing), else the last.
  std::size_t deciding(bool failed) const {
    if (failed) {
      for (std::size_t i = lines.size(); i-- > 0;) {
        if (code_of(lines[i]) >= 400) return i;
      }
    }
    return lines.size() - 1;
  }
  int code(bool failed) const { return lines.empty() ? 0 : code_of(lines[deciding(failed)]); }
  // "550 5.1.1 <x@y>: Recipient address rejected" (continuation lines joined).
  std::string text(bool failed) const {
    if (lines.empty()) return {};
    std::size_t last = deciding(failed);
    std::string code = lines[last].substr(0, std::min<std::size_t>(3, lines[last].size()));
    std::size_t first = last;
    while (first > 0 && lines[first - 1].rfind(code + "-", 0) == 0) --first;
    std::string out;
    for (std::size_t i = first; i <= last; ++i) {
      if (!out.empty()) out += ' ';
      out += lines[i].size() > 4 ? lines[i].substr(4) : std::string{};
    }
    return code + " " + out;
  }
  static int code_of(const std::string& l) {
    if (l.size() < 3) return 0;
    for (int i = 0; i < 3; ++i) {
      if (l[static_cast<std::size_t>(i)] < '0' || l[static_cast<std::size_t>(i)] > '9') return 0;
    }
    return std::stoi(l.substr(0, 3));
  }
};

// A refusal of RCPT TO that says the address itself is bad: 550 (mailbox
// unavailable), 551 (user not local) or 553 (mailbox name not allowed).
// libcurl fails RCPT, MAIL and DATA alike (CURLE_SEND_ERROR, or
// CURLE_WEIRD_SERVER_REPLY after the data), so the command a reply answers
// is tracked from the protocol lines instead. A 550 at RCPT is also how
// servers refuse *us* (blocklisted IP, relaying denied, policy: enhanced
// code 5.7.x): when the reply carries an enhanced status code, only 5.1.x
// (address status, RFC 3463) counts, so a blocklisting never marks a whole
// list undeliverable. A 550 after the data is about the message: permanent
// for it, and the address stays as it is.
bool rejects_the_address(int code, std::string_view reply) {
  if (code != 550 && code != 551 && code != 553) return false;
  std::string_view rest = reply.size() > 4 ? reply.substr(4) : std::string_view{};
  const bool enhanced = rest.size() >= 5 && (rest[0] == '4' || rest[0] == '5') && rest[1] == '.' &&
                        rest[2] >= '0' && rest[2] <= '9';
  if (!enhanced) return true;
  return rest[0] == '5' && rest[2] == '1' && rest[3] == '.';
}

}  // namespace

Result<SmtpUrl> parse_smtp_url(std::string_view url) {
  auto fail = [&](const std::string& why) {
    return invalid("invalid_smtp_url",
                   "SC_SMTP_URL " + why + " (expected smtp://user:pass@host:port or smtps://…)",
                   "SC_SMTP_URL");
  };
  SmtpUrl out;
  if (has_ctl(url)) return fail("contains control characters");
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return fail("has no scheme");
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  if (scheme != "smtp" && scheme != "smtps") return fail("has scheme \"" + scheme + "\"");
  out.scheme = scheme;
  std::string_view rest = url.substr(sep + 3);
  auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail =
      auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);

  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), out.username))
      return fail("has a bad %-escape in the user");
    if (colon != std::string_view::npos &&
        !percent_decode(userinfo.substr(colon + 1), out.password)) {
      return fail("has a bad %-escape in the password");
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("has an unclosed [IPv6] host");
    out.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("has junk after the host");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return fail("has no host");
  for (char c : out.host) {
    if (c == ' ' || c == '%') return fail("has a bad host");
  }
  if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
    if (port_text.empty() || port_text.size() > 5) return fail("has a bad port");
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return fail("has a bad port");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return fail("has a bad port");
    out.port = port;
  } else {
    out.port = scheme == "smtps" ? 465 : 587;
  }

  auto q = tail.find('?');
  if (q != std::string_view::npos) {
    std::string_view query = tail.substr(q + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
      auto amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      if (kv == "tls=none") {
        out.tls = SmtpTls::kNone;
      } else if (kv == "tls=required") {
        out.tls = SmtpTls::kRequired;
      } else if (!kv.empty()) {
        return fail("has an unknown parameter \"" + std::string(kv) +
                    "\" (only tls=none|required)");
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  if (out.scheme == "smtps" && out.tls == SmtpTls::kNone) return fail("asks for tls=none on smtps");
  return out;
}

struct SmtpEmailSender::Impl {
  SmtpConfig config;
  SmtpUrl url;
  std::string curl_url;
  SmtpTls tls = SmtpTls::kRequired;
  std::unique_ptr<CurlEasy> easy;

  // Per transfer.
  std::string payload;
  std::size_t offset = 0;
  ReplyLog replies;
  char errbuf[CURL_ERROR_SIZE] = {};

  static size_t read_cb(char* buf, size_t size, size_t nitems, void* user) {
    auto* self = static_cast<Impl*>(user);
    std::size_t n = std::min(size * nitems, self->payload.size() - self->offset);
    std::memcpy(buf, self->payload.data() + self->offset, n);
    self->offset += n;
    if (n == 0) self->replies.data_done();  // libcurl sends the final "." next
    return n;
  }

  static int debug_cb(CURL*, curl_infotype type, char* data, size_t size, void* user) {
    auto& replies = static_cast<Impl*>(user)->replies;
    if (type == CURLINFO_HEADER_IN) replies.add(std::string_view(data, size));
    if (type == CURLINFO_HEADER_OUT) replies.sent(std::string_view(data, size));
    return 0;
  }

  // A new handle, therefore a new connection on the next send.
  void open() {
    easy = std::make_unique<CurlEasy>();
    CurlEasy& e = *easy;
    e.set(CURLOPT_URL, curl_url.c_str());
    e.set(CURLOPT_NOSIGNAL, 1L);
    if (!url.username.empty()) e.set(CURLOPT_USERNAME, url.username.c_str());
    if (!url.password.empty()) e.set(CURLOPT_PASSWORD, url.password.c_str());
    if (url.scheme == "smtp") {
      e.set(CURLOPT_USE_SSL,
            static_cast<long>(tls == SmtpTls::kRequired ? CURLUSESSL_ALL : CURLUSESSL_NONE));
    }
    if (!config.ca_file.empty()) e.set(CURLOPT_CAINFO, config.ca_file.c_str());
    e.set(CURLOPT_CONNECTTIMEOUT_MS, config.connect_timeout_ms);
    e.set(CURLOPT_TIMEOUT_MS, config.timeout_ms);
    // The wait for any one reply, QUIT's included: libcurl sends QUIT when a
    // failed session's handle is closed and would wait 120 s for its answer
    // from a server that has stopped answering.
    e.set(CURLOPT_SERVER_RESPONSE_TIMEOUT, std::max(1L, (config.timeout_ms + 999) / 1000));
    e.set(CURLOPT_UPLOAD, 1L);
    e.set(CURLOPT_READFUNCTION, &Impl::read_cb);
    e.set(CURLOPT_READDATA, static_cast<void*>(this));
    // VERBOSE only routes the protocol lines to debug_cb, which keeps the
    // server's reply text; nothing is printed.
    e.set(CURLOPT_DEBUGFUNCTION, &Impl::debug_cb);
    e.set(CURLOPT_DEBUGDATA, static_cast<void*>(this));
    e.set(CURLOPT_VERBOSE, 1L);
    e.set(CURLOPT_ERRORBUFFER, errbuf);
  }

  CURLcode transfer(const std::string& from, const CurlSlist& rcpt, long& num_connects) {
    offset = 0;
    replies.clear();
    errbuf[0] = '\0';
    CurlEasy& e = *easy;
    e.set(CURLOPT_MAIL_FROM, from.c_str());
    e.set(CURLOPT_MAIL_RCPT, rcpt.get());
    e.set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    CURLcode rc = e.perform();
    num_connects = 0;
    curl_easy_getinfo(e.get(), CURLINFO_NUM_CONNECTS, &num_connects);
    return rc;
  }
};

SmtpEmailSender::SmtpEmailSender(SmtpConfig config) : impl_(std::make_unique<Impl>()) {
  auto parsed = parse_smtp_url(config.url);
  if (!parsed) throw std::invalid_argument(parsed.error().message);
  impl_->url = parsed.value();
  impl_->tls = impl_->url.tls.value_or(config.tls);
  impl_->curl_url =
      impl_->url.scheme + "://" + impl_->url.host + ":" + std::to_string(impl_->url.port);
  impl_->config = std::move(config);
}

SmtpEmailSender::~SmtpEmailSender() = default;

SendResult SmtpEmailSender::send(const OutboundEmail& message) {
  std::lock_guard lock(mu_);
  Impl& s = *impl_;
  s.payload = build_mime(message);
  std::string message_id;
  if (auto p = s.payload.find("\r\nMessage-ID: <"); p != std::string::npos) {
    p += 15;
    message_id = s.payload.substr(p, s.payload.find('>', p) - p);
  }
  std::string from = envelope_address(!message.envelope_from.empty()    ? message.envelope_from
                                      : !s.config.envelope_from.empty() ? s.config.envelope_from
                                                                        : message.from.address);
  CurlSlist rcpt;
  rcpt.append(envelope_address(message.to.address));

  if (!s.easy) s.open();
  long connects = 0;
  CURLcode rc = s.transfer(from, rcpt, connects);
  // A kept connection the server closed while idle fails before any reply;
  // nothing was accepted, so one retry on a fresh connection is safe.
  if (rc != CURLE_OK && connects == 0 && s.replies.lines.empty()) {
    s.open();
    rc = s.transfer(from, rcpt, connects);
  }

  bool failed = rc != CURLE_OK;
  int code = s.replies.code(failed);
  if (code == 0) code = static_cast<int>(s.easy->response_code());
  std::string reply = s.replies.text(failed);
  if (rc == CURLE_OK) return SendResult::sent("smtp:" + std::to_string(code), message_id, reply);

  // Any failure may leave the session mid-transaction: start the next
  // message on a fresh connection.
  std::string detail = curl_easy_strerror(rc);
  if (s.errbuf[0] != '\0') detail += std::string(": ") + s.errbuf;
  s.easy.reset();

  if (code >= 400 && code < 600 && !reply.empty()) {
    // The server's own verdict: 5xx will not change on retry, 4xx may.
    if (s.replies.answered(failed) == "RCPT" && rejects_the_address(code, reply)) {
      auto r = SendResult::permanent("smtp:" + std::to_string(code), reply);
      r.recipient_undeliverable = true;
      return r;
    }
    if (code == 535) {
      // Bad credentials: no message would get through, so the dispatcher
      // pauses this provider and hands the message back unburnt.
      auto r = SendResult::permanent("smtp:535", reply);
      r.auth_refused = true;
      return r;
    }
    if (code >= 500) return SendResult::permanent("smtp:" + std::to_string(code), reply);
    return SendResult::retryable("smtp:" + std::to_string(code), reply);
  }
  auto r = SendResult::retryable("curl:" + std::to_string(static_cast<int>(rc)),
                                 reply.empty() ? detail : detail + " (last reply: " + reply + ")");
  // No verdict on a message the server received in full (a timeout, or the
  // connection dropped after the final dot): it may be on its way.
  r.ambiguous =
      s.replies.unanswered_after_data() || (!s.payload.empty() && s.offset == s.payload.size());
  return r;
}

}  // namespace sc::providers
