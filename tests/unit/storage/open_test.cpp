// storage::open: the one entry point app uses. It migrates once, reports the
// writer's settings as SQLite has them, and its ports share one database.
#include "sc/storage/open.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/temp_dir.h"

namespace sc {
namespace {

TEST(StorageOpen, MigratesANewDatabaseAndReportsWhatItApplied) {
  testing::TempDir dir;
  const auto expected = storage::migrate(dir.str("reference.db"));
  ASSERT_FALSE(expected.empty());
  auto db = storage::open(dir.str("sc.db"), {});
  ASSERT_EQ(db->applied().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(db->applied()[i].version, expected[i].version);
    EXPECT_EQ(db->applied()[i].name, expected[i].name);
  }
  db->stop();
  db.reset();
  // Opened again: already up to date, nothing applied.
  auto again = storage::open(dir.str("sc.db"), {});
  EXPECT_TRUE(again->applied().empty());
  EXPECT_TRUE(storage::migrate(dir.str("sc.db")).empty());
}

TEST(StorageOpen, SettingsAreTheOnesInForce) {
  testing::TempDir dir;
  storage::OpenOptions options;
  options.synchronous_full = true;
  auto full = storage::open(dir.str("full.db"), options);
  EXPECT_EQ(full->settings().journal_mode, "wal");
  EXPECT_EQ(full->settings().synchronous, "FULL");
  EXPECT_TRUE(full->settings().foreign_keys);
  options.synchronous_full = false;
  auto normal = storage::open(dir.str("normal.db"), options);
  EXPECT_EQ(normal->settings().synchronous, "NORMAL");
}

TEST(StorageOpen, WritesThroughTheWriterAreSeenThroughTheReadPorts) {
  testing::TempDir dir;
  metrics::Registry registry;
  storage::OpenOptions options;
  options.metrics = &registry;
  auto db = storage::open(dir.str("sc.db"), options);
  EXPECT_TRUE(db->reads().healthy());
  AuditEntry e;
  e.at = 1700000000;
  e.key_name = "ops";
  e.action = "subscriber.lookup";
  e.target = "a@example.org";
  db->admin().append_audit(e);
  const auto page = db->admin().audit_page(0, 10);
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].target, "a@example.org");
  // The group commit was measured in the registry the options named.
  EXPECT_NE(registry.render().find("sc_writer_batch_jobs_count 1"), std::string::npos)
      << registry.render();
  EXPECT_TRUE(db->broadcast_reads().list(10, 0).empty());
  EXPECT_TRUE(db->broadcasts_in_progress(0, 10).empty());
  db->stop();
  db->stop();  // idempotent
}

TEST(StorageOpen, RegistersTheConsentTextsOnce) {
  testing::TempDir dir;
  storage::OpenOptions options;
  options.consent_texts = {{ChannelKind::kEmail, ConsentText{"email-abc", "I agree.", "abc"}},
                           {ChannelKind::kSms, ConsentText{"sms-def", "Reply YES.", "def"}}};
  storage::open(dir.str("sc.db"), options, 1700000000)->stop();
  storage::open(dir.str("sc.db"), options, 1700000999)->stop();  // idempotent
  SQLite::Database db(dir.str("sc.db"), SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM consent_texts").getInt(), 2);
  EXPECT_EQ(db.execAndGet("SELECT text || '|' || version || '|' || created_at FROM consent_texts"
                          " WHERE sha256 = 'abc'")
                .getString(),
            "I agree.|email-abc|1700000000");
}

TEST(StorageOpen, ADatabaseThatCannotBeOpenedIsAStorageError) {
  testing::TempDir dir;
  std::ofstream(dir.str("not-a-dir")) << "x";
  EXPECT_THROW(storage::open(dir.str("not-a-dir/sc.db"), {}), storage::StorageError);
  std::ofstream(dir.str("junk.db")) << std::string(4096, 'j');
  EXPECT_THROW(storage::open(dir.str("junk.db"), {}), storage::StorageError);
}

TEST(StorageOpen, BroadcastReadsOpenReadOnlyWithoutMigrating) {
  testing::TempDir dir;
  storage::migrate(dir.str("sc.db"));
  auto reads = storage::open_broadcast_reads(dir.str("sc.db"));
  EXPECT_FALSE(reads->get(1).has_value());
  EXPECT_TRUE(reads->list(10, 0).empty());
}

}  // namespace
}  // namespace sc
