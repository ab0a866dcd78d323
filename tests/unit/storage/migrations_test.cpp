#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sc/assets/embedded.h"
#include "sc/storage/storage.h"
#include "storage_fixture.h"
#include "support/temp_dir.h"

namespace sc::storage {
namespace {

TEST(Migrate, AppliesOnceAndRecordsVersions) {
  testing::TempDir dir;
  const auto path = dir.str("nested/dir/sc.db");
  auto first = migrate(path);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0].version, 1);
  EXPECT_EQ(first[0].name, "init");
  for (std::size_t i = 1; i < first.size(); ++i) EXPECT_LT(first[i - 1].version, first[i].version);
  EXPECT_TRUE(std::filesystem::exists(path));

  auto second = migrate(path);
  EXPECT_TRUE(second.empty());

  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
  std::size_t n = 0;
  while (q.executeStep()) {
    ASSERT_LT(n, first.size());
    EXPECT_EQ(q.getColumn(0).getInt(), first[n].version);
    EXPECT_EQ(q.getColumn(1).getString(), first[n].name);
    EXPECT_GT(q.getColumn(2).getInt64(), 0);
    ++n;
  }
  EXPECT_EQ(n, first.size());
  for (const char* table :
       {"subscribers", "channels", "subscriber_topics", "consent_texts", "consent_log", "outbox"}) {
    SQLite::Statement t(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    t.bind(1, table);
    ASSERT_TRUE(t.executeStep());
    EXPECT_EQ(t.getColumn(0).getInt(), 1) << table;
  }
}

// 0005 widens CHECK constraints by editing the schema text: the new values
// are accepted, anything else is still refused, and the database passes
// SQLite's own integrity check afterwards.
// Each dialect has every migration, under the same number and name: a
// version applied on one backend means the same schema change on the other.
TEST(Migrate, BothDialectsListTheSameVersions) {
  std::vector<std::string> sqlite, postgres;
  for (const auto& [name, sql] : embedded::files()) {
    if (name.starts_with("schema/migrations/sqlite/"))
      sqlite.push_back(name.substr(std::string("schema/migrations/sqlite/").size()));
    if (name.starts_with("schema/migrations/postgres/"))
      postgres.push_back(name.substr(std::string("schema/migrations/postgres/").size()));
  }
  ASSERT_GE(sqlite.size(), 12u);
  EXPECT_EQ(sqlite, postgres);
}

TEST(Migrate, FeedbackStatesWidenTheChecksAndNothingElse) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  migrate(path);
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec("INSERT INTO subscribers (id, created_at) VALUES (1, 1)");
  db.exec(
      "INSERT INTO channels (id, subscriber_id, kind, address, state, created_at, updated_at)"
      " VALUES (1, 1, 'sms', '+12025550100', 'undeliverable', 1, 1)");
  EXPECT_ANY_THROW(db.exec(
      "INSERT INTO channels (id, subscriber_id, kind, address, state, created_at, updated_at)"
      " VALUES (2, 1, 'sms', '+12025550101', 'bogus', 1, 1)"));
  for (const char* action : {"undeliverable", "help", "received"}) {
    for (const char* source : {"complaint", "provider", "keyword"}) {
      SQLite::Statement q(db,
                          "INSERT INTO consent_log (at, subscriber_id, channel_id, channel, "
                          "address, action, source) VALUES (1, 1, 1, 'sms', 'x', ?, ?)");
      q.bind(1, action);
      q.bind(2, source);
      EXPECT_NO_THROW(q.exec()) << action << " " << source;
    }
  }
  EXPECT_ANY_THROW(
      db.exec("INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action,"
              " source) VALUES (1, 1, 1, 'sms', 'x', 'bogus', 'form')"));
  EXPECT_ANY_THROW(
      db.exec("INSERT INTO consent_log (at, subscriber_id, channel_id, channel, address, action,"
              " source) VALUES (1, 1, 1, 'sms', 'x', 'grant', 'bogus')"));
  db.exec(
      "INSERT INTO outbox (kind, channel_id, purpose, payload, state, next_attempt_at, created_at)"
      " VALUES ('sms', 1, 'x', '{}', 'unknown', 1, 1)");
  EXPECT_ANY_THROW(db.exec(
      "INSERT INTO outbox (kind, channel_id, purpose, payload, state, next_attempt_at, created_at)"
      " VALUES ('sms', 1, 'x', '{}', 'bogus', 1, 1)"));
  EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  // The append-only triggers survived.
  EXPECT_ANY_THROW(db.exec("DELETE FROM consent_log"));
}

// 0012 records why a queued message waits (quiet hours), with a partial
// index of held broadcast rows; rows that were queued before it wait for nothing.
TEST(Migrate, BroadcastWaitingAddsTheReasonAndItsIndex) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  auto applied = migrate(path);
  bool found = false;
  for (const auto& m : applied)
    if (m.version == 12) {
      EXPECT_EQ(m.name, "broadcast_waiting");
      found = true;
    }
  EXPECT_TRUE(found);
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec(
      "INSERT INTO outbox (kind, channel_id, broadcast_id, purpose, payload, state,"
      " next_attempt_at, created_at, lane) VALUES ('sms', 1, 1, 'broadcast', '{}', 'queued', 1,"
      " 1, 1)");
  EXPECT_TRUE(db.execAndGet("SELECT wait_reason FROM outbox").isNull());
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name ="
                          " 'outbox_broadcast_waiting'")
                .getInt(),
            1);
}

