// Admin keys and the append-only audit log, as every backend keeps them.
#include <gtest/gtest.h>

#include "contract/backends.h"

namespace sc::contract {
namespace {

template <class B>
class AdminContract : public Contract<B> {};
TYPED_TEST_SUITE(AdminContract, Backends, BackendNames);

// Two 46-character keys shaped like the CLI's (sc_ + base64url of 32 bytes).
const std::string kKey = "sc_Q0FGRUJBQkVERUFEQkVFRmZlZWRmYWNlY2FmZWJhYmU";
const std::string kOtherKey = "sc_b3RoZXJrZXlvdGhlcmtleW90aGVya2V5b3RoZXJrZXk";

TYPED_TEST(AdminContract, IdentifyAcceptsOnlyValidStoredKeys) {
  auto& db = this->db();
  auto& admin = db.backend().admin();
  ASSERT_TRUE(db.backend().create_admin_key("ops", Scope::kSend, kKey, 1000));
  auto who = admin.identify(kKey);
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->key_name, "ops");
  EXPECT_EQ(who->scope, Scope::kSend);
  EXPECT_FALSE(admin.identify(kOtherKey));
  EXPECT_FALSE(admin.identify(""));
  EXPECT_FALSE(admin.identify(kKey.substr(0, 11)));  // a prefix is not the key
  // Revoked: refused on the next lookup.
  ASSERT_TRUE(db.backend().revoke_admin_key("ops", 1100));
  EXPECT_FALSE(admin.identify(kKey));
}

TYPED_TEST(AdminContract, RevokedNamesStayTakenAndRevokingTwiceOrUnknownDoesNothing) {
  auto& db = this->db();
  auto& b = db.backend();
  EXPECT_FALSE(b.revoke_admin_key("nobody", 1000));
  ASSERT_TRUE(b.create_admin_key("ops", Scope::kRead, kKey, 1000));
  EXPECT_FALSE(b.create_admin_key("ops", Scope::kAdmin, kOtherKey, 1050));  // taken
  EXPECT_EQ(b.admin().identify(kKey)->scope, Scope::kRead);
  EXPECT_FALSE(b.admin().identify(kOtherKey));
  ASSERT_TRUE(b.revoke_admin_key("ops", 1100));
  EXPECT_FALSE(b.revoke_admin_key("ops", 1200));
  // Revoked names stay taken: the audit log's names keep one meaning.
  EXPECT_FALSE(b.create_admin_key("ops", Scope::kAdmin, kOtherKey, 1300));
  EXPECT_FALSE(b.admin().identify(kOtherKey));
  // Audited: the create and the first revoke, not the refusals.
  auto page = b.admin().audit_page(0, 10);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].action, "key.revoke");
  EXPECT_EQ(page.entries[0].key_name, "cli");
  EXPECT_EQ(page.entries[0].target, "ops");
  EXPECT_EQ(page.entries[0].at, 1100);
  EXPECT_EQ(page.entries[1].action, "key.create");
  EXPECT_EQ(page.entries[1].detail, "scope read");
  EXPECT_EQ(page.entries[1].at, 1000);
}

TYPED_TEST(AdminContract, AuditAppendsAsRequestWritesAndPagesNewestFirst) {
  auto& db = this->db();
  auto& admin = db.backend().admin();
  const auto jobs_before = db.backend().outbox().request_jobs();
  for (int i = 1; i <= 5; ++i) {
    admin.append_audit(AuditEntry{0, 100 + i, "ops", "subscriber.lookup",
                                  "a" + std::to_string(i) + "@example.org", "203.0.113.7",
                                  i == 3 ? "not found" : ""});
  }
  // Request writes (the dispatcher yields to them), not background ones.
  EXPECT_EQ(db.backend().outbox().request_jobs() - jobs_before, 5u);
  auto first = admin.audit_page(0, 2);
  ASSERT_EQ(first.entries.size(), 2u);
  EXPECT_EQ(first.entries[0].target, "a5@example.org");
  EXPECT_EQ(first.entries[0].ip, "203.0.113.7");
  EXPECT_EQ(first.entries[0].key_name, "ops");
  EXPECT_EQ(first.entries[0].action, "subscriber.lookup");
  EXPECT_EQ(first.entries[0].at, 105);
  EXPECT_GT(first.entries[0].id, first.entries[1].id);
  EXPECT_EQ(first.entries[1].target, "a4@example.org");
  ASSERT_NE(first.next, 0);
  auto second = admin.audit_page(first.next, 2);
  ASSERT_EQ(second.entries.size(), 2u);
  EXPECT_EQ(second.entries[0].target, "a3@example.org");
  EXPECT_EQ(second.entries[0].detail, "not found");
  auto last = admin.audit_page(second.next, 2);
  ASSERT_EQ(last.entries.size(), 1u);
  EXPECT_EQ(last.entries[0].target, "a1@example.org");
  EXPECT_EQ(last.next, 0);
  // A page exactly full at the end has no next either.
  EXPECT_EQ(admin.audit_page(0, 5).next, 0);
  EXPECT_EQ(admin.audit_page(0, 5).entries.size(), 5u);
}

// An admin action and its audit row commit together or not at all.
TYPED_TEST(AdminContract, AnActionAndItsAuditRowCommitTogether) {
  auto& db = this->db();
  EXPECT_ANY_THROW(db.backend().broadcast_transactions().run([](const BroadcastTransaction& t) {
    auto& s = t.drafts;
    auto& a = t.audit;
    Broadcast b;
    b.text = "t";
    s.insert(b);
    a.append(AuditEntry{0, 100, "ops", "broadcast.create", "broadcast 1", "::1", ""});
    throw std::runtime_error("refused late");
  }));
  EXPECT_TRUE(db.backend().broadcast_reads().list(10, 0).empty());
  EXPECT_TRUE(db.backend().admin().audit_page(0, 10).entries.empty());
  db.backend().broadcast_transactions().run([](const BroadcastTransaction& t) {
    auto& s = t.drafts;
    auto& a = t.audit;
    Broadcast b;
    b.text = "t";
    s.insert(b);
    a.append(AuditEntry{0, 100, "ops", "broadcast.create", "broadcast 1", "::1", ""});
  });
  db.write([](const Transaction& tx) {
    tx.audit.append(
        AuditEntry{0, 101, "ops", "subscriber.unsubscribe", "a@example.org", "::1", ""});
  });
  auto page = db.backend().admin().audit_page(0, 10);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[0].action, "subscriber.unsubscribe");
  EXPECT_EQ(page.entries[1].action, "broadcast.create");
  EXPECT_EQ(db.backend().broadcast_reads().list(10, 0).size(), 1u);
}

TYPED_TEST(AdminContract, TheAuditLogIsAppendOnly) {
  auto& db = this->db();
  auto& admin = db.backend().admin();
  admin.append_audit(AuditEntry{0, 100, "ops", "subscriber.lookup", "a@example.org", "::1", ""});
  for (auto tamper : {&Backend::update_audit_log, &Backend::delete_audit_log}) {
    try {
      if (!(db.backend().*tamper)()) continue;  // nothing below the ports to try it with
      ADD_FAILURE() << "an audit-log row was changed or removed";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
    }
  }
  // Still appended after the refused changes.
  admin.append_audit(AuditEntry{0, 101, "ops", "subscriber.lookup", "b@example.org", "::1", ""});
  auto page = admin.audit_page(0, 10);
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[1].key_name, "ops");
  EXPECT_EQ(page.entries[1].target, "a@example.org");
}

}  // namespace
}  // namespace sc::contract
