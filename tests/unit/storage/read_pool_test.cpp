#include <gtest/gtest.h>

#include <thread>

#include "storage_fixture.h"
#include "support/temp_dir.h"

namespace sc::storage {
namespace {

using ReadPoolTest = StorageTest;

// What a subscriber view gathers: tests/contract (SubscriberByChannelGathers...).
TEST_F(ReadPoolTest, CountsAndHealth) {
  ReadPool reads(path_, 1);
  EXPECT_TRUE(reads.healthy());
  EXPECT_EQ(db_inspect::outbox_counts(path_).queued, 0);
  auto ch = add_channel("a@example.com");
  enqueue_email(ch, "a@example.com");
  enqueue_email(ch, "a@example.com");
  const auto c = db_inspect::outbox_counts(path_);
  EXPECT_EQ(c.queued, 2);
  EXPECT_EQ(c.sending + c.sent + c.failed + c.skipped, 0);
}

TEST(ReadPoolHealth, AnUnmigratedDatabaseIsNotHealthy) {
  testing::TempDir dir;
  { WriteQueue w(dir.str("empty.db")); }  // creates the file, no schema
  ReadPool reads(dir.str("empty.db"), 1);
  EXPECT_FALSE(reads.healthy());
}

TEST_F(ReadPoolTest, ConcurrentReadersSeeCommittedWrites) {
  ReadPool reads(path_, 2);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!reads.healthy()) ++bad;
        try {
          reads.subscriber_by_channel(ChannelKind::kEmail,
                                      "r0@example.com");  // either answer, but no error
        } catch (...) {
          ++bad;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) add_channel("r" + std::to_string(i) + "@example.com");
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(
        reads.subscriber_by_channel(ChannelKind::kEmail, "r" + std::to_string(i) + "@example.com")
            .has_value())
        << i;
  }
}

}  // namespace
}  // namespace sc::storage
