#include "http_fixture.h"

namespace sc::unit {

std::optional<SubscriberView> FakeReadStore::subscriber_by_channel(ChannelKind kind,
                                                                   const std::string& address) {
  std::lock_guard lk(mu_);
  lookups.emplace_back(kind, address);
  auto ch = store_.find_channel(kind, address);
  if (!ch) return std::nullopt;
  SubscriberView v;
  v.subscriber = store_.subscribers.at(ch->subscriber_id);
  v.subscriber.id = ch->subscriber_id;
  for (const auto& [id, c] : store_.channels) {
    if (c.subscriber_id == ch->subscriber_id)
      v.channels.push_back({c.kind, c.address, c.state, c.created_at, c.updated_at});
  }
  for (const auto& t : store_.topics[ch->subscriber_id]) v.topics.push_back(t);
  for (const auto& e : store_.events) {
    if (e.subscriber_id != ch->subscriber_id) continue;
    v.consent_log.push_back({e.at, to_string(e.channel), e.address, to_string(e.action),
                             to_string(e.source), e.detail, e.context.ip, e.context.user_agent,
                             e.consent_text_version, e.message_sid, e.text_received,
                             e.opt_out_type});
  }
  return v;
}

void FakeAdminStore::add_key(const std::string& key, const std::string& name, Scope scope) {
  std::lock_guard lk(mu_);
  keys_[key] = Key{name, scope, false};
}

void FakeAdminStore::revoke(const std::string& name) {
  std::lock_guard lk(mu_);
  for (auto& [k, v] : keys_) {
    if (v.name == name) v.revoked = true;
  }
}

std::optional<AdminIdentity> FakeAdminStore::identify(std::string_view key) {
  std::lock_guard lk(mu_);
  auto it = keys_.find(std::string(key));
  if (it == keys_.end() || it->second.revoked) return std::nullopt;
  return AdminIdentity{it->second.name, it->second.scope};
}

void FakeAdminStore::append_audit(const AuditEntry& e) {
  if (fail) throw std::runtime_error("disk I/O error");
  std::lock_guard lk(mu_);
  entries_.push_back(e);
  entries_.back().id = static_cast<std::int64_t>(entries_.size());
}

AuditPage FakeAdminStore::audit_page(std::int64_t before, int limit) {
  std::lock_guard lk(mu_);
  pages_asked_.emplace_back(before, limit);
  AuditPage page;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (before != 0 && it->id >= before) continue;
    if (static_cast<int>(page.entries.size()) == limit) {
      page.next = page.entries.back().id;
      break;
    }
    page.entries.push_back(*it);
  }
  return page;
}

std::vector<AuditEntry> FakeAdminStore::entries() const {
  std::lock_guard lk(mu_);
  return entries_;
}

std::vector<std::pair<std::int64_t, int>> FakeAdminStore::pages_asked() const {
  std::lock_guard lk(mu_);
  return pages_asked_;
}

std::vector<ConsentLogView> FakeReadStore::unknown_number_log(const std::string& address) {
  std::lock_guard lk(mu_);
  std::vector<ConsentLogView> out;
  for (const auto& e : store_.events) {
    if (e.subscriber_id != 0 || e.address != address) continue;
    out.push_back({e.at, to_string(e.channel), e.address, to_string(e.action), to_string(e.source),
                   e.detail, e.context.ip, e.context.user_agent, e.consent_text_version,
                   e.message_sid, e.text_received, e.opt_out_type});
  }
  return out;
}

std::vector<StoredInboundText> FakeReadStore::inbound_for_review(int limit, std::int64_t before) {
  std::lock_guard lk(mu_);
  std::vector<StoredInboundText> out;
  for (auto it = store_.inbound.rbegin(); it != store_.inbound.rend(); ++it) {
    if (it->second.keyword != "none" || (before > 0 && it->first >= before)) continue;
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(it->second);
  }
  return out;
}

std::string FakePages::page(std::string_view name, const Vars& vars,
                            const std::set<std::string>& flags) const {
  std::string s = "<h1>page:" + std::string(name) + "</h1>\n";
  for (const auto& [k, v] : vars) s += k + "=" + v + "\n";
  for (const auto& f : flags) s += "flag:" + f + "\n";
  return s;
}

std::string FakePages::twiml_reply(std::string_view reply_template, const Vars&) const {
  return "<Response>twiml:" + std::string(reply_template) + "</Response>";
}

std::string FakePayloadVerifier::signature(std::string_view timestamp, std::string_view body) {
  std::uint64_t sum = 1469598103934665603ULL;  // FNV-1a
  for (char c : std::string(timestamp) + std::string(body)) {
    sum ^= static_cast<unsigned char>(c);
    sum *= 1099511628211ULL;
  }
  return std::to_string(timestamp.size() + body.size()) + "." + std::to_string(sum);
}

std::string FakeVerifier::signature(std::string_view url, const FormParams& params) {
  std::string s = "sig:" + std::string(url);
  for (const auto& [k, v] : params) s += "|" + k + "=" + v;
  return s + "|end";  // a header value loses its trailing spaces
}

bool FakeVerifier::verify(std::string_view url, const FormParams& params,
                          std::string_view sig) const {
  std::lock_guard lk(mu);
  urls.emplace_back(url);
  return sig == signature(url, params);
}

