// Admin keys in SQLite: only their hash stored, listed by the CLI, never
// deleted or changed but for their revocation. Identifying, revoking and the
// audit log are in the storage contract (tests/contract/admin_contract_test.cpp).
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
  EXPECT_TRUE(store_->identify(kKey));
  EXPECT_FALSE(store_->identify(admin_key_hash(kKey)));  // the hash is not a key
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

}  // namespace
}  // namespace sc::storage
