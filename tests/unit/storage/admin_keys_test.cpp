// Admin keys (only their hash stored) and the append-only audit log.
#include "sc/storage/admin_keys.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "storage_fixture.h"

namespace sc::storage {
namespace {

// Two 46-character keys shaped like the CLI's (sc_ + base64url of 32 bytes).
const std::string kKey = "sc_Q0FGRUJBQkVERUFEQkVFRmZlZWRmYWNlY2FmZWJhYmU";
const std::string kOtherKey = "sc_b3RoZXJrZXlvdGhlcmtleW90aGVya2V5b3RoZXJrZXk";

class AdminKeysTest : public StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    reads_ = std::make_unique<ReadPool>(path_, 1);
    store_ = std::make_unique<SqliteAdminStore>(*writer_, *reads_);
  }
  void TearDown() override {
    store_.reset();
    reads_.reset();
    StorageTest::TearDown();
  }
  // Every byte of the database's files (main, WAL, shared memory).
  std::string all_db_bytes() const {
    std::string all;
    for (const auto& f : std::filesystem::directory_iterator(dir_.str("db"))) {
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  std::unique_ptr<ReadPool> reads_;
  std::unique_ptr<SqliteAdminStore> store_;
};

TEST(AdminKeyHash, IsHexSha256) {
  // FIPS 180-2's "abc" vector.
  EXPECT_EQ(admin_key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(AdminKeysTest, OnlyTheHashAndAShortPrefixAreStored) {
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kSend, kKey, "cli", 1000), KeyChange::kDone);
  EXPECT_EQ(query("SELECT key_sha256 FROM admin_keys WHERE name = 'ops'"), admin_key_hash(kKey));
  EXPECT_EQ(query("SELECT prefix FROM admin_keys"), kKey.substr(0, kAdminKeyPrefixChars));
  writer_->stop();  // checkpoint-free: the WAL stays and is searched too
  const auto bytes = all_db_bytes();
  ASSERT_NE(bytes.find(admin_key_hash(kKey)), std::string::npos);  // the search does work
  EXPECT_EQ(bytes.find(kKey), std::string::npos);
  EXPECT_EQ(bytes.find(kKey.substr(kAdminKeyPrefixChars)), std::string::npos);
}

TEST_F(AdminKeysTest, ListShowsEveryKeyButNeverTheKey) {
  ASSERT_EQ(create_admin_key(path_, "reader", Scope::kRead, kKey, "cli", 1000), KeyChange::kDone);
  ASSERT_EQ(create_admin_key(path_, "boss", Scope::kAdmin, kOtherKey, "cli", 1001),
            KeyChange::kDone);
  ASSERT_EQ(revoke_admin_key(path_, "reader", "cli", 1500), KeyChange::kDone);
  auto keys = list_admin_keys(path_);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].name, "reader");
  EXPECT_EQ(keys[0].scope, Scope::kRead);
  EXPECT_EQ(keys[0].prefix, kKey.substr(0, kAdminKeyPrefixChars));
  EXPECT_EQ(keys[0].created_at, 1000);
  EXPECT_EQ(keys[0].revoked_at, 1500);
  EXPECT_EQ(keys[1].name, "boss");
  EXPECT_EQ(keys[1].scope, Scope::kAdmin);
  EXPECT_EQ(keys[1].revoked_at, 0);
}

TEST_F(AdminKeysTest, DuplicateNameIsRefusedAndChangesNothing) {
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kRead, kKey, "cli", 1000), KeyChange::kDone);
  ASSERT_EQ(revoke_admin_key(path_, "ops", "cli", 1100), KeyChange::kDone);
  // Revoked names stay taken: the audit log's names keep one meaning.
  EXPECT_EQ(create_admin_key(path_, "ops", Scope::kAdmin, kOtherKey, "cli", 1200),
            KeyChange::kNameTaken);
  EXPECT_EQ(query("SELECT COUNT(*) FROM admin_keys"), "1");
  EXPECT_EQ(query("SELECT scope FROM admin_keys"), "read");
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit_log"), "2");  // create and revoke, not the refusal
}

TEST_F(AdminKeysTest, IdentifyAcceptsOnlyValidStoredKeys) {
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kSend, kKey, "cli", 1000), KeyChange::kDone);
  auto who = store_->identify(kKey);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->key_name, "ops");
  EXPECT_EQ(who->scope, Scope::kSend);
  EXPECT_FALSE(store_->identify(kOtherKey));
  EXPECT_FALSE(store_->identify(""));
  EXPECT_FALSE(store_->identify(admin_key_hash(kKey)));  // the hash is not a key
  EXPECT_FALSE(store_->identify(kKey.substr(0, kAdminKeyPrefixChars)));
  // Revoked (by another connection, as the CLI does): refused on the next lookup.
  ASSERT_EQ(revoke_admin_key(path_, "ops", "cli", 1100), KeyChange::kDone);
  EXPECT_FALSE(store_->identify(kKey));
}

