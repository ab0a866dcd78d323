// Scoped admin keys on the admin routes and /metrics, and the audit log.
#include <gtest/gtest.h>

#include "http_fixture.h"

namespace sc::unit {
namespace {

using nlohmann::json;

constexpr const char* kReadKey = "sc_read-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr const char* kSendKey = "sc_send-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr const char* kStoredAdminKey = "sc_admin-key-cccccccccccccccccccccccccccccc";
constexpr const char* kRevokedKey = "sc_revoked-key-dddddddddddddddddddddddddddd";

httplib::Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

class AdminAuthTest : public HttpTest {
 protected:
  void SetUp() override {
    admin_store_.add_key(kReadKey, "dashboard", Scope::kRead);
    admin_store_.add_key(kSendKey, "newsroom", Scope::kSend);
    admin_store_.add_key(kStoredAdminKey, "ops", Scope::kAdmin);
    admin_store_.add_key(kRevokedKey, "old-ops", Scope::kAdmin);
    admin_store_.revoke("old-ops");
  }
  std::string error_message(const httplib::Result& r) {
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_discarded() || !j.contains("error")) return "";
    return j["error"].value("message", "");
  }
};

TEST_F(AdminAuthTest, EachKeyGetsWhatItsScopeAllows) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "ann@example.org"}})->status, 202);
  const std::string lookup = "/api/v1/admin/subscribers?email=ann@example.org";
  struct Case {
    const char* who;
    std::string key;
    int lookup, metrics, audit;
  };
  const std::vector<Case> cases = {
      {"read key", kReadKey, 200, 200, 403},
      {"send key", kSendKey, 200, 200, 403},
      {"stored admin key", kStoredAdminKey, 200, 200, 200},
      {"bootstrap key", kAdminKey, 200, 200, 200},
      {"revoked key", kRevokedKey, 401, 401, 401},
      {"unknown key", "sc_unknown-key-eeeeeeeeeeeeeeeeeeeeeeeeeeee", 401, 401, 401},
      {"a stored key's prefix", std::string(kReadKey).substr(0, 11), 401, 401, 401},
  };
  for (const auto& c : cases) {
    for (const auto& [path, want] : std::vector<std::pair<std::string, int>>{
             {lookup, c.lookup}, {"/metrics", c.metrics}, {"/api/v1/admin/audit", c.audit}}) {
      auto r = get(path, bearer(c.key));
      ASSERT_TRUE(r) << c.who << " " << path;
      EXPECT_EQ(r->status, want) << c.who << " " << path << ": " << r->body;
      if (want == 401) {
        EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer") << c.who << " " << path;
        EXPECT_EQ(error_code(r), "unauthorized") << c.who << " " << path;
      } else if (want == 403) {
        EXPECT_EQ(error_code(r), "forbidden") << c.who << " " << path;
        EXPECT_NE(error_message(r).find("admin scope"), std::string::npos) << error_message(r);
        EXPECT_FALSE(r->has_header("WWW-Authenticate")) << c.who << " " << path;
      }
    }
  }
}

TEST_F(AdminAuthTest, LookupsAreAuditedWithTheKeysNameAndTheClientsAddress) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "ann@example.org"}})->status, 202);
  ASSERT_EQ(get("/api/v1/admin/subscribers?email=ann@example.org", bearer(kReadKey))->status, 200);
  ASSERT_EQ(get("/api/v1/admin/subscribers?email=nobody@example.org", bearer(kSendKey))->status,
            404);
  ASSERT_EQ(get("/api/v1/admin/subscribers?phone=(650)%20253-0000", bearer(kAdminKey))->status,
            404);
  clock_.set(1'800'000'123);
  ASSERT_EQ(get("/api/v1/admin/subscribers?email=ann@example.org", bearer(kStoredAdminKey))->status,
            200);
  const auto log = admin_store_.entries();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].key_name, "dashboard");
  EXPECT_EQ(log[0].action, "subscriber.lookup");
  EXPECT_EQ(log[0].target, "ann@example.org");
  EXPECT_EQ(log[0].ip, "127.0.0.1");
  EXPECT_EQ(log[0].detail, "");
  EXPECT_EQ(log[1].key_name, "newsroom");
  EXPECT_EQ(log[1].target, "nobody@example.org");
  EXPECT_EQ(log[1].detail, "not found");
  EXPECT_EQ(log[2].key_name, "SC_ADMIN_API_KEY");
  EXPECT_EQ(log[2].target, "+16502530000");
  EXPECT_EQ(log[3].key_name, "ops");
  EXPECT_EQ(log[3].at, 1'800'000'123);
}

TEST_F(AdminAuthTest, RefusedRequestsScrapesAndAuditReadsAreNotAudited) {
  start();
  EXPECT_EQ(get("/api/v1/admin/subscribers?email=a@example.org", bearer(kRevokedKey))->status, 401);
  EXPECT_EQ(get("/api/v1/admin/subscribers?email=a@example.org")->status, 401);
  EXPECT_EQ(get("/api/v1/admin/audit", bearer(kReadKey))->status, 403);
  EXPECT_EQ(get("/metrics", bearer(kReadKey))->status, 200);
  EXPECT_EQ(get("/api/v1/admin/audit", bearer(kStoredAdminKey))->status, 200);
  // A lookup that is not well formed looked nobody up.
  EXPECT_EQ(get("/api/v1/admin/subscribers?email=nope", bearer(kReadKey))->status, 422);
  EXPECT_TRUE(admin_store_.entries().empty());
  EXPECT_TRUE(reads_.lookups.empty());
}

