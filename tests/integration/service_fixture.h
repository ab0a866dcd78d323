// A started service on a temp directory, plus helpers to drive it over HTTP
// and to read its database the way an auditor would.
#pragma once
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sc/storage/storage.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"
#include "support/sent_email.h"
#include "support/service_process.h"

namespace sc::testing {

inline constexpr const char* kAdminKey = "test-admin-key-123";

// A Twilio message sid (SM + 32 hex digits, the only shape the webhooks
// take) named by a short label: its bytes in hex, padded with zeros.
inline std::string sm_sid(std::string_view label) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  for (unsigned char c : label) {
    digits += kHex[c >> 4];
    digits += kHex[c & 15];
  }
  digits.resize(32, '0');
  return "SM" + digits;
}

// The backend the integration tests run on: SQLite (a file in the test's
// temp directory) unless SC_TEST_BACKEND=postgres, then a new database of
// the shared throwaway cluster (support/pg_cluster.h) per test. ctest
// registers the suite once per backend (tests/CMakeLists.txt, "pg." names).
inline bool on_postgres() {
  const char* b = std::getenv("SC_TEST_BACKEND");
  return b != nullptr && std::string_view(b) == "postgres";
}

// For a test about SQLite itself (its file, its modes, its lock): skipped on
// PostgreSQL with the reason.
#define SC_SQLITE_ONLY(why)                                  \
  if (::sc::testing::on_postgres()) {                        \
    GTEST_SKIP() << "about the SQLite file itself: " << why; \
  }

class ServiceTest : public ::testing::Test {
 protected:
  // The test's database: the value of SC_DB, and what db_inspect reads.
  const std::string& db() {
    if (db_.empty())
      db_ = on_postgres() ? PgCluster::shared().create_database("it") : dir_.str("data/sc.db");
    return db_;
  }

  std::map<std::string, std::string> base_env() {
    return {{"SC_DB", db()},
            {"SC_EMAIL_OUTBOX_DIR", dir_.str("outbox")},
            {"SC_SMS_LOG_FILE", dir_.str("sms.log")},
            {"SC_ADMIN_API_KEY", kAdminKey},
            {"SC_ORG_NAME", "Test Org"},
            {"SC_POSTAL_ADDRESS", "1 Main St, Springfield"},
            {"SC_EMAIL_FROM", "Test Org <news@test-org.example>"},
            {"SC_PUBLIC_URL", "https://signup.test-org.example"},
            {"SC_SECRET", "integration-test-secret-0123456789"},
            // One name across restarts, as a deployed instance has: a restart
            // hands back at once what its killed run left leased (on
            // PostgreSQL an unnamed run on port 0 gets a name of its own).
            {"SC_INSTANCE_NAME", "integration-test"},
            {"SC_RETRY_BASE_SECONDS", "1"}};
  }

  void start(std::map<std::string, std::string> extra = {}) {
    auto env = base_env();
    for (auto& [k, v] : extra) env[k] = v;
    svc_ = std::make_unique<ServiceProcess>(SC_BINARY, env);
    ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
    cli_->set_read_timeout(10, 0);
  }

  void restart() {
    ASSERT_EQ(svc_->stop(15), 0) << svc_->stderr_text();
    ASSERT_TRUE(svc_->start()) << svc_->stderr_text();
    cli_ = std::make_unique<httplib::Client>("127.0.0.1", svc_->port());
  }

  httplib::Result post_json(const std::string& path, const nlohmann::json& body) {
    return cli_->Post(path.c_str(), body.dump(), "application/json");
  }

  nlohmann::json admin_lookup(const std::string& email) {
    httplib::Headers h{{"Authorization", std::string("Bearer ") + kAdminKey}};
    auto r = cli_->Get(
        ("/api/v1/admin/subscribers?email=" + httplib::detail::encode_query_param(email)).c_str(),
        h);
    if (!r || r->status != 200) return nullptr;
    return nlohmann::json::parse(r->body);
  }

  std::string email_state(const std::string& email) {
    auto j = admin_lookup(email);
    if (j.is_null()) return "absent";
    return j["channels"]["email"]["state"].get<std::string>();
  }

  std::vector<std::string> emails() { return read_eml_files(dir_.str("outbox")); }

  bool wait_emails(std::size_t n) {
    return wait_for([&] { return emails().size() >= n; });
  }

  std::int64_t count(const std::string& table) { return db_inspect::count(db(), table); }

  TempDir dir_;
  std::string db_;  // db()
  std::unique_ptr<ServiceProcess> svc_;
  std::unique_ptr<httplib::Client> cli_;
};

}  // namespace sc::testing
