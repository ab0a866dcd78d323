// The broadcasts resource (src/http/broadcast_routes.cpp) in process,
// against in-memory broadcast ports: who may do what (401, 403), unknown
// ids (404), invalid transitions (409), each bad field (422), a body that is
// not JSON (400) or not declared JSON (415), and Idempotency-Key. Every
// refusal leaves the store as it was. The same answers through the real
// binary and SQLite are in tests/integration/broadcast_test.cpp.
#include <gmock/gmock.h>

#include <set>

#include "http_fixture.h"
#include "sc/core/broadcast.h"

namespace sc::unit {
namespace {

using nlohmann::json;

constexpr const char* kReadKey = "read-key-0123456789";
constexpr const char* kSendKey = "send-key-0123456789";

// Broadcasts in memory: the write port (one lock per transaction) and the
// read port over the same maps.
class MemoryBroadcasts final : public BroadcastTransactions,
                               public BroadcastReads,
                               private BroadcastStore {
 public:
  explicit MemoryBroadcasts(ConsentStore& consent) : consent_(consent) {}

  void run(const std::function<void(BroadcastStore&, ConsentStore&)>& fn) override {
    std::lock_guard lk(mu_);
    fn(*this, consent_);
  }
  void run_background(const std::function<void(BroadcastStore&)>& fn) override {
    std::lock_guard lk(mu_);
    fn(*this);
  }

  std::optional<Broadcast> get(std::int64_t id) override {
    std::lock_guard lk(mu_);
    return find(id);
  }
  std::vector<Broadcast> list(int limit, std::int64_t before) override {
    std::lock_guard lk(mu_);
    std::vector<Broadcast> out;
    for (auto it = rows_.rbegin(); it != rows_.rend() && static_cast<int>(out.size()) < limit; ++it)
      if (before == 0 || it->first < before) out.push_back(it->second);
    return out;
  }
  BroadcastCounts counts(std::int64_t id) override {
    std::lock_guard lk(mu_);
    BroadcastCounts c;
    for (const auto& r : ledger_[id]) {
      ++c.total;
      if (r.state == "queued") ++c.queued;
      if (r.state == "sent") ++c.sent;
      if (r.state == "failed") ++c.failed;
      if (r.state == "skipped") ++c.skipped;
      if (r.state == "unknown") ++c.unknown;
    }
    return c;
  }
  std::vector<BroadcastRecipient> recipients(std::int64_t id, const std::string& state, int limit,
                                             std::int64_t after) override {
    std::lock_guard lk(mu_);
    std::vector<BroadcastRecipient> out;
    for (const auto& r : ledger_[id])
      if ((state.empty() || r.state == state) && r.outbox_id > after &&
          static_cast<int>(out.size()) < limit)
        out.push_back(r);
    return out;
  }

  // Test set-up and inspection.
  void add_topic(const std::string& t) {
    std::lock_guard lk(mu_);
    topics_.insert(t);
  }
  void force_status(std::int64_t id, BroadcastStatus s) {
    std::lock_guard lk(mu_);
    rows_.at(id).status = s;
  }
  void add_recipient(std::int64_t id, const std::string& address, const std::string& state) {
    std::lock_guard lk(mu_);
    BroadcastRecipient r;
    r.outbox_id = ++next_outbox_;
    r.address = address;
    r.state = state;
    ledger_[id].push_back(r);
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return rows_.size();
  }

 private:
  std::int64_t insert(const Broadcast& b) override {
    Broadcast n = b;
    n.id = ++next_id_;
    n.status = BroadcastStatus::kDraft;
    n.updated_at = n.created_at;
    rows_[n.id] = n;
    return n.id;
  }
  std::optional<Broadcast> find(std::int64_t id) override {
    auto it = rows_.find(id);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Broadcast> find_by_idempotency_key(const std::string& key) override {
    for (const auto& [id, b] : rows_)
      if (b.idempotency_key == key) return b;
    return std::nullopt;
  }
  void update_content(const Broadcast& b) override {
    auto& r = rows_.at(b.id);
    r.channel = b.channel;
    r.subject = b.subject;
    r.text = b.text;
    r.html = b.html;
    r.topics = b.topics;
    r.send_at = b.send_at;
    r.updated_at = b.updated_at;
  }
  void set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                  std::int64_t now) override {
    auto& r = rows_.at(id);
    r.status = s;
    r.pause_reason = reason;
    r.updated_at = now;
    if (s == BroadcastStatus::kSending && r.started_at == 0) r.started_at = now;
  }
  std::vector<std::string> unknown_topics(const std::vector<std::string>& topics) override {
    std::vector<std::string> out;
    for (const auto& t : topics)
      if (!topics_.contains(t)) out.push_back(t);
    return out;
  }
  std::vector<Broadcast> active() override { return {}; }
  int snapshot_chunk(const Broadcast&, int, std::int64_t) override { return 0; }
  int skip_queued(std::int64_t, int, std::int64_t) override { return 0; }
  bool has_unfinished(std::int64_t) override { return false; }
  int requeue(std::int64_t id, const std::string& state, std::int64_t) override {
    int n = 0;
    for (auto& r : ledger_[id])
      if (r.state == state) {
        r.state = "queued";
        ++n;
      }
    return n;
  }

  std::mutex mu_;
  ConsentStore& consent_;
  std::map<std::int64_t, Broadcast> rows_;
  std::map<std::int64_t, std::vector<BroadcastRecipient>> ledger_;
  std::set<std::string> topics_;
  std::int64_t next_id_ = 0, next_outbox_ = 0;
};

// Inline templates of the simplest kind: {{name}} replaced (escaped for
// HTML); "{{" without its "}}" does not parse.
class InlineComposer final : public Composer {
 public:
  ComposedEmail email(std::string_view, const std::map<std::string, std::string>&) const override {
    return {};
  }
  std::string sms(std::string_view, const std::map<std::string, std::string>&) const override {
    return {};
  }
  std::string inline_template(std::string_view source,
                              const std::map<std::string, std::string>& vars,
                              bool html) const override {
    if (auto e = inline_error(source); !e.empty()) throw std::runtime_error(e);
    std::string out, src(source);
    std::size_t i = 0;
    while (true) {
      auto open = src.find("{{", i);
      if (open == std::string::npos) break;
      auto close = src.find("}}", open);
      out += src.substr(i, open - i);
      auto it = vars.find(src.substr(open + 2, close - open - 2));
      std::string v = it == vars.end() ? "" : it->second;
      if (html) {
        std::string esc;
        for (char c : v) esc += c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
        v = esc;
      }
      out += v;
      i = close + 2;
    }
    return out + src.substr(i);
  }
  std::string inline_error(std::string_view source) const override {
    std::size_t i = 0;
    while ((i = source.find("{{", i)) != std::string_view::npos) {
      auto close = source.find("}}", i);
      if (close == std::string_view::npos) return "unclosed tag at " + std::to_string(i);
      i = close + 2;
    }
    return "";
  }
};

class BroadcastRoutesTest : public HttpTest {
 protected:
  BroadcastRoutesTest()
      : broadcasts_(store_),
        broadcast_composer_impl_(inline_composer_, service_,
                                 BroadcastComposer::Settings{"Example Org",
                                                             "1 Main St",
                                                             {"news@example.org", "News"},
                                                             "bounces@example.org",
                                                             "",
                                                             "Example <news.example.org>",
                                                             ":stayconnected:example.org"},
                                 [this](std::int64_t id) { return broadcasts_.get(id); }) {
    admin_store_.add_key(kReadKey, "viewer", Scope::kRead);
    admin_store_.add_key(kSendKey, "newsroom", Scope::kSend);
    broadcasts_.add_topic("news");
    broadcast_tx_ = &broadcasts_;
    broadcast_reads_ = &broadcasts_;
    broadcast_composer_ = &broadcast_composer_impl_;
    broadcast_settings_.sms_max_segments = 2;
  }
  // The server's threads use the composer and stores above: stop them (and
  // join) before those members are destroyed, ahead of the base class.
  ~BroadcastRoutesTest() override { stop(); }

