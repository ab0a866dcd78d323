// The broadcasts resource (src/http/broadcast_routes.cpp) in process,
// against in-memory broadcast ports: who may do what (401, 403), unknown
// ids (404), invalid transitions (409), each bad field (422), a body that is
// not JSON (400) or not declared JSON (415), and Idempotency-Key. Every
// refusal leaves the store as it was. Which action each status allows is
// core's (tests/unit/core/broadcast_lifecycle_test.cpp); SQLite's side of the
// ports is in tests/unit/storage/broadcast_store_test.cpp.
#include <gmock/gmock.h>

#include <regex>
#include <set>
#include <tuple>

#include "http_fixture.h"
#include "sc/core/broadcast.h"

namespace sc::unit {
namespace {

using nlohmann::json;

constexpr const char* kReadKey = "read-key-0123456789";
constexpr const char* kSendKey = "send-key-0123456789";

// Broadcasts in memory: the write port (one lock per transaction) and the
// read port over the same maps. A transaction that throws leaves the maps as
// they were before it (a rollback), and each one is counted.
class MemoryBroadcasts final : public BroadcastTransactions,
                               public BroadcastReads,
                               private BroadcastDrafts,
                               private BroadcastLedger {
 public:
  explicit MemoryBroadcasts(AuditLog& audit) : audit_(audit) {}

  void run(const std::function<void(const BroadcastTransaction&)>& fn) override {
    std::lock_guard lk(mu_);
    ++transactions_;
    const auto rows = rows_;
    const auto ledger = ledger_;
    try {
      fn(BroadcastTransaction{*this, *this, audit_});
    } catch (...) {
      rows_ = rows;
      ledger_ = ledger;
      ++rolled_back_;
      throw;
    }
  }
  void run_background(const std::function<void(BroadcastDrafts&, BroadcastLedger&)>& fn) override {
    std::lock_guard lk(mu_);
    fn(*this, *this);
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
  // A queued recipient held until a later time (add_recipient's held_until)
  // reads as waiting, as the SQLite ledger reads it.
  static bool waiting(const BroadcastRecipient& r, std::int64_t now) {
    return r.state == "queued" && r.waiting_until > now;
  }
  BroadcastCounts counts(std::int64_t id, std::int64_t now) override {
    std::lock_guard lk(mu_);
    BroadcastCounts c;
    for (const auto& r : ledger_[id]) {
      ++c.total;
      if (r.state == "queued") ++c.queued;
      if (waiting(r, now)) {
        ++c.waiting;
        if (c.waiting_until == 0 || r.waiting_until < c.waiting_until)
          c.waiting_until = r.waiting_until;
      }
      if (r.state == "sent") ++c.sent;
      if (r.state == "failed") ++c.failed;
      if (r.state == "skipped") ++c.skipped;
      if (r.state == "unknown") ++c.unknown;
    }
    return c;
  }
  std::vector<BroadcastRecipient> recipients(std::int64_t id, const std::string& state, int limit,
                                             std::int64_t after, std::int64_t now) override {
    std::lock_guard lk(mu_);
    std::vector<BroadcastRecipient> out;
    for (auto r : ledger_[id]) {
      if (waiting(r, now))
        r.state = "waiting";
      else
        r.waiting_until = 0;
      if ((state.empty() || r.state == state) && r.outbox_id > after &&
          static_cast<int>(out.size()) < limit)
        out.push_back(r);
    }
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
  void add_recipient(std::int64_t id, const std::string& address, const std::string& state,
                     std::int64_t held_until = 0, std::int64_t finished_at = 0,
                     const std::string& error = "") {
    std::lock_guard lk(mu_);
    BroadcastRecipient r;
    r.outbox_id = ++next_outbox_;
    r.address = address;
    r.state = state;
    r.waiting_until = held_until;
    r.finished_at = finished_at;
    r.error = error;
    ledger_[id].push_back(r);
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return rows_.size();
  }
  void set_audience(bool v) {
    std::lock_guard lk(mu_);
    audience_ = v;
  }
  int rolled_back() {
    std::lock_guard lk(mu_);
    return rolled_back_;
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
  std::optional<Broadcast> find_by_idempotency_key(const std::string& key_name,
                                                   const std::string& key) override {
    for (const auto& [id, b] : rows_)
      if (b.created_by == key_name && b.idempotency_key == key) return b;
    return std::nullopt;
  }
  bool has_audience(const Broadcast&) override { return audience_; }
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
  std::optional<std::int64_t> take_run_lease(std::int64_t, std::int64_t, std::int64_t) override {
    return 1;  // no runner here
  }
  int snapshot_chunk(const Broadcast&, int, std::int64_t) override { return 0; }
  SnapshotAhead snapshot_ahead(const Broadcast&, int, int, std::int64_t) override { return {}; }
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
  AuditLog& audit_;
  bool audience_ = true;
  int transactions_ = 0, rolled_back_ = 0;
  std::map<std::int64_t, Broadcast> rows_;
  std::map<std::int64_t, std::vector<BroadcastRecipient>> ledger_;
  std::set<std::string> topics_;
  std::int64_t next_id_ = 0, next_outbox_ = 0;
};

class BroadcastRoutesTest : public HttpTest {
 protected:
  BroadcastRoutesTest()
      : broadcasts_(admin_audit_),
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
  RecordingComposer inline_composer_;  // {{name}} substituted, unclosed tags refused
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
      {"send_at a word",
       {{"channel", "email"}, {"subject", "s"}, {"text", "x"}, {"send_at", "tomorrow"}},
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
  auto rows = json::parse(unknown->body)["items"];
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

// One API style (docs/api.md): times are RFC 3339 UTC strings, and every
// list is {"items":[…],"next":"<URL>"} with next absent on the last page,
// also when the last page is full.
TEST_F(BroadcastRoutesTest, TimesAreRfc3339AndEveryListPagesByANextUrl) {
  clock_.set(1'700'000'000);
  start();
  std::int64_t id = 0;
  for (int i = 0; i < 4; ++i) id = create(email_);
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto one = json::parse(get(path(id), admin)->body);
  EXPECT_EQ(one["created_at"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(one["updated_at"], "2023-11-14T22:13:20Z");

  auto page = json::parse(get("/api/v1/admin/broadcasts?limit=2", admin)->body);
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["id"], id);
  ASSERT_TRUE(page["next"].is_string()) << page;
  page = json::parse(get(page["next"].get<std::string>(), admin)->body);
  ASSERT_EQ(page["items"].size(), 2u) << page;
  EXPECT_EQ(page["items"][1]["id"], id - 3);
  EXPECT_FALSE(page.contains("next")) << "a full last page has no next: " << page;

  broadcasts_.force_status(id, BroadcastStatus::kCompleted);
  for (int i = 0; i < 5; ++i)
    broadcasts_.add_recipient(id, "r" + std::to_string(i) + "@example.org",
                              i == 2 ? "sent" : "failed", 0, i == 0 ? 1'700'000'100 : 0);
  std::vector<std::string> seen;
  for (std::string next = path(id, "/recipients?status=failed&limit=2"); !next.empty();) {
    page = json::parse(get(next, admin)->body);
    for (const auto& r : page["items"]) seen.push_back(r["address"]);
    next = page.contains("next") ? page["next"].get<std::string>() : "";
    if (!next.empty()) {
      EXPECT_NE(next.find("status=failed"), std::string::npos) << next;
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"r0@example.org", "r1@example.org", "r3@example.org",
                                            "r4@example.org"}));
  page = json::parse(get(path(id, "/recipients?limit=1"), admin)->body);
  EXPECT_EQ(page["items"][0]["finished_at"], "2023-11-14T22:15:00Z");
  auto csv = get(path(id, "/recipients.csv?limit=2"), admin)->body;
  EXPECT_NE(csv.find(",2023-11-14T22:15:00Z,\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("r1@example.org,failed,0,,,,,,,\r\n"), std::string::npos) << csv;
}

// Quiet hours: texts held until their recipients' window opens are counted
// as waiting (a part of queued, so the counts still add up to total), with
// when the first may go, and listed (JSON and CSV) as waiting with their own
// time, all in RFC 3339 UTC; once the clock passes that time they are queued.
TEST_F(BroadcastRoutesTest, TextsHeldByQuietHoursShowAsWaitingWithWhenTheyMayGo) {
  start();
  const auto id = create({{"channel", "sms"}, {"text", "Polls open at 7"}});
  broadcasts_.force_status(id, BroadcastStatus::kSending);
  const std::int64_t now = 1'768'481'940;  // 2026-01-15T12:59:00Z: 07:59 in New York
  clock_.set(now);
  broadcasts_.add_recipient(id, "+12125550100", "queued", 1'768'482'000);  // 13:00Z
  broadcasts_.add_recipient(id, "+13105550100", "queued", 1'768'492'800);  // 16:00Z
  broadcasts_.add_recipient(id, "+13125550100", "queued");
  broadcasts_.add_recipient(id, "+14155550100", "sent");
  const httplib::Headers admin{{"Authorization", std::string("Bearer ") + kAdminKey}};
  auto one = json::parse(get(path(id), admin)->body);
  const auto& counts = one["counts"];
  EXPECT_EQ(counts["total"], 4);
  EXPECT_EQ(counts["queued"], 3);
  EXPECT_EQ(counts["waiting"], 2);
  EXPECT_EQ(counts["queued"].get<int>() + counts["sent"].get<int>() + counts["failed"].get<int>() +
                counts["skipped"].get<int>() + counts["unknown"].get<int>(),
            counts["total"].get<int>());
  EXPECT_EQ(one["waiting_until"], "2026-01-15T13:00:00Z") << one.dump();

  auto list = [&](const std::string& query) {
    auto r = get(path(id, "/recipients" + query), admin);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body)["items"] : json::array();
  };
  auto all = list("");
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0]["state"], "waiting");
  EXPECT_EQ(all[0]["waiting_until"], "2026-01-15T13:00:00Z");
  EXPECT_EQ(all[1]["state"], "waiting");
  EXPECT_EQ(all[1]["waiting_until"], "2026-01-15T16:00:00Z");
  EXPECT_EQ(all[2]["state"], "queued");
  EXPECT_FALSE(all[2].contains("waiting_until"));
  EXPECT_FALSE(all[3].contains("waiting_until"));
  auto waiting = list("?status=waiting");
  ASSERT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting[0]["address"], "+12125550100");
  EXPECT_EQ(waiting[1]["address"], "+13105550100");
  auto queued = list("?status=queued");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0]["address"], "+13125550100");

  auto csv = get(path(id, "/recipients.csv"), admin);
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_EQ(csv->body.rfind("outbox_id,address,state,attempts,provider,provider_message_id,code,"
                            "error,delivery_state,finished_at,waiting_until\r\n",
                            0),
            0u)
      << csv->body;
  EXPECT_NE(csv->body.find("\r\n1,+12125550100,waiting,0,,,,,,,2026-01-15T13:00:00Z\r\n"),
            std::string::npos)
      << csv->body;
  EXPECT_NE(csv->body.find("\r\n3,+13125550100,queued,0,,,,,,,\r\n"), std::string::npos)
      << csv->body;
  auto csv_waiting = get(path(id, "/recipients.csv?status=waiting"), admin);
  ASSERT_TRUE(csv_waiting && csv_waiting->status == 200);
  EXPECT_EQ(csv_waiting->body.find("+13125550100"), std::string::npos) << csv_waiting->body;
  EXPECT_NE(csv_waiting->body.find("+13105550100"), std::string::npos) << csv_waiting->body;

  // 13:00 UTC: New York's window is open; only Los Angeles waits.
  clock_.set(1'768'482'000);
  one = json::parse(get(path(id), admin)->body);
  EXPECT_EQ(one["counts"]["waiting"], 1);
  EXPECT_EQ(one["counts"]["queued"], 3);
  EXPECT_EQ(one["waiting_until"], "2026-01-15T16:00:00Z");
  EXPECT_EQ(list("?status=queued").size(), 2u);
  // Nothing held: no waiting_until at all, and waiting is 0.
  clock_.set(1'768'492'800);
  one = json::parse(get(path(id), admin)->body);
  EXPECT_EQ(one["counts"]["waiting"], 0);
  EXPECT_FALSE(one.contains("waiting_until")) << one.dump();
  // The error names the new state among the others.
  auto bad = get(path(id, "/recipients?status=held"), admin);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 422);
  EXPECT_NE(error_of(bad)["message"].get<std::string>().find("waiting"), std::string::npos);
}

// ---- issue 14 ----

// A subscriber's channel made through the service (confirmed), under the
// unit of work's lock, as HttpTest::signed_up_email does.
std::int64_t confirmed_channel(MemoryConsentStore& store, std::mutex& mu, ChannelKind kind,
                               const std::string& address) {
  std::lock_guard lk(mu);
  Subscriber sub;
  sub.first_name = "Ann";
  sub.created_at = 1;
  const auto sid = store.insert_subscriber(sub);
  Channel c;
  c.subscriber_id = sid;
  c.kind = kind;
  c.address = address;
  c.state = ConsentState::kConfirmed;
  return store.insert_channel(c);
}

// Every /unsubscribe/… and /confirm/… path in a text.
std::vector<std::string> link_paths(const std::string& text) {
  static const std::regex kLink("/(unsubscribe|confirm)/[^\\s\"<>\\\\]+");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kLink);
       it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

TEST_F(BroadcastRoutesTest, APreviewOrTestCopyCarriesASampleLinkThatUnsubscribesNobody) {
  start();
  const auto email_ch =
      confirmed_channel(store_, writes_.mutex(), ChannelKind::kEmail, "ann@example.org");
  const auto sms_ch = confirmed_channel(store_, writes_.mutex(), ChannelKind::kSms, "+16502530000");
  const auto mail = create(email_);
  const auto text = create({{"channel", "sms"}, {"text", "Hi {{first_name}} {{unsubscribe_url}}"}});
  const std::string real_email = unsubscribe_path(email_ch), real_sms = unsubscribe_path(sms_ch);

  auto pe = call(path(mail, "/preview"), {{"email", "ann@example.org"}}, kReadKey);
  auto ps = call(path(text, "/preview"), {{"phone", "+16502530000"}}, kReadKey);
  auto ts = call(path(text, "/test"), {{"phone", "+16502530000"}}, kSendKey);
  auto te = call(path(mail, "/test"), {{"email", "ann@example.org"}}, kSendKey);
  ASSERT_TRUE(pe && ps && ts && te);
  ASSERT_EQ(pe->status, 200) << pe->body;
  ASSERT_EQ(ps->status, 200) << ps->body;
  ASSERT_EQ(ts->status, 202) << ts->body;
  ASSERT_EQ(te->status, 202) << te->body;
  // Rendered for Ann (her name), but with a link that is visibly a sample.
  EXPECT_NE(ps->body.find("Hi Ann " + std::string(kPublicUrl) + "/unsubscribe/SAMPLE-"),
            std::string::npos)
      << ps->body;
  std::vector<std::string> found;
  for (const auto* r : {&pe, &ps, &ts, &te}) {
    EXPECT_EQ((*r)->body.find(real_email), std::string::npos) << (*r)->body;
    EXPECT_EQ((*r)->body.find(real_sms), std::string::npos) << (*r)->body;
    for (auto& l : link_paths((*r)->body)) found.push_back(l);
  }
  {
    std::lock_guard lk(writes_.mutex());
    ASSERT_EQ(store_.emails.size(), 1u);
    ASSERT_EQ(store_.texts.size(), 1u);
    // What the test copies carry: List-Unsubscribe and the text's link.
    EXPECT_NE(store_.emails[0].email.list_unsubscribe_url.find("/unsubscribe/SAMPLE-"),
              std::string::npos)
        << store_.emails[0].email.list_unsubscribe_url;
    EXPECT_EQ(store_.texts[0].sms.body.find(real_sms), std::string::npos);
    for (auto& l : link_paths(store_.emails[0].email.list_unsubscribe_url)) found.push_back(l);
    for (auto& l : link_paths(store_.texts[0].sms.body)) found.push_back(l);
  }
  ASSERT_GE(found.size(), 5u);
  for (const auto& l : found) {
    EXPECT_NE(l.find("/unsubscribe/SAMPLE-"), std::string::npos) << l;
    auto r = post(l, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << l << " " << r->body;
  }
  std::lock_guard lk(writes_.mutex());
  EXPECT_EQ(store_.channel_by_id(email_ch)->state, ConsentState::kConfirmed);
  EXPECT_EQ(store_.channel_by_id(sms_ch)->state, ConsentState::kConfirmed);
}

TEST_F(BroadcastRoutesTest, PreviewsAndRecipientExportsAreAuditedLikeLookups) {
  start();
  const auto id = create(email_);
  broadcasts_.add_recipient(id, "a@example.org", "sent");
  admin_store_.fail = false;
  const auto before = admin_store_.entries().size();
  const httplib::Headers reader{{"Authorization", std::string("Bearer ") + kReadKey}};
  ASSERT_EQ(call(path(id, "/preview"), {{"email", "ann@example.org"}}, kReadKey)->status, 200);
  ASSERT_EQ(get(path(id, "/recipients?status=sent"), reader)->status, 200);
  ASSERT_EQ(get(path(id, "/recipients.csv"), reader)->status, 200);
  auto entries = admin_store_.entries();
  ASSERT_EQ(entries.size(), before + 3);
  EXPECT_EQ(entries[before].action, "broadcast.preview");
  EXPECT_EQ(entries[before].key_name, "viewer");
  EXPECT_EQ(entries[before].target, "broadcast " + std::to_string(id) + " to ann@example.org");
  EXPECT_EQ(entries[before + 1].action, "broadcast.recipients");
  EXPECT_EQ(entries[before + 1].target, "broadcast " + std::to_string(id));
  EXPECT_NE(entries[before + 1].detail.find("status=sent"), std::string::npos);
  EXPECT_EQ(entries[before + 2].action, "broadcast.recipients_csv");
  // Not recorded, not shown: 503, and no addresses.
  admin_store_.fail = true;
  for (const char* tail : {"/recipients", "/recipients.csv"}) {
    auto r = get(path(id, tail), reader);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << tail;
    EXPECT_EQ(r->body.find("a@example.org"), std::string::npos) << tail;
  }
  auto pv = call(path(id, "/preview"), {{"email", "ann@example.org"}}, kReadKey);
  ASSERT_TRUE(pv);
  EXPECT_EQ(pv->status, 503);
}

TEST_F(BroadcastRoutesTest, AnIdempotencyKeyIsPerAdminKeyAndBoundToItsBody) {
  start();
  const std::string base = "/api/v1/admin/broadcasts";
  auto first = call(base, email_, kSendKey, {{"Idempotency-Key", "k-1"}});
  ASSERT_TRUE(first && first->status == 201) << (first ? first->body : "");
  const auto id = json::parse(first->body)["id"];
  // The same request again, keys in another order: the same broadcast.
  const std::string reordered =
      R"({"text":"Hello {{first_name}}","subject":"Hi","channel":"email"})";
  auto again =
      post(base, reordered, "application/json",
           {{"Authorization", std::string("Bearer ") + kSendKey}, {"Idempotency-Key", "k-1"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body)["id"], id);
  // Another body under the same key: refused, nothing made.
  json other = email_;
  other["subject"] = "Something else";
  auto reused = call(base, other, kSendKey, {{"Idempotency-Key", "k-1"}});
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->status, 422) << reused->body;
  EXPECT_EQ(error_of(reused)["code"], "idempotency_key_reused");
  EXPECT_EQ(error_of(reused)["field"], "Idempotency-Key");
  EXPECT_EQ(broadcasts_.size(), 1u);
  // Another admin key with the same Idempotency-Key: its own request.
  auto theirs = call(base, email_, kAdminKey, {{"Idempotency-Key", "k-1"}});
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 201) << theirs->body;
  EXPECT_NE(json::parse(theirs->body)["id"], id);
  EXPECT_EQ(broadcasts_.size(), 2u);
}

TEST_F(BroadcastRoutesTest, TestCopiesAreLimitedPerKeyCountedAgainstTheDailyTextCapAndAudited) {
  start();
  const auto mail = create(email_);
  const auto text = create({{"channel", "sms"}, {"text", "Hi"}});
  for (int i = 0; i < 5; ++i) {
    auto r =
        call(path(mail, "/test"), {{"email", "t" + std::to_string(i) + "@example.org"}}, kSendKey);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << i << " " << r->body;
  }
  auto sixth = call(path(mail, "/test"), {{"email", "t6@example.org"}}, kSendKey);
  ASSERT_TRUE(sixth);
  EXPECT_EQ(sixth->status, 429) << sixth->body;
  EXPECT_EQ(error_of(sixth)["code"], "rate_limited");
  EXPECT_EQ(sixth->get_header_value("Retry-After"), "12");
  // Another key has its own allowance.
  auto other = call(path(text, "/test"), {{"phone", "+16502530001"}}, kAdminKey);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 202) << other->body;
  {
    std::lock_guard lk(writes_.mutex());
    EXPECT_EQ(store_.emails.size(), 5u);
    EXPECT_EQ(store_.texts.size(), 1u);
    // The test text counts toward the daily cap on texts ahead of consent.
    EXPECT_EQ(store_.count_sms_confirms(SmsLimit::kDaily, "", 0), 1);
    // The cap is reached: no more test texts.
    for (int i = 1; i < 1000; ++i)
      store_.record_sms_confirm({"198.51.100.9", "+16502539999", "+1650253"}, clock_.now_unix(), 0);
  }
  auto capped = call(path(text, "/test"), {{"phone", "+16502530001"}}, kAdminKey);
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->status, 429) << capped->body;
  EXPECT_EQ(error_of(capped)["code"], "sms_daily_cap");
  {
    std::lock_guard lk(writes_.mutex());
    EXPECT_EQ(store_.texts.size(), 1u);
  }
  // Each copy sent is audited, in the transaction that queued it.
  int audited = 0;
  for (const auto& e : admin_store_.entries())
    if (e.action == "broadcast.test") ++audited;
  EXPECT_EQ(audited, 6);
  // Six transactions wrote an audit row: the refused one wrote nothing.
  EXPECT_EQ(writes_.audited_runs.load(), 6);
}

TEST_F(BroadcastRoutesTest, TheCsvGuardNeutralisesALeadingTabOrCarriageReturn) {
  start();
  const auto id = create(email_);
  broadcasts_.force_status(id, BroadcastStatus::kCompleted);
  broadcasts_.add_recipient(id, "a@example.org", "failed", 0, 0, "\t=HYPERLINK(\"x\")");
  broadcasts_.add_recipient(id, "b@example.org", "failed", 0, 0, "\r=1+1");
  broadcasts_.add_recipient(id, "c@example.org", "failed", 0, 0, "-2+3");
  broadcasts_.add_recipient(id, "d@example.org", "failed", 0, 0, "fine");
  auto csv =
      get(path(id, "/recipients.csv"), {{"Authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_NE(csv->body.find(",\"'\t=HYPERLINK(\"\"x\"\")\","), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find(",\"'\r=1+1\","), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find(",'-2+3,"), std::string::npos) << csv->body;
  EXPECT_NE(csv->body.find(",fine,"), std::string::npos) << csv->body;
}

TEST_F(BroadcastRoutesTest, AnActionWhoseAuditRowFailsIsRolledBack) {
  start();
  const auto id = create(email_);
  const auto sent = create(email_);
  broadcasts_.force_status(sent, BroadcastStatus::kSending);
  const auto entries = admin_store_.entries().size();
  const auto count = broadcasts_.size();
  admin_store_.fail = true;
  auto made = call("/api/v1/admin/broadcasts", email_, kAdminKey);
  ASSERT_TRUE(made);
  EXPECT_EQ(made->status, 503) << made->body;
  EXPECT_EQ(broadcasts_.size(), count);
  json edited = email_;
  edited["subject"] = "Changed";
  auto edit = call(path(id), edited, kAdminKey);
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->status, 503);
  EXPECT_EQ(broadcasts_.get(id)->subject, "Hi");
  for (const auto& [target, what, status] :
       {std::tuple{id, "/send", BroadcastStatus::kDraft},
        std::tuple{sent, "/pause", BroadcastStatus::kSending},
        std::tuple{sent, "/cancel", BroadcastStatus::kSending}}) {
    auto r = call(path(target, what), json(), kAdminKey);
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, 503) << what << " " << r->body;
    EXPECT_EQ(broadcasts_.get(target)->status, status) << what;
  }
  EXPECT_EQ(broadcasts_.rolled_back(), 5);
  auto t = call(path(id, "/test"), {{"email", "t@example.org"}}, kAdminKey);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 503);
  admin_store_.fail = false;
  EXPECT_EQ(admin_store_.entries().size(), entries);
}

TEST_F(BroadcastRoutesTest, ASendAtInThePastIsRefusedUnlessItSaysNow) {
  start();
  const auto now = clock_.now_unix();
  json past = email_;
  past["send_at"] = format_rfc3339(now - 60);
  auto r = call("/api/v1/admin/broadcasts", past, kAdminKey);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_EQ(error_of(r)["code"], "send_at_in_past");
  EXPECT_EQ(error_of(r)["field"], "send_at");
  EXPECT_EQ(broadcasts_.size(), 0u);
  json asap = email_;
  asap["send_at"] = "now";
  const auto id = create(asap);
  ASSERT_GT(id, 0);
  EXPECT_EQ(broadcasts_.get(id)->send_at, 0);
  auto edit = call(path(id), past, kAdminKey);
  ASSERT_TRUE(edit);
  EXPECT_EQ(edit->status, 422) << edit->body;
  EXPECT_EQ(error_of(edit)["code"], "send_at_in_past");
  EXPECT_EQ(broadcasts_.get(id)->send_at, 0);
  // A time that passes while the broadcast waits as a draft.
  json later = email_;
  later["send_at"] = format_rfc3339(now + 3600);
  const auto scheduled = create(later);
  clock_.advance(7200);
  auto send = call(path(scheduled, "/send"), json(), kAdminKey);
  ASSERT_TRUE(send);
  EXPECT_EQ(send->status, 422) << send->body;
  EXPECT_EQ(error_of(send)["code"], "send_at_in_past");
  EXPECT_EQ(broadcasts_.get(scheduled)->status, BroadcastStatus::kDraft);
  // "now" sends at once.
  auto go = call(path(id, "/send"), json(), kAdminKey);
  ASSERT_TRUE(go);
  EXPECT_EQ(go->status, 200) << go->body;
  EXPECT_EQ(broadcasts_.get(id)->status, BroadcastStatus::kSending);
}

TEST_F(BroadcastRoutesTest, SendingToAnEmptyAudienceIs409AndChangesNothing) {
  start();
  const auto id = create(email_);
  broadcasts_.set_audience(false);
  const auto entries = admin_store_.entries().size();
  auto r = call(path(id, "/send"), json(), kAdminKey);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(error_of(r)["code"], "empty_audience");
  EXPECT_NE(error_of(r)["message"].get<std::string>().find("no confirmed email address"),
            std::string::npos)
      << r->body;
  EXPECT_EQ(broadcasts_.get(id)->status, BroadcastStatus::kDraft);
  EXPECT_EQ(admin_store_.entries().size(), entries);
  broadcasts_.set_audience(true);
  auto ok = call(path(id, "/send"), json(), kAdminKey);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
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
