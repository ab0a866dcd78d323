// Erasure through the real binary (both backends): DELETE
// /api/v1/admin/subscribers/{id} removes the person's address, number, name,
// postal code and IP from every table (a scan of the whole SQLite file and
// its WAL, or of every PostgreSQL table as text, finds none of them), and
// from the .eml files and the SMS log; the proof stays under a pseudonym;
// the suppression list knows them; a new sign-up is fresh consent.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "integration/service_fixture.h"
#include "sc/core/text.h"

namespace sc::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEmail = "Zelda.Quist@example.org";
constexpr const char* kDigits = "6502530188";  // +1 650 253 0188
constexpr const char* kIp = "203.0.113.77";

class ErasureTest : public ServiceTest {
 protected:
  httplib::Headers admin() { return {{"Authorization", std::string("Bearer ") + kAdminKey}}; }

  static std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // Everything the database holds, lower-cased: SQLite's file with its WAL
  // (and shared memory), or every PostgreSQL table as text.
  std::string database_bytes() {
    std::string all;
    if (on_postgres()) {
      const auto tables = db_inspect::query_value(
          db(), "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'");
      std::istringstream names(tables);
      for (std::string t; names >> t;) {
        all += db_inspect::query_value(
            db(), "SELECT coalesce(string_agg(x::text, E'\\n'), '') FROM " + t + " x");
      }
    } else {
      for (const char* suffix : {"", "-wal", "-shm"}) all += file_bytes(db() + suffix);
    }
    return text::to_lower_ascii(all);
  }

  std::string local_copies() {
    std::string all;
    std::error_code ec;
    for (fs::directory_iterator it(dir_.str("outbox"), ec), end; !ec && it != end; it.increment(ec))
      all += file_bytes(it->path());
    all += file_bytes(dir_.str("sms.log"));
    return text::to_lower_ascii(all);
  }

  void expect_nowhere(const std::string& haystack, const std::string& where) {
    for (std::string needle : {std::string("zelda.quist@example.org"), std::string("zelda"),
                               std::string(kDigits), std::string(kIp), std::string("k1a 0b1")}) {
      EXPECT_EQ(haystack.find(needle), std::string::npos) << needle << " is still in " << where;
    }
  }
};