Result<std::string> FakePhones::normalize(std::string_view raw) const {
  std::string d;
  for (char c : raw) {
    if (c >= '0' && c <= '9')
      d += c;
    else if (c != ' ' && c != '-' && c != '+' && c != '(' && c != ')')
      return invalid("invalid_phone", "bad", "phone");
  }
  if (d.size() == 10) d = "1" + d;
  if (d.size() < 11 || d.size() > 15)
    return invalid("invalid_phone", "not a phone number", "phone");
  if (d.rfind("44", 0) == 0) return invalid("unsupported_country", "not texted there", "phone");
  return "+" + d;
}

namespace {
ServiceConfig service_config() {
  ServiceConfig c;
  c.public_url = kPublicUrl;
  c.org_name = "Test Org";
  c.email_consent = ConsentText{"email-v1", "Email consent text", std::string(64, 'e')};
  c.sms_consent = ConsentText{"sms-v1", "SMS consent text", std::string(64, 's')};
  return c;
}
}  // namespace

HttpTest::HttpTest() : service_(service_config(), signer_, composer_, &phones_, ids_) {
  writes_.audit = &admin_audit_;
}

HttpTest::~HttpTest() { stop(); }

HttpOptions HttpTest::test_options() {
  HttpOptions o;
  o.min_threads = 2;
  o.max_threads = 64;
  o.signup_limits = false;
  return o;
}

void HttpTest::start(HttpOptions options) {
  stop();
  HttpDeps deps{.service = service_,
                .writes = writes_,
                .reads = reads_,
                .pages = pages_,
                .clock = clock_,
                .admin_keys = {kAdminKey, "second-admin-key"},
                .admin_store = with_admin_store_ ? &admin_store_ : nullptr,
                .phones = with_phones_ ? &phones_ : nullptr,
                .public_url = kPublicUrl,
                .twilio = with_verifier_ ? &verifier_ : nullptr,
                .sendgrid_events = with_event_verifier_ ? &event_verifier_ : nullptr,
                .key_digest = &signer_,
                .metrics = with_metrics_ ? &metrics_ : nullptr,
                .provider_health =
                    [this] {
                      std::lock_guard lk(providers_mu_);
                      return providers_;
                    },
                .database_health =
                    [this] {
                      std::lock_guard lk(providers_mu_);
                      return database_health_;
                    },
                .broadcast_tx = broadcast_tx_,
                .broadcast_reads = broadcast_reads_,
                .broadcast_composer = broadcast_composer_,
                .broadcast_settings = broadcast_settings_};
  server_ = std::make_unique<HttpServer>(deps, options);
  port_ = server_->bind("127.0.0.1", 0);
  ASSERT_GT(port_, 0);
  serving_ = std::thread([this] { server_->serve(); });
  ASSERT_TRUE(server_->wait_until_ready());
  cli_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  cli_->set_read_timeout(5, 0);
}

void HttpTest::stop() {
  cli_.reset();
  if (!server_) return;
  server_->stop();
  if (serving_.joinable()) serving_.join();
  server_.reset();
}

// The fakes are written by the server's threads under their locks; the
// answer arriving over the socket orders those writes before the test's
// reads (and the test's earlier reads before the server's writes), but
// ThreadSanitizer cannot see through a TCP connection. Taking the same locks
// before a request is sent and after its answer is in makes that order
// visible to it.
void HttpTest::sync_with_server() {
  { std::lock_guard lk(writes_.mutex()); }
  { std::lock_guard lk(verifier_.mu); }
}

httplib::Result HttpTest::get(const std::string& path, httplib::Headers h) {
  sync_with_server();
  auto r = cli_->Get(path.c_str(), h);
  sync_with_server();
  return r;
}

httplib::Result HttpTest::post(const std::string& path, const std::string& body,
                               const std::string& type, httplib::Headers h) {
  sync_with_server();
  auto r = cli_->Post(path.c_str(), h, body, type.c_str());
  sync_with_server();
  return r;
}

httplib::Result HttpTest::post_json(const std::string& path, const nlohmann::json& body) {
  return post(path, body.dump(), "application/json");
}

std::string HttpTest::error_code(const httplib::Result& r) {
  if (!r) return "<no response>";
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("error") || !j["error"].contains("code") ||
      !j["error"].contains("message")) {
    return "";
  }
  return j["error"]["code"].get<std::string>();
}

std::int64_t HttpTest::signed_up_email(const std::string& address) {
  SignupRequest r;
  r.email = address;
  auto v = service_.validate(r);
  EXPECT_TRUE(v);
  // Under the unit of work's lock (not through it: runs counts the server's
  // transactions), so the server's threads do not race this write.
  std::lock_guard lk(writes_.mutex());
  (void)service_.sign_up(store_.tx(), v.value(), {"198.51.100.1", "setup"}, clock_.now_unix());
  return store_.channel(ChannelKind::kEmail, address).id;
}

std::string HttpTest::confirm_path(std::int64_t channel_id) const {
  return service_.confirm_url(channel_id, clock_.now_unix()).substr(std::string(kPublicUrl).size());
}

std::string HttpTest::unsubscribe_path(std::int64_t channel_id) const {
  return service_.unsubscribe_url(channel_id).substr(std::string(kPublicUrl).size());
}

}  // namespace sc::unit
