// Several instances on one real PostgreSQL database, at once: claimers on
// connections of their own never take a row twice, and two broadcast
// runners write a broadcast's snapshot once and complete it once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "contract/backends.h"
#include "sc/dispatch/broadcast_runner.h"
#include "support/db_inspect.h"
#include "support/pg_cluster.h"
#include "support/wait_for.h"

namespace sc::contract {
namespace {

// One instance: its own writer (own connection, own random instance id) and reads.
struct PgInstance {
  PgInstance(const std::string& url, const std::string& name, std::size_t connections = 1)
      : writer(url,
               storage::WriteQueue::Options{.connections = connections, .instance_name = name}),
        reads(url, 1),
        outbox(writer, reads),
        broadcasts(writer, reads) {}
  storage::WriteQueue writer;
  storage::ReadPool reads;
  storage::WriterOutbox outbox;
  storage::StoredBroadcasts broadcasts;
};

#if defined(__SANITIZE_ADDRESS__)
// ASan's instrumented client makes each statement dearer; a quarter of the
// rows keeps this under ~20 s on two busy cores.
constexpr int kDefaultRows = 50'000;
#else
constexpr int kDefaultRows = 200'000;
#endif
// SC_TEST_CLAIM_ROWS overrides it (for a figure at the full 200,000 under ASan).
int rows() {
  const char* v = std::getenv("SC_TEST_CLAIM_ROWS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : kDefaultRows;
}

// 8 claimers, each over its own instance, claim and finish until the queue
// is empty: every row is claimed once and finished once (the SQLite claim
// run unchanged here took 43,900 of 200,000 rows twice).
TEST(PgInstances, EightClaimersTakeEveryRowExactlyOnce) {
  const int kRows = rows();
  const auto url = testing::PgCluster::shared().create_database("claimers");
  storage::migrate(url);
  db_inspect::exec(url,
                   "INSERT INTO outbox (kind, channel_id, purpose, payload, lane, "
                   "next_attempt_at, created_at) SELECT 'email', 0, 'confirm', '{}', 0, 0, 100 "
                   "FROM generate_series(1, " +
                       std::to_string(kRows) + ")");
  const auto first = std::stoll(db_inspect::query_value(url, "SELECT min(id) FROM outbox"));
  constexpr int kClaimers = 8;
  std::vector<std::unique_ptr<PgInstance>> instances;
  for (int i = 0; i < kClaimers; ++i)
    instances.push_back(std::make_unique<PgInstance>(url, "claimer-" + std::to_string(i)));
  // Times each row was claimed, and finished, by any claimer.
  std::vector<std::atomic<int>> claimed(kRows), finished(kRows);
  std::atomic<int> foreign{0};  // a mark that found the row not its own
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      auto& tx = instances[static_cast<std::size_t>(i)]->outbox;
      while (true) {
        std::vector<ClaimedMessage> got;
        tx.run([&](const OutboxTransaction& t) {
          got = claim_due(t.outbox, 1000, ClaimLimits{500, 500, 500}, 1300);
        });
        if (got.empty()) return;  // all taken (rows another claim has locked are its own)
        for (const auto& m : got) ++claimed[static_cast<std::size_t>(m.id - first)];
        tx.run([&](const OutboxTransaction& t) {
          for (const auto& m : got) {
            if (t.outbox.mark_sent(m.id, "smtp", SendResult::sent("250", "x"), 1001))
              ++finished[static_cast<std::size_t>(m.id - first)];
            else
              ++foreign;
          }
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%d rows claimed and finished by %d claimers in %.2f s (%.0f rows/s)\n", kRows,
              kClaimers, seconds, kRows / seconds);
  int twice = 0, never = 0, unfinished = 0;
  for (int i = 0; i < kRows; ++i) {
    twice += claimed[static_cast<std::size_t>(i)] > 1;
    never += claimed[static_cast<std::size_t>(i)] == 0;
    unfinished += finished[static_cast<std::size_t>(i)] != 1;
  }
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(never, 0);
  EXPECT_EQ(unfinished, 0);
  EXPECT_EQ(foreign.load(), 0);
  EXPECT_EQ(db_inspect::query_value(url,
                                    "SELECT count(*) FROM outbox WHERE state = 'sent' AND "
                                    "attempts = 1 AND lease_owner IS NULL"),
            std::to_string(kRows));
}

// What a runner writes, counted: each snapshot chunk's rows and each
// completion, over whichever instance's transactions.
class CountingBroadcasts final : public BroadcastTransactions {
 public:
  explicit CountingBroadcasts(BroadcastTransactions& inner) : inner_(inner) {}
  void run(const std::function<void(const BroadcastTransaction&)>& fn) override { inner_.run(fn); }
  void run_background(const std::function<void(BroadcastDrafts&, BroadcastLedger&)>& fn) override {
    inner_.run_background([&](BroadcastDrafts& d, BroadcastLedger& l) {
      Drafts drafts(d, *this);
      Ledger ledger(l, *this);
      fn(drafts, ledger);
    });
  }
  int parallel_writers() const override { return inner_.parallel_writers(); }
  std::atomic<int> rows_added{0}, rows_ahead{0}, completions{0};

 private:
  struct Drafts final : BroadcastDrafts {
    Drafts(BroadcastDrafts& d, CountingBroadcasts& c) : d_(d), c_(c) {}
    std::int64_t insert(const Broadcast& b) override { return d_.insert(b); }
    std::optional<Broadcast> find(std::int64_t id) override { return d_.find(id); }
    std::optional<Broadcast> find_by_idempotency_key(const std::string& n,
                                                     const std::string& k) override {
      return d_.find_by_idempotency_key(n, k);
    }
    void update_content(const Broadcast& b) override { d_.update_content(b); }
    void set_status(std::int64_t id, BroadcastStatus s, const std::string& reason,
                    std::int64_t now) override {
      d_.set_status(id, s, reason, now);
      if (s == BroadcastStatus::kCompleted) ++c_.completions;
    }
    std::vector<std::string> unknown_topics(const std::vector<std::string>& t) override {
      return d_.unknown_topics(t);
    }
    std::vector<Broadcast> active() override { return d_.active(); }
    std::optional<std::int64_t> take_run_lease(std::int64_t id, std::int64_t now,
                                               std::int64_t until) override {
      return d_.take_run_lease(id, now, until);
    }
    BroadcastDrafts& d_;
    CountingBroadcasts& c_;
  };
  struct Ledger final : BroadcastLedger {
    Ledger(BroadcastLedger& l, CountingBroadcasts& c) : l_(l), c_(c) {}
    bool has_audience(const Broadcast& b) override { return l_.has_audience(b); }
    int snapshot_chunk(const Broadcast& b, int max_rows, std::int64_t now) override {
      const int n = l_.snapshot_chunk(b, max_rows, now);
      c_.rows_added += n;
      return n;
    }
    SnapshotAhead snapshot_ahead(const Broadcast& b, int max_rows, int after_chunks,
                                 std::int64_t now) override {
      const auto a = l_.snapshot_ahead(b, max_rows, after_chunks, now);
      c_.rows_added += a.added;
      c_.rows_ahead += a.added;
      return a;
    }
    int skip_queued(std::int64_t id, int max_rows, std::int64_t now) override {
      return l_.skip_queued(id, max_rows, now);
    }
    bool has_unfinished(std::int64_t id) override { return l_.has_unfinished(id); }
    int requeue(std::int64_t id, const std::string& state, std::int64_t now) override {
      return l_.requeue(id, state, now);
    }
    BroadcastLedger& l_;
    CountingBroadcasts& c_;
  };
  BroadcastTransactions& inner_;
};

class PgRunners : public ::testing::Test {
 protected:
  static constexpr int kRecipients = 45;
  void SetUp() override {
    for (int i = 0; i < kRecipients; ++i) {
      const auto addr = "r" + std::to_string(i) + "@example.com";
      db_.add_channel(addr, ConsentState::kConfirmed);
    }
    bc_ = db_.create_broadcast(ChannelKind::kEmail);
  }
  std::string status() { return to_string(backend_.broadcast_reads().get(bc_)->status); }
  // Sends what is queued, through the backend's own instance.
  void send_all(std::int64_t now) {
    for (auto& m : db_.claim(now, 1000))
      db_.outbox_tx([&](const OutboxTransaction& t) {
        return t.outbox.mark_sent(m.id, "smtp", SendResult::sent("250", "x"), now);
      });
  }
  std::string ledger_rows() {
    return db_inspect::query_value(backend_.location(),
                                   "SELECT count(*) FROM outbox WHERE "
                                   "broadcast_id = " +
                                       std::to_string(bc_));
  }

  PostgresBackend backend_;
  Db db_{backend_};
  std::int64_t bc_ = 0;
  unit::FakeClock clock_{1000};
  PgInstance a_{backend_.location(), "host-a:8080"}, b_{backend_.location(), "host-b:8080"};
  CountingBroadcasts a_tx_{a_.broadcasts}, b_tx_{b_.broadcasts};
  BroadcastRunner::Options options_{.chunk_rows = 10, .poll_ms = 5, .lease_seconds = 30};
  BroadcastRunner a_runner_{a_tx_, clock_, options_, nullptr};
  BroadcastRunner b_runner_{b_tx_, clock_, options_, nullptr};
};

// Both runners step the broadcast as fast as they can, at once: one holds
// its lease and writes every chunk; the ledger has each recipient once and
// the broadcast is completed once.
TEST_F(PgRunners, TwoRunnersAtOnceSnapshotOnceAndCompleteOnce) {
  std::atomic<bool> done{false};
  auto run = [&](BroadcastRunner& r) {
    while (!done) r.step();
  };
  std::thread ta([&] { run(a_runner_); }), tb([&] { run(b_runner_); });
  const bool snapshotted = testing::wait_for([&] { return ledger_rows() == "45"; });
  if (snapshotted) send_all(1000);
  const bool completed = testing::wait_for([&] { return status() == "completed"; });
  // A few more rounds of both: nothing more is written.
  const auto completions = a_tx_.completions + b_tx_.completions;
  a_runner_.step();
  b_runner_.step();
  done = true;
  ta.join();
  tb.join();
  ASSERT_TRUE(snapshotted);
  ASSERT_TRUE(completed);
  EXPECT_EQ(a_tx_.rows_added + b_tx_.rows_added, kRecipients);
  // The lease's holder did it all (the clock never moved: it never ran out).
  EXPECT_TRUE(a_tx_.rows_added == 0 || b_tx_.rows_added == 0)
      << a_tx_.rows_added << " and " << b_tx_.rows_added;
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(a_tx_.completions + b_tx_.completions, 1);
  EXPECT_EQ(ledger_rows(), "45");
}

// The runner holding the lease stops mid-snapshot (its instance died): the
// other takes over once the lease has run out, goes on from the cursor, and
// completes the broadcast; the dead one's lease is gone for good.
TEST_F(PgRunners, ARunnerThatStopsMidSnapshotIsTakenOverOnceItsLeaseRunsOut) {
  EXPECT_TRUE(a_runner_.step());  // takes the lease: chunk 1
  EXPECT_TRUE(a_runner_.step());  // chunk 2
  EXPECT_EQ(a_tx_.rows_added, 20);
  EXPECT_FALSE(b_runner_.step());  // a holds it
  clock_.advance(30);              // a's lease lasts until 1030
  EXPECT_FALSE(b_runner_.step());
  EXPECT_EQ(b_tx_.rows_added, 0);
  clock_.advance(1);              // a died at 1000: its lease has run out
  EXPECT_TRUE(b_runner_.step());  // chunk 3, from a's cursor
  EXPECT_EQ(b_tx_.rows_added, 10);
  EXPECT_FALSE(a_runner_.step());  // a back: the lease is b's now
  for (int i = 0; i < 10 && b_runner_.step(); ++i) {
  }
  EXPECT_EQ(b_tx_.rows_added, 25);
  EXPECT_EQ(ledger_rows(), "45");
  EXPECT_EQ(status(), "sending");  // until every recipient is sent
  send_all(clock_.now_unix());
  EXPECT_FALSE(a_runner_.step());
  EXPECT_TRUE(b_runner_.step());
  EXPECT_EQ(status(), "completed");
  EXPECT_EQ(a_tx_.rows_added + b_tx_.rows_added, kRecipients);
  EXPECT_EQ(b_tx_.completions, 1);
  EXPECT_EQ(a_tx_.completions, 0);
}

// Instances with four writer connections: from its second step on, the
// runner holding the lease writes the two chunks after the next beside each
// locked chunk. Step by step: 10, then 10 + 20 ahead, then the next after
// the range written ahead; the cursor never passes a recipient that is not
// in the ledger.
class PgRunnersAhead : public PgRunners {
 protected:
  PgInstance a4_{backend_.location(), "host-a4:8080", 4},
      b4_{backend_.location(), "host-b4:8080", 4};
  CountingBroadcasts a4_tx_{a4_.broadcasts}, b4_tx_{b4_.broadcasts};
  BroadcastRunner a4_runner_{a4_tx_, clock_, options_, nullptr};
  BroadcastRunner b4_runner_{b4_tx_, clock_, options_, nullptr};
  std::int64_t cursor() { return backend_.broadcast_reads().get(bc_)->snapshot_cursor; }
};

TEST_F(PgRunnersAhead, TheLeaseHolderWritesTheChunksAfterTheNextBesideEachChunk) {
  ASSERT_EQ(a4_tx_.parallel_writers(), 4);
  const auto first = cursor();
  EXPECT_TRUE(a4_runner_.step());
  EXPECT_EQ(a4_tx_.rows_added, 10);
  EXPECT_EQ(a4_tx_.rows_ahead, 0);  // the lease was not its own before
  EXPECT_TRUE(a4_runner_.step());
  EXPECT_EQ(a4_tx_.rows_added, 40);
  EXPECT_EQ(a4_tx_.rows_ahead, 20);
  EXPECT_EQ(ledger_rows(), "40");
  const auto after_two = cursor();
  EXPECT_GT(after_two, first);
  // The cursor stands after chunk 2; chunks 3 and 4 are in the ledger already.
  EXPECT_EQ(db_inspect::query_value(
                backend_.location(),
                "SELECT count(*) FROM outbox WHERE broadcast_id = " + std::to_string(bc_) +
                    " AND channel_id <= " + std::to_string(after_two)),
            "20");
  EXPECT_FALSE(b4_runner_.step());  // a holds the lease: b writes nothing, not even ahead
  EXPECT_EQ(b4_tx_.rows_added, 0);
  EXPECT_TRUE(a4_runner_.step());  // chunk 5 (3 and 4 skipped), the last
  EXPECT_EQ(a4_tx_.rows_added, 45);
  EXPECT_EQ(a4_tx_.rows_ahead, 20);
  const auto b = backend_.broadcast_reads().get(bc_);
  EXPECT_TRUE(b->snapshot_done);
  EXPECT_EQ(ledger_rows(), "45");
  send_all(1000);
  for (int i = 0; i < 10 && a4_runner_.step(); ++i) {
  }
  EXPECT_EQ(status(), "completed");
  EXPECT_EQ(a4_tx_.completions, 1);
}

// Both runners at once, each with four connections, stepping as fast as
// they can: every recipient enters the ledger once, the broadcast completes once.
TEST_F(PgRunnersAhead, TwoRunnersWritingAheadAtOnceSnapshotOnceAndCompleteOnce) {
  std::atomic<bool> done{false};
  auto run = [&](BroadcastRunner& r) {
    while (!done) r.step();
  };
  std::thread ta([&] { run(a4_runner_); }), tb([&] { run(b4_runner_); });
  const bool snapshotted = testing::wait_for([&] { return ledger_rows() == "45"; });
  if (snapshotted) send_all(1000);
  const bool completed = testing::wait_for([&] { return status() == "completed"; });
  done = true;
  ta.join();
  tb.join();
  ASSERT_TRUE(snapshotted);
  ASSERT_TRUE(completed);
  EXPECT_EQ(a4_tx_.rows_added + b4_tx_.rows_added, kRecipients);
  EXPECT_GT(a4_tx_.rows_ahead + b4_tx_.rows_ahead, 0);
  EXPECT_EQ(a4_tx_.completions + b4_tx_.completions, 1);
  EXPECT_EQ(ledger_rows(), "45");
}

}  // namespace
}  // namespace sc::contract
