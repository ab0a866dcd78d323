#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "storage_fixture.h"
#include "support/wait_for.h"

namespace sc::storage {
namespace {

using WriteQueueTest = StorageTest;

std::int64_t insert_subscriber(WriteContext& c, const std::string& name) {
  Subscriber s;
  s.first_name = name;
  s.created_at = 1;
  return c.tx().subscribers.insert_subscriber(s);
}

TEST_F(WriteQueueTest, ManyThreadsAllCommitAndShareCommits) {
  constexpr int kThreads = 8, kJobs = 500;
  std::vector<std::vector<std::int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kJobs; ++j) {
        try {
          ids[t].push_back(writer_->run([&](WriteContext& c) {
            return insert_subscriber(c, "t" + std::to_string(t) + "-" + std::to_string(j));
          }));
        } catch (...) {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  std::set<std::int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), std::size_t{kThreads * kJobs});
  EXPECT_EQ(query("SELECT COUNT(*) FROM subscribers"), std::to_string(kThreads * kJobs));
  EXPECT_EQ(query("SELECT COUNT(DISTINCT first_name) FROM subscribers"),
            std::to_string(kThreads * kJobs));
  auto st = writer_->stats();
  EXPECT_EQ(st.jobs,
            std::uint64_t{kThreads * kJobs});  // the queries above read on their own connection
  EXPECT_LT(st.commits, st.jobs) << "no two jobs ever shared a commit";
  EXPECT_EQ(st.pending, 0u);
  // Each acknowledged write is durable: a fresh connection sees all of them.
  SQLite::Database db(path_, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("SELECT COUNT(*) FROM subscribers").getInt(), kThreads * kJobs);
}

TEST_F(WriteQueueTest, AThrowingJobIsRolledBackAloneAndItsCallerSeesTheException) {
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> blocker_running;
  std::int64_t blocker_channel = 0;
  // Hold the writer inside one job so the next three land in one batch.
  auto blocker = std::async(std::launch::async, [&] {
    writer_->run([&](WriteContext& c) {
      Channel ch;
      ch.subscriber_id = insert_subscriber(c, "blocker");
      ch.address = "blocker@example.com";
      blocker_channel = c.tx().subscribers.insert_channel(ch);
      blocker_running.set_value();
      gate.wait();
    });
  });
  blocker_running.get_future().wait();
  const auto commits_before = writer_->stats().commits;

  auto good1 = std::async(std::launch::async, [&] {
    return writer_->run([](WriteContext& c) { return insert_subscriber(c, "good1"); });
  });
  auto bad = std::async(std::launch::async, [&] {
    writer_->run([&](WriteContext& c) {
      insert_subscriber(c, "bad");
      // A change to a row committed before the batch must be undone too.
      c.tx().subscribers.update_channel_state(blocker_channel, ConsentState::kConfirmed, 300);
      throw std::runtime_error("job failed on purpose");
    });
  });
  auto good2 = std::async(std::launch::async, [&] {
    return writer_->run([](WriteContext& c) { return insert_subscriber(c, "good2"); });
  });
  ASSERT_TRUE(testing::wait_for([&] { return writer_->stats().pending == 3; }))
      << "pending=" << writer_->stats().pending;
  release.set_value();
  blocker.get();

  try {
    bad.get();
    FAIL() << "the failing job's caller saw no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "job failed on purpose");
  }
  EXPECT_GT(good1.get(), 0);
  EXPECT_GT(good2.get(), 0);
  // blocker's batch + one batch for the three jobs.
  EXPECT_EQ(writer_->stats().commits, commits_before + 2);
  EXPECT_EQ(query("SELECT group_concat(first_name, ',') FROM (SELECT first_name FROM subscribers "
                  "ORDER BY first_name)"),
            "blocker,good1,good2");
  EXPECT_EQ(writer_->run([&](WriteContext& c) {
    return c.tx().subscribers.channel_by_id(blocker_channel)->state;
  }),
            ConsentState::kPending);
}

TEST_F(WriteQueueTest, NonStandardExceptionsReachTheCallerToo) {
  EXPECT_THROW(writer_->run([](WriteContext&) { throw 42; }), int);
  EXPECT_EQ(writer_->run([](WriteContext& c) { return insert_subscriber(c, "after"); }), 1);
}

TEST_F(WriteQueueTest, ASqlErrorInAJobIsRethrownAndLeavesTheWriterUsable) {
  add_channel("taken@example.com");
  // A constraint violation: the address is taken (UNIQUE (kind, address)).
  EXPECT_ANY_THROW(writer_->run([](WriteContext& c) {
    Channel ch;
    ch.subscriber_id = c.tx().subscribers.insert_subscriber(Subscriber{});
    ch.address = "taken@example.com";
    c.tx().subscribers.insert_channel(ch);
  }));
  // A job that fails part-way through a cached statement.
  EXPECT_ANY_THROW(writer_->run([&](WriteContext& c) {
    Channel ch;
    ch.subscriber_id = 999;  // no such subscriber: the foreign key refuses it
    ch.address = "x@example.com";
    c.tx().subscribers.insert_channel(ch);
  }));
  EXPECT_EQ(add_channel("x@example.com"), 2);
  EXPECT_EQ(query("SELECT group_concat(address) FROM (SELECT address FROM channels ORDER BY id)"),
            "taken@example.com,x@example.com");
  EXPECT_EQ(query("SELECT COUNT(*) FROM subscribers"),
            "2");  // the refused job's subscriber was rolled back
}

TEST_F(WriteQueueTest, OutboxCommitCallbackRunsAfterCommitsThatQueuedMessages) {
  std::atomic<int> calls{0};
  writer_->set_on_outbox_commit([&] { ++calls; });
  auto ch = add_channel("a@example.com");
  enqueue_email(ch, "a@example.com");
  // The callback runs on the writer thread just after the commit.
  ASSERT_TRUE(testing::wait_for([&] { return calls.load() == 1; }));
  add_channel("b@example.com");
  enqueue_email(ch, "a@example.com");
  // Callbacks run in commit order, so once this one has run, a (wrong)
  // callback for add_channel would have run before it.
  ASSERT_TRUE(testing::wait_for([&] { return calls.load() >= 2; }));
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(WriteQueueTest, StopDrainsAndThenRefusesNewJobs) {
  add_channel("a@example.com");
  writer_->stop();
  writer_->stop();  // idempotent
  EXPECT_THROW(writer_->run([](WriteContext&) {}), StorageError);
}

// A read left open by one job must not wedge the writer once another
// connection (a CLI command, a migration) has written to the file.
TEST_F(WriteQueueTest, KeepsWritingAfterAnotherConnectionWrote) {
  auto ch = add_channel("a@example.com");
  writer_->run([&](WriteContext& c) {
    ASSERT_TRUE(c.tx().subscribers.find_channel(ChannelKind::kEmail, "a@example.com"));
  });
  writer_->run([&](WriteContext& c) { ASSERT_TRUE(c.tx().subscribers.channel_by_id(ch)); });
  writer_->run([&](WriteContext& c) { ASSERT_TRUE(c.tx().subscribers.subscriber_by_id(1)); });
  register_consent_text(path_, ChannelKind::kEmail, ConsentText{"v1", "text", std::string(64, 'f')},
                        1);
  EXPECT_NO_THROW(add_channel("b@example.com"));
  EXPECT_NO_THROW(add_channel("c@example.com"));
  EXPECT_EQ(query("SELECT COUNT(*) FROM channels"), "3");
}

// /healthz shows a database that cannot write: a batch that cannot commit
// (here: another connection holds the write lock past the busy timeout; in
// production a full disk) makes the writer unhealthy, with SQLite's short
// reason and no path, until the next commit succeeds. A job's own error is
// not the database's.
TEST_F(WriteQueueTest, AFailedBatchMakesItUnhealthyUntilTheNextCommit) {
  EXPECT_TRUE(writer_->health().writable);
  EXPECT_ANY_THROW(writer_->run([](WriteContext&) { throw std::runtime_error("job's own"); }));
  EXPECT_TRUE(writer_->health().writable);
  {
    SQLite::Database other(path_, SQLite::OPEN_READWRITE);
    other.exec("BEGIN IMMEDIATE");
    EXPECT_THROW(add_channel("locked@example.com"), StorageError);
    const auto h = writer_->health();
    EXPECT_FALSE(h.writable);
    EXPECT_EQ(h.reason, "database cannot write: database is locked");
    EXPECT_GT(h.since, 1'700'000'000);
    other.exec("ROLLBACK");
  }
  add_channel("after@example.com");
  EXPECT_TRUE(writer_->health().writable);
  EXPECT_EQ(writer_->health().reason, "");
}

TEST_F(WriteQueueTest, GroupCommitSizesAndTimesGoToMetrics) {
  metrics::Registry registry;
  WriteQueue writer(path_, WriteQueue::Options{256, true, &registry});
  constexpr int kThreads = 4, kJobs = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kJobs; ++j)
        writer.run([&](WriteContext& c) { return insert_subscriber(c, "m" + std::to_string(t)); });
    });
  }
  for (auto& th : threads) th.join();
  const auto commits = writer.stats().commits;
  writer.stop();
  const auto text = registry.render();
  // Every job is in exactly one observed batch; one observation per commit.
  EXPECT_NE(text.find("sc_writer_batch_jobs_sum " + std::to_string(kThreads * kJobs) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_writer_batch_jobs_count " + std::to_string(commits) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sc_writer_commit_seconds_count " + std::to_string(commits) + "\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace sc::storage