  httplib::Result call(const std::string& path, const json& body, const std::string& key,
                       httplib::Headers extra = {}) {
    httplib::Headers h = extra;
    if (!key.empty()) h.emplace("Authorization", "Bearer " + key);
    return post(path, body.is_null() ? std::string() : body.dump(), "application/json", h);
  }
  std::int64_t create(const json& body, const std::string& key = kAdminKey) {
    auto r = call("/api/v1/admin/broadcasts", body, key);
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? json::parse(r->body)["id"].get<std::int64_t>() : 0;
  }
  static std::string path(std::int64_t id, const std::string& tail = "") {
    return "/api/v1/admin/broadcasts/" + std::to_string(id) + tail;
  }
  static json error_of(const httplib::Result& r) {
    auto j = json::parse(r->body, nullptr, false);
    return j.is_discarded() ? json() : j["error"];
  }

  const json email_ = {{"channel", "email"}, {"subject", "Hi"}, {"text", "Hello {{first_name}}"}};
  MemoryBroadcasts broadcasts_;
  InlineComposer inline_composer_;
  BroadcastComposer broadcast_composer_impl_;
};

TEST_F(BroadcastRoutesTest, KeysAndScopes) {
  start();
  auto none = call("/api/v1/admin/broadcasts", email_, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
  EXPECT_EQ(call("/api/v1/admin/broadcasts", email_, "unknown-key-0000")->status, 401);
  auto ro = call("/api/v1/admin/broadcasts", email_, kReadKey);
  ASSERT_TRUE(ro);
  EXPECT_EQ(ro->status, 403);
  EXPECT_NE(error_of(ro)["message"].get<std::string>().find("send"), std::string::npos) << ro->body;
  EXPECT_EQ(broadcasts_.size(), 0u);
  const auto id = create(email_, kSendKey);
  ASSERT_GT(id, 0);
  for (const char* what : {"/send", "/pause", "/cancel", "/retry-failed", "/test"}) {
    auto r = call(path(id, what), json::object(), kReadKey);
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, 403) << what << " " << r->body;
  }
  EXPECT_EQ(get(path(id), {{"Authorization", std::string("Bearer ") + kReadKey}})->status, 200);
  EXPECT_EQ(get("/api/v1/admin/broadcasts", {})->status, 401);
  // Only the create was audited, by the key's name.
  auto entries = admin_store_.entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key_name, "newsroom");
  EXPECT_EQ(entries[0].action, "broadcast.create");
  EXPECT_EQ(broadcasts_.get(id)->status, BroadcastStatus::kDraft);
}

TEST_F(BroadcastRoutesTest, UnknownIdsAre404) {
  start();
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  for (const char* tail : {"", "/recipients", "/recipients.csv"}) {
    auto r = get(path(77, tail), admin);
    ASSERT_TRUE(r) << tail;
    EXPECT_EQ(r->status, 404) << tail << " " << r->body;
  }
  for (const char* tail : {"", "/send", "/pause", "/resume", "/cancel", "/retry-failed",
                           "/retry-unknown", "/test", "/preview"}) {
    auto r = call(path(77, tail), std::string(tail).empty() ? email_ : json::object(), kAdminKey);
    ASSERT_TRUE(r) << tail;
    EXPECT_EQ(r->status, 404) << tail << " " << r->body;
    EXPECT_EQ(error_of(r)["code"], "not_found") << tail;
  }
  EXPECT_EQ(broadcasts_.size(), 0u);
}

// Issue 14: a misspelt variable, a template past the limits and a text that
// the longest name a subscriber may have pushes over SC_SMS_MAX_SEGMENTS are
// 422 with the field named, at create and at edit, and nothing changes.
TEST_F(BroadcastRoutesTest, TemplateMistakesAndLimitsAre422AtCreateAndEdit) {
  start();
  auto rep = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  struct Bad {
    const char* name;
    json body;
    const char* code;
    const char* field;
    const char* says;
  };
  const std::vector<Bad> table = {
      {"misspelt variable",
       {{"channel", "email"}, {"subject", "s"}, {"text", "Hello {{firstname}}!"}},
       "unknown_variable",
       "text",
       "{{firstname}}"},
      {"misspelt variable in the subject",
       {{"channel", "email"}, {"subject", "News for {{ firstname }}"}, {"text", "x"}},
       "unknown_variable",
       "subject",
       "first_name, org_name, postal_address and unsubscribe_url"},
      {"misspelt section in the html",
       {{"channel", "email"},
        {"subject", "s"},
        {"text", "x"},
        {"html", "{{^firstname}}friend{{/firstname}}"}},
       "unknown_variable",
       "html",
       "{{firstname}}"},
      {"nested sections (the memory attack)",
       {{"channel", "email"},
        {"subject", "s"},
        {"text", rep("{{#first_name}}", 2100) + "x" + rep("{{/first_name}}", 2100)}},
       "template_too_deep",
       "text",
       "deep"},
      {"too many sections",
       {{"channel", "sms"}, {"text", rep("{{^first_name}}{{/first_name}}", 101)}},
       "too_many_sections",
       "text",
       "100 sections"},
      {"over the segment limit with the longest name",
       {{"channel", "sms"}, {"text", "Hi {{first_name}}, " + std::string(200, 'a')}},
       "too_many_segments",
       "text",
       "segments"},
  };
  const auto id = create(email_);
  for (const auto& t : table) {
    for (bool edit : {false, true}) {
      auto r = call(edit ? path(id) : "/api/v1/admin/broadcasts", t.body, kAdminKey);
      ASSERT_TRUE(r) << t.name;
      EXPECT_EQ(r->status, 422) << t.name << ": " << r->body;
      EXPECT_EQ(error_of(r)["code"], t.code) << t.name << ": " << r->body;
      EXPECT_EQ(error_of(r)["field"], t.field) << t.name << ": " << r->body;
      EXPECT_THAT(error_of(r)["message"].get<std::string>(), ::testing::HasSubstr(t.says))
          << t.name;
    }
  }
  EXPECT_EQ(broadcasts_.size(), 1u);
  EXPECT_EQ(broadcasts_.get(id)->text, "Hello {{first_name}}");
  // The same text with room for a 100-character name is accepted.
  EXPECT_EQ(
      call(path(id), {{"channel", "sms"}, {"text", "Hi {{first_name}}, " + std::string(150, 'a')}},
           kAdminKey)
          ->status,
      200);
}

TEST_F(BroadcastRoutesTest, InvalidTransitionsAre409WithAClearMessage) {
  start();
  struct Case {
    BroadcastStatus status;
    std::string action;
    const char* says;
  };
  const std::vector<Case> cases = {
      {BroadcastStatus::kCancelled, "/send",
       "only a draft can be sent; this broadcast is cancelled"},
      {BroadcastStatus::kCompleted, "/resume",
       "only a paused broadcast can be resumed; this broadcast is completed"},
      {BroadcastStatus::kSending, "", "only a draft can be edited; this broadcast is sending"},
      {BroadcastStatus::kCompleted, "/cancel",
       "a completed or cancelled broadcast cannot be cancelled; this broadcast is completed"},
      {BroadcastStatus::kDraft, "/pause",
       "only a sending or scheduled broadcast can be paused; this broadcast is draft"},
      {BroadcastStatus::kDraft, "/retry-failed",
       "only a broadcast that has sent can retry recipients; this broadcast is draft"},
  };
  for (const auto& c : cases) {
    const auto id = create(email_);
    broadcasts_.force_status(id, c.status);
    const auto before = *broadcasts_.get(id);
    auto r = call(path(id, c.action), c.action.empty() ? email_ : json(), kAdminKey);
    ASSERT_TRUE(r) << c.action;
    EXPECT_EQ(r->status, 409) << c.action << " " << r->body;
    EXPECT_EQ(error_of(r)["code"], "invalid_transition");
    EXPECT_EQ(error_of(r)["message"], c.says);
    const auto after = *broadcasts_.get(id);
    EXPECT_EQ(after.status, before.status) << c.action;
    EXPECT_EQ(after.updated_at, before.updated_at) << c.action;
  }
}

TEST_F(BroadcastRoutesTest, EachBadFieldIs422AndNothingIsStored) {
  start();
  struct Bad {
    const char* name;
    json body;
    const char* code;
    const char* field;
  };
  const std::vector<Bad> table = {
      {"unknown channel", {{"channel", "fax"}, {"text", "x"}}, "invalid_channel", "channel"},
      {"channel missing", {{"text", "x"}}, "invalid_channel", "channel"},
      {"missing subject", {{"channel", "email"}, {"text", "x"}}, "missing_subject", "subject"},
      {"empty text", {{"channel", "sms"}, {"text", ""}}, "missing_text", "text"},
      {"text over the segment limit",
       {{"channel", "sms"}, {"text", std::string(2 * 153 + 1, 'a')}},
       "too_many_segments",
       "text"},
      {"bad send_at",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"send_at", "2026-02-30T25:00Z"}},
       "invalid_send_at",
       "send_at"},
      {"unknown topic",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"topics", {"news", "typo"}}},
       "unknown_topic",
       "topics"},
      {"topics not a list",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"topics", "news"}},
       "invalid_topics",
       "topics"},
      {"template that does not parse",
       {{"channel", "email"}, {"subject", "s"}, {"text", "Hi {{first_name"}},
       "invalid_template",
       "text"},
      {"html template that does not parse",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"html", "<p>{{x</p>"}},
       "invalid_template",
       "html"},
      {"unknown field",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"from", "me"}},
       "unknown_field",
       "from"},
  };
  for (const auto& t : table) {
    auto r = call("/api/v1/admin/broadcasts", t.body, kAdminKey);
    ASSERT_TRUE(r) << t.name;
    EXPECT_EQ(r->status, 422) << t.name << ": " << r->body;
    EXPECT_EQ(error_of(r)["code"], t.code) << t.name << ": " << r->body;
    EXPECT_EQ(error_of(r)["field"], t.field) << t.name << ": " << r->body;
    EXPECT_FALSE(error_of(r)["message"].get<std::string>().empty()) << t.name;
  }
  // Not JSON at all, or not an object: 400. Not declared JSON: 415.
  for (const std::string body : {"{\"channel\":", "[]", "\"text\"", ""}) {
    auto r = post("/api/v1/admin/broadcasts", body, "application/json",
                  {{"Authorization", std::string("Bearer ") + kAdminKey}});
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, 400) << body << " " << r->body;
    EXPECT_EQ(error_of(r)["code"], "malformed_json") << body;
  }
  auto form = post("/api/v1/admin/broadcasts", "channel=email", "application/x-www-form-urlencoded",
                   {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415) << form->body;
  EXPECT_EQ(broadcasts_.size(), 0u);
  EXPECT_TRUE(admin_store_.entries().empty()) << "a refused create was audited";
  // The same checks guard an edit: the draft is unchanged.
  const auto id = create(email_);
  auto edit = call(path(id), {{"channel", "email"}, {"text", "x"}}, kAdminKey);
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->status, 422);
  EXPECT_EQ(broadcasts_.get(id)->subject, "Hi");
}