TEST(Migrate, LeavesTheDatabaseInWalMode) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  migrate(path);
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");
}

TEST(Migrate, AnUnusablePathIsAStorageError) {
  testing::TempDir dir;
  std::ofstream(dir.str("not-a-dir")) << "x";
  EXPECT_THROW(migrate(dir.str("not-a-dir/sc.db")), StorageError);
  // A file that is not a database.
  std::ofstream(dir.str("junk.db")) << std::string(4096, 'j');
  EXPECT_THROW(migrate(dir.str("junk.db")), StorageError);
}

using WriterPragmas = StorageTest;

// synchronous and foreign_keys are per connection: what counts is the writer's
// own connection, as SQLite reports it (the service logs the same at start).
TEST_F(WriterPragmas, WalSynchronousFullAndForeignKeysOnTheWriter) {
  const auto& s = writer_->settings();
  EXPECT_EQ(s.journal_mode, "wal");
  EXPECT_EQ(s.synchronous, "FULL");
  EXPECT_TRUE(s.foreign_keys);
  // WAL is a property of the file: another connection sees it too.
  EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
  // And the writer enforces foreign keys: a channel of no subscriber is refused.
  EXPECT_ANY_THROW(writer_->run([](WriteContext& c) {
    Channel ch;
    ch.subscriber_id = 999;
    ch.address = "orphan@example.com";
    c.tx().subscribers.insert_channel(ch);
  }));
  EXPECT_EQ(query("SELECT COUNT(*) FROM channels"), "0");
}

TEST_F(WriterPragmas, SynchronousNormalWhenAskedFor) {
  writer_.reset();
  writer_ = std::make_unique<WriteQueue>(path_, WriteQueue::Options{16, false});
  EXPECT_EQ(writer_->settings().synchronous, "NORMAL");
  EXPECT_EQ(writer_->settings().journal_mode, "wal");
  EXPECT_TRUE(writer_->settings().foreign_keys);
}

using ConsentLog = StorageTest;

// The log's append-only rule: tests/contract (TheConsentLogIsAppendOnly).
TEST_F(ConsentLog, ConsentTextMustBeRegisteredAndRegistrationIsIdempotent) {
  auto ch = add_channel("a@example.com");
  ConsentText text{"email-v1", "You agree ...", std::string(64, 'a')};
  ConsentEvent e;
  e.channel_id = ch;
  e.address = "a@example.com";
  e.consent_text_version = text.version;
  e.consent_text_sha256 = text.sha256_hex;
  EXPECT_ANY_THROW(
      writer_->run([&](WriteContext& c) { c.tx().consent_log.append_consent(e, &text); }));
  register_consent_text(path_, ChannelKind::kEmail, text, 10);
  register_consent_text(path_, ChannelKind::kEmail, text, 20);
  EXPECT_EQ(query("SELECT COUNT(*) FROM consent_texts"), "1");
  EXPECT_EQ(query("SELECT created_at FROM consent_texts"), "10");
  writer_->run([&](WriteContext& c) { c.tx().consent_log.append_consent(e, &text); });
  EXPECT_EQ(query("SELECT consent_text_version || '/' || consent_text_sha256 FROM consent_log"),
            "email-v1/" + std::string(64, 'a'));
  // Without a text, both columns stay NULL.
  writer_->run([&](WriteContext& c) { c.tx().consent_log.append_consent(e, nullptr); });
  EXPECT_EQ(query("SELECT COUNT(*) FROM consent_log WHERE consent_text_sha256 IS NULL"), "1");
}

// 0011 (issue 14): an Idempotency-Key stored before it is found under the
// admin key that used it, without a body digest (answered as before).
TEST(Migrate, IdempotencyKeysMadeBefore0011AreKeptUnderTheirAdminKey) {
  testing::TempDir dir;
  const auto path = dir.str("sc.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(
        "CREATE TABLE schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    int version = 0;
    for (const auto& [name, sql] : embedded::files()) {
      if (!name.starts_with("schema/migrations/sqlite/") || name > "schema/migrations/sqlite/0011")
        continue;
      // As migrate() applies them: one transaction each, and a schema
      // edited in place (writable_schema) reloaded.
      SQLite::Transaction tx(db);
      db.exec(std::string(sql));
      if (sql.find("writable_schema") != std::string_view::npos)
        db.exec("PRAGMA schema_version = " +
                std::to_string(db.execAndGet("PRAGMA schema_version").getInt() + 1));
      db.exec("INSERT INTO schema_migrations VALUES (" + std::to_string(++version) + ", 'm', 0)");
      tx.commit();
    }
    ASSERT_EQ(version, 10);
    db.exec(
        "INSERT INTO broadcasts (channel, text, idempotency_key, created_by, created_at,"
        " updated_at) VALUES ('email', 't', 'k-1', 'newsroom', 1, 1)");
  }
  auto applied = migrate(path);
  ASSERT_FALSE(applied.empty());
  EXPECT_EQ(applied[0].version, 11);
  WriteQueue writer(path);
  writer.run([](WriteContext& c) {
    auto b = c.broadcast_tx().drafts.find_by_idempotency_key("newsroom", "k-1");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->idempotency_key, "k-1");
    EXPECT_EQ(b->idempotency_body_digest, "");
    EXPECT_FALSE(c.broadcast_tx().drafts.find_by_idempotency_key("other", "k-1"));
  });
  writer.stop();
}

}  // namespace
}  // namespace sc::storage