TEST_F(ErasureTest, AnErasedPersonIsNowhereTheProofStaysAndTheyMaySignUpAgain) {
  start({{"SC_TRUSTED_PROXIES", "127.0.0.1/32"}});
  const httplib::Headers from_ip{{"X-Forwarded-For", kIp}};
  auto r = cli_->Post("/api/v1/subscriptions", from_ip,
                      nlohmann::json({{"email", kEmail},
                                      {"phone", std::string("+1 ") + kDigits},
                                      {"sms_consent", true},
                                      {"first_name", "Zelda"},
                                      {"postal_code", "K1A 0B1"},
                                      {"topics", {"news"}}})
                          .dump(),
                      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(wait_emails(1));
  ASSERT_TRUE(wait_for([&] { return local_copies().find(kDigits) != std::string::npos; }))
      << "the confirmation text is in the SMS log";
  // Confirmed by the link, from the same address.
  std::optional<std::string> confirm;
  for (const auto& eml : emails()) confirm = find_link(decode_quoted_printable(eml), "/confirm/");
  ASSERT_TRUE(confirm);
  auto c = cli_->Post(confirm->c_str(), {{"Accept", "text/html"}, {"X-Forwarded-For", kIp}}, "",
                      "application/x-www-form-urlencoded");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200);
  // Everything queued to them handed to the providers (a message being
  // handed over at the very moment of an erasure is written after it).
  ASSERT_TRUE(wait_for([&] {
    return db_inspect::query_value(
               db(), "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == "0";
  }));
  // An operator looks them up (the audit log names the address).
  auto look = cli_->Get("/api/v1/admin/subscribers?email=zelda.quist%40example.org", admin());
  ASSERT_TRUE(look);
  ASSERT_EQ(look->status, 200) << look->body;
  const auto id = nlohmann::json::parse(look->body)["id"].get<std::int64_t>();
  ASSERT_NE(database_bytes().find("zelda"), std::string::npos) << "the scan sees what is there";

  const auto path = "/api/v1/admin/subscribers/" + std::to_string(id);
  auto del = cli_->Delete(path.c_str(), admin());
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 204) << del->body;
  expect_nowhere(database_bytes(), "the database");
  expect_nowhere(local_copies(), "the .eml files and the SMS log");

  del = cli_->Delete(path.c_str(), admin());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 404);
  // Looked up again: not found, and audited under the pseudonym.
  look = cli_->Get("/api/v1/admin/subscribers?email=zelda.quist%40example.org", admin());
  ASSERT_TRUE(look);
  EXPECT_EQ(look->status, 404);
  EXPECT_EQ(db_inspect::query_value(db(),
                                    "SELECT count(*) FROM audit_log WHERE action = "
                                    "'subscriber.lookup' AND target LIKE 'erased:%'"),
            "2")
      << "the lookup before the erasure, and this one";
  EXPECT_EQ(db_inspect::query_value(
                db(),
                "SELECT count(*) FROM audit_log WHERE action = 'subscriber.erase' AND "
                "target = 'subscriber " +
                    std::to_string(id) + "'"),
            "1");

  // The proof, found by the address an operator is given again.
  auto s = cli_->Get("/api/v1/admin/suppressions?email=ZELDA.QUIST%40example.org", admin());
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  auto j = nlohmann::json::parse(s->body);
  EXPECT_EQ(j["suppressed"], true);
  EXPECT_EQ(j["reason"], "admin");
  ASSERT_EQ(j["consent"].size(), 2u) << j.dump();  // the grant and the confirmation
  EXPECT_EQ(j["consent"][0]["action"], "grant");
  EXPECT_EQ(j["consent"][0]["source"], "form");
  EXPECT_EQ(j["consent"][0]["ip"], "");
  EXPECT_FALSE(j["consent"][0]["consent_text_version"].get<std::string>().empty());
  EXPECT_EQ(j["consent"][1]["action"], "confirm");
  s = cli_->Get((std::string("/api/v1/admin/suppressions?phone=%2B1") + kDigits).c_str(), admin());
  ASSERT_TRUE(s);
  j = nlohmann::json::parse(s->body);
  EXPECT_EQ(j["suppressed"], true);
  EXPECT_EQ(j["consent"].size(), 1u) << j.dump();  // the grant; it was never confirmed
  s = cli_->Get("/api/v1/admin/suppressions?email=nobody%40example.org", admin());
  ASSERT_TRUE(s);
  EXPECT_EQ(nlohmann::json::parse(s->body)["suppressed"], false);
  expect_nowhere(database_bytes(), "the database after the look-ups");

  // A new sign-up through the public form is fresh consent: allowed.
  r = post_json("/api/v1/subscriptions", {{"email", kEmail}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  ASSERT_TRUE(wait_emails(1));
  EXPECT_EQ(email_state(kEmail), "pending");
}

TEST_F(ErasureTest, ErasureNeedsAnAdminKeyAndAKnownId) {
  start();
  auto r = post_json("/api/v1/subscriptions", {{"email", "yan@example.org"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202);
  const auto id = admin_lookup("yan@example.org")["id"].get<std::int64_t>();
  const auto path = "/api/v1/admin/subscribers/" + std::to_string(id);
  auto made =
      run_binary(SC_BINARY, {"keys", "create", "--name", "viewer", "--scope", "read"}, base_env());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto read_key = made.out.substr(0, made.out.find('\n'));
  auto del = cli_->Delete(path.c_str(), {{"Authorization", "Bearer " + read_key}});
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 403);
  del = cli_->Delete(path.c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 401);
  for (const char* bad : {"/api/v1/admin/subscribers/0", "/api/v1/admin/subscribers/x",
                          "/api/v1/admin/subscribers/99999"}) {
    del = cli_->Delete(bad, admin());
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 404) << bad;
  }
  EXPECT_EQ(email_state("yan@example.org"), "pending");
  auto s = cli_->Get("/api/v1/admin/suppressions", admin());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 422);
}

}  // namespace
}  // namespace sc::testing