TEST_F(AdminAuthTest, TheClientBehindATrustedProxyIsAudited) {
  auto o = test_options();
  o.trusted_proxies = "127.0.0.0/8";
  start(o);
  auto h = bearer(kReadKey);
  h.emplace("X-Forwarded-For", "203.0.113.9");
  ASSERT_EQ(get("/api/v1/admin/subscribers?email=a@example.org", h)->status, 404);
  const auto log = admin_store_.entries();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].ip, "203.0.113.9");
}

TEST_F(AdminAuthTest, ALookupThatCannotBeAuditedIsNotAnswered) {
  start();
  ASSERT_EQ(post_json("/api/v1/subscriptions", {{"email", "ann@example.org"}})->status, 202);
  admin_store_.fail = true;
  auto r = get("/api/v1/admin/subscribers?email=ann@example.org", bearer(kReadKey));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body.find("ann@example.org"), std::string::npos) << r->body;
}

TEST_F(AdminAuthTest, AuditLogPagesNewestFirstWithACursor) {
  start();
  for (int i = 1; i <= 3; ++i) {
    clock_.set(1000 + i);
    get("/api/v1/admin/subscribers?email=p" + std::to_string(i) + "@example.org", bearer(kReadKey));
  }
  auto r = get("/api/v1/admin/audit?limit=2", bearer(kStoredAdminKey));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");
  auto j = json::parse(r->body);
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0], json({{"id", 3},
                                 {"at", "1970-01-01T00:16:43Z"},
                                 {"key_name", "dashboard"},
                                 {"action", "subscriber.lookup"},
                                 {"target", "p3@example.org"},
                                 {"ip", "127.0.0.1"},
                                 {"detail", "not found"}}));
  EXPECT_EQ(j["items"][1]["target"], "p2@example.org");
  ASSERT_EQ(j["next"], "/api/v1/admin/audit?limit=2&before=2");
  r = get(j["next"].get<std::string>(), bearer(kAdminKey));
  ASSERT_TRUE(r);
  j = json::parse(r->body);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["target"], "p1@example.org");
  EXPECT_FALSE(j.contains("next"));  // the last page
  // Without parameters: from the newest, 50 at a time.
  ASSERT_EQ(get("/api/v1/admin/audit", bearer(kAdminKey))->status, 200);
  EXPECT_EQ(admin_store_.pages_asked(),
            (std::vector<std::pair<std::int64_t, int>>{{0, 2}, {2, 2}, {0, 50}}));
}

TEST_F(AdminAuthTest, BadAuditQueriesAre422AndReadNothing) {
  start();
  struct Bad {
    std::string query;
    const char* code;
    const char* field;
  };
  const std::vector<Bad> bad = {
      {"limit=0", "invalid_limit", "limit"},
      {"limit=501", "invalid_limit", "limit"},
      {"limit=abc", "invalid_limit", "limit"},
      {"limit=", "invalid_limit", "limit"},
      {"limit=5x", "invalid_limit", "limit"},
      {"limit=-1", "invalid_limit", "limit"},
      {"limit=9999", "invalid_limit", "limit"},
      {"limit=x", "invalid_limit", "limit"},
      {"before=0", "invalid_before", "before"},
      {"before=-5", "invalid_before", "before"},
      {"before=1e3", "invalid_before", "before"},
      {"before=99999999999999999999", "invalid_before", "before"},
      {"before=-1", "invalid_before", "before"},
      {"before=abc", "invalid_before", "before"},
  };
  for (const auto& b : bad) {
    auto r = get("/api/v1/admin/audit?" + b.query, bearer(kAdminKey));
    ASSERT_TRUE(r) << b.query;
    EXPECT_EQ(r->status, 422) << b.query << ": " << r->body;
    EXPECT_EQ(error_code(r), b.code) << b.query;
    EXPECT_EQ(json::parse(r->body)["error"].value("field", ""), b.field) << b.query;
  }
  // Without a key at all: 401 (moved from tests/integration/admin_keys_test.cpp).
  auto none = get("/api/v1/admin/audit", {});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401) << none->body;
  EXPECT_TRUE(admin_store_.pages_asked().empty());
}

// "cli" is what the audit log writes for `keys create` and `keys revoke` on
// the host: a stored key under that name (made before it was reserved) acts
// as nobody, so no API request is ever logged under the CLI's name.
TEST_F(AdminAuthTest, AStoredKeyUnderTheClisNameIsRefused) {
  constexpr const char* kCliNamedKey = "sc_cli-named-key-ffffffffffffffffffffffffff";
  admin_store_.add_key(kCliNamedKey, "cli", Scope::kAdmin);
  start();
  for (const std::string path :
       {"/api/v1/admin/subscribers?email=a@example.org", "/api/v1/admin/audit", "/metrics"}) {
    auto r = get(path, bearer(kCliNamedKey));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 403) << path << " " << r->body;
    EXPECT_EQ(error_code(r), "reserved_key_name") << path;
  }
  EXPECT_TRUE(admin_store_.entries().empty());
  EXPECT_TRUE(reserved_key_name("cli"));
  EXPECT_TRUE(reserved_key_name("SC_ADMIN_API_KEY"));
  EXPECT_FALSE(reserved_key_name("cli2"));
}

TEST_F(AdminAuthTest, WithoutAKeyStoreOnlyTheBootstrapKeyIsAccepted) {
  with_admin_store_ = false;
  start();
  EXPECT_EQ(get("/api/v1/admin/subscribers?email=a@example.org", bearer(kStoredAdminKey))->status,
            401);
  EXPECT_EQ(get("/api/v1/admin/subscribers?email=a@example.org", bearer(kAdminKey))->status, 404);
  auto r = get("/api/v1/admin/audit", bearer(kAdminKey));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(error_code(r), "unsupported");
}

}  // namespace
}  // namespace sc::unit