TEST_F(AdminKeysTest, RevokeUnknownOrTwice) {
  EXPECT_EQ(revoke_admin_key(path_, "nobody", "cli", 1000), KeyChange::kUnknownName);
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kRead, kKey, "cli", 1000), KeyChange::kDone);
  ASSERT_EQ(revoke_admin_key(path_, "ops", "cli", 1100), KeyChange::kDone);
  EXPECT_EQ(revoke_admin_key(path_, "ops", "cli", 1200), KeyChange::kAlreadyRevoked);
  EXPECT_EQ(query("SELECT revoked_at FROM admin_keys"), "1100");  // the first revocation stands
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit_log WHERE action = 'key.revoke'"), "1");
}

TEST_F(AdminKeysTest, KeyCommandsAreAudited) {
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kAdmin, kKey, "cli", 1000), KeyChange::kDone);
  ASSERT_EQ(revoke_admin_key(path_, "ops", "cli", 1100), KeyChange::kDone);
  auto page = store_->audit_page(0, 10);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].action, "key.revoke");
  EXPECT_EQ(page.entries[0].key_name, "cli");
  EXPECT_EQ(page.entries[0].target, "ops");
  EXPECT_EQ(page.entries[0].at, 1100);
  EXPECT_EQ(page.entries[1].action, "key.create");
  EXPECT_EQ(page.entries[1].detail, "scope admin");
}

TEST_F(AdminKeysTest, KeysAreRevokedNeverDeletedOrChanged) {
  ASSERT_EQ(create_admin_key(path_, "ops", Scope::kRead, kKey, "cli", 1000), KeyChange::kDone);
  EXPECT_ANY_THROW(db_inspect::exec(path_, "DELETE FROM admin_keys"));
  EXPECT_ANY_THROW(db_inspect::exec(path_, "UPDATE admin_keys SET scope = 'admin'"));
  EXPECT_ANY_THROW(db_inspect::exec(path_, "UPDATE admin_keys SET name = 'other'"));
  EXPECT_ANY_THROW(
      db_inspect::exec(path_, "UPDATE admin_keys SET key_sha256 = '" + admin_key_hash("x") + "'"));
  db_inspect::exec(path_, "UPDATE admin_keys SET revoked_at = 5");
  EXPECT_ANY_THROW(db_inspect::exec(path_, "UPDATE admin_keys SET revoked_at = NULL"));
  EXPECT_ANY_THROW(db_inspect::exec(path_, "UPDATE admin_keys SET revoked_at = 6"));
  EXPECT_EQ(query("SELECT name || ' ' || scope || ' ' || revoked_at FROM admin_keys"),
            "ops read 5");
  EXPECT_ANY_THROW(
      db_inspect::exec(path_,
                       "INSERT INTO admin_keys (name, scope, key_sha256, prefix, created_at)"
                       " VALUES ('x', 'root', '" +
                           admin_key_hash("y") + "', 'p', 1)"));
}

TEST_F(AdminKeysTest, AuditAppendsThroughTheWriterAndPagesNewestFirst) {
  const auto jobs_before = writer_->request_jobs();
  for (int i = 1; i <= 5; ++i) {
    store_->append_audit(AuditEntry{0, 100 + i, "ops", "subscriber.lookup",
                                    "a" + std::to_string(i) + "@example.org", "203.0.113.7",
                                    i == 3 ? "not found" : ""});
  }
  EXPECT_EQ(writer_->request_jobs() - jobs_before, 5u);  // request writes, not background
  auto first = store_->audit_page(0, 2);
  ASSERT_EQ(first.entries.size(), 2u);
  EXPECT_EQ(first.entries[0].target, "a5@example.org");
  EXPECT_EQ(first.entries[0].ip, "203.0.113.7");
  EXPECT_EQ(first.entries[0].key_name, "ops");
  EXPECT_EQ(first.entries[0].at, 105);
  EXPECT_EQ(first.entries[1].target, "a4@example.org");
  ASSERT_NE(first.next, 0);
  auto second = store_->audit_page(first.next, 2);
  ASSERT_EQ(second.entries.size(), 2u);
  EXPECT_EQ(second.entries[0].target, "a3@example.org");
  EXPECT_EQ(second.entries[0].detail, "not found");
  auto last = store_->audit_page(second.next, 2);
  ASSERT_EQ(last.entries.size(), 1u);
  EXPECT_EQ(last.entries[0].target, "a1@example.org");
  EXPECT_EQ(last.next, 0);
  // A page exactly full at the end has no next either.
  EXPECT_EQ(store_->audit_page(0, 5).next, 0);
  EXPECT_EQ(store_->audit_page(0, 5).entries.size(), 5u);
}

TEST_F(AdminKeysTest, AuditLogIsAppendOnly) {
  store_->append_audit(AuditEntry{0, 100, "ops", "subscriber.lookup", "a@example.org", "::1", ""});
  try {
    db_inspect::exec(path_, "UPDATE audit_log SET key_name = 'someone else'");
    FAIL() << "UPDATE of audit_log was allowed";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
  }
  EXPECT_ANY_THROW(db_inspect::exec(path_, "DELETE FROM audit_log"));
  EXPECT_EQ(query("SELECT key_name FROM audit_log"), "ops");
  // The writer still appends after the refused statements.
  store_->append_audit(AuditEntry{0, 101, "ops", "subscriber.lookup", "b@example.org", "::1", ""});
  EXPECT_EQ(query("SELECT COUNT(*) FROM audit_log"), "2");
}

}  // namespace
}  // namespace sc::storage