TEST_F(BroadcastRoutesTest, TheSameIdempotencyKeyMakesOneBroadcast) {
  start();
  auto first = call("/api/v1/admin/broadcasts", email_, kAdminKey, {{"Idempotency-Key", "k-1"}});
  auto again = call("/api/v1/admin/broadcasts", email_, kAdminKey, {{"Idempotency-Key", "k-1"}});
  auto other = call("/api/v1/admin/broadcasts", email_, kAdminKey, {{"Idempotency-Key", "k-2"}});
  ASSERT_TRUE(first && again && other);
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(other->status, 201);
  EXPECT_EQ(json::parse(first->body)["id"], json::parse(again->body)["id"]);
  EXPECT_NE(json::parse(first->body)["id"], json::parse(other->body)["id"]);
  EXPECT_EQ(broadcasts_.size(), 2u);
  auto too_long = call("/api/v1/admin/broadcasts", email_, kAdminKey,
                       {{"Idempotency-Key", std::string(256, 'k')}});
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 422);
  EXPECT_EQ(broadcasts_.size(), 2u);
}

TEST_F(BroadcastRoutesTest, CountsAndRecipientsAsTheLedgerHoldsThem) {
  start();
  const auto id = create(email_);
  broadcasts_.force_status(id, BroadcastStatus::kCompleted);
  broadcasts_.add_recipient(id, "a@example.org", "sent");
  broadcasts_.add_recipient(id, "b@example.org", "failed");
  broadcasts_.add_recipient(id, "+16502530000", "unknown");
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto one = json::parse(get(path(id), admin)->body);
  EXPECT_EQ(one["counts"]["total"], 3);
  EXPECT_EQ(one["counts"]["failed"], 1);
  auto unknown = get(path(id, "/recipients?status=unknown"), admin);
  ASSERT_TRUE(unknown && unknown->status == 200);
  auto rows = json::parse(unknown->body)["recipients"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["address"], "+16502530000");
  auto csv = get(path(id, "/recipients.csv?status=unknown"), admin);
  ASSERT_TRUE(csv && csv->status == 200);
  // A phone number is kept as stored (no formula guard on +digits).
  EXPECT_NE(csv->body.find("\r\n3,+16502530000,unknown,"), std::string::npos) << csv->body;
  EXPECT_EQ(get(path(id, "/recipients?status=lost"), admin)->status, 422);
  auto retry = call(path(id, "/retry-failed"), json(), kAdminKey);
  ASSERT_TRUE(retry && retry->status == 200);
  EXPECT_EQ(json::parse(retry->body)["requeued"], 1);
  EXPECT_EQ(broadcasts_.get(id)->status, BroadcastStatus::kSending);
}

TEST_F(BroadcastRoutesTest, WithoutThePortsTheRoutesAnswer503) {
  broadcast_tx_ = nullptr;
  start();
  auto r = call("/api/v1/admin/broadcasts", email_, kAdminKey);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

}  // namespace
}  // namespace sc::unit
